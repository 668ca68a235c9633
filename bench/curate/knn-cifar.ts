/**
 * kNN graph + union-find components over real embeddings: the 50,000 CIFAR-10 training JPEGs (../shared) embedded
 * with the built-in descriptor and with the `small` CNN (random init, seed 3: no trained run is needed, and a run
 * would change only the vectors, not what the graph costs), both through the app's own path (resolveEncoder +
 * embedImages: the descriptor, and the small net's ONNX graph on ONNX Runtime), as a curation job embeds them.
 * The sibling of knn-bench.ts, which measures clustered synthetic vectors; the figures mean the same here:
 * approximateKnn time (add/search split, CPU seconds), recall@k against brute force on a sample of rows, peak RSS,
 * and components at the shipped cosine threshold (DEDUP_DEFAULTS.cosine, which only proposes pairs for the pixel
 * check) and at 0.9 and 0.99 (--thresholds).
 *
 * Vectors are cached in the temp folder (curio-knn-cifar-<encoder>-<n>.f32 + .json), so a second run skips the
 * embedding (and the extraction) and its peak RSS is the kNN's own; delete the files to embed again.
 * Run: npx tsx bench/curate/knn-cifar.ts [--encoders builtin,small] [--limit N] [--k 10] [--sample 500] [--threads T]
 *      [--thresholds 0.9,0.99]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Catalog, type DatasetImage } from '../../main/catalog/catalog.js';
import type { JobContext } from '../../main/common/jobs.js';
import { mulberry32 } from '../../main/common/random.js';
import { initBackend } from '../../main/compute/backend.js';
import { embedImages } from '../../main/curate/embeddings.js';
import { resolveEncoder } from '../../main/curate/encoders.js';
import { approximateKnn, knnEdges } from '../../main/curate/knn.js';
import { UnionFind } from '../../main/curate/union-find.js';
import { encoderToOnnx } from '../../main/onnx/encoder.js';
import { createBackbone } from '../../main/train/models/index.js';
import { DEDUP_DEFAULTS } from '../../shared/contract/curate.js';
import { cifarArchive, extractCifar, flagValue, tempDir, topK } from '../lib.js';

const arg = flagValue;
const encoders = arg('encoders', 'builtin,small').split(',');
const limit = Number(arg('limit', '50000'));
const k = Number(arg('k', '10'));
const sample = Number(arg('sample', '500'));
const threads = Number(arg('threads', String(os.availableParallelism())));
/** thresholds to count components at besides the shipped one */
const extraThresholds = arg('thresholds', '0.9,0.99').split(',').map(Number);
const SIZE = 32;
const load = () => os.loadavg().map((l) => Number(l.toFixed(2)));
const rssMB = () => Math.round(process.memoryUsage().rss / 2 ** 20);
const peakRssMB = () => Math.round(process.resourceUsage().maxRSS / 1024);
const cpuSeconds = (c: NodeJS.CpuUsage) => Number(((c.user + c.system) / 1e6).toFixed(1));

interface Cached {
  dim: number;
  n: number;
  encoder: string;
  runtime: string;
  embedSeconds: number;
  embedCpuSeconds: number;
  embedLoad: string;
  failed: number;
}

const cacheBase = (name: string) => path.join(os.tmpdir(), `curio-knn-cifar-${name}-${limit}`);

function readCache(name: string): { meta: Cached; data: Float32Array } | null {
  const base = cacheBase(name);
  if (!fs.existsSync(`${base}.json`) || !fs.existsSync(`${base}.f32`)) return null;
  const meta = JSON.parse(fs.readFileSync(`${base}.json`, 'utf8')) as Cached;
  const bytes = fs.readFileSync(`${base}.f32`);
  if (bytes.length !== meta.n * meta.dim * 4) return null;
  return { meta, data: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4) };
}

/** The CIFAR paths in a fixed order (class folders and file names sorted), the first `limit`, spread over classes. */
function cifarPaths(root: string): string[] {
  const classes = fs.readdirSync(root).sort();
  const perClass = classes.map((c) => fs.readdirSync(path.join(root, c)).sort().map((f) => path.join(root, c, f)));
  const all: string[] = [];
  for (let i = 0; all.length < limit; i++) {
    const p = perClass[i % classes.length]![Math.floor(i / classes.length)];
    if (p === undefined) break;
    all.push(p);
  }
  return all;
}

async function embedAll(names: string[]): Promise<void> {
  const work = tempDir('curio-knn-cifar-');
  try {
    process.stderr.write(`[knn-cifar] extracting ${cifarArchive}…\n`);
    const root = extractCifar(work)!;
    const paths = cifarPaths(root);
    await initBackend({ prefer: 'auto', skipTrainCheck: true });
    const catalog = Catalog.open(':memory:');
    // sha256 null: embedImages keeps nothing in the catalog, so every run computes every vector
    const images: DatasetImage[] = paths.map((p, i) => ({ id: i + 1, path: p, label: null, sha256: null, phash: null, width: null, height: null, bytes: null }));
    const controller = new AbortController();
    let last = 0;
    const ctx: JobContext = {
      jobId: 'bench',
      signal: controller.signal,
      throwIfCancelled: () => controller.signal.throwIfAborted(),
      setPhase: () => undefined,
      setTotal: () => undefined,
      progress: (done) => {
        if (done - last >= 5000) process.stderr.write(`[knn-cifar]   ${(last = done)} / ${paths.length}\n`);
      },
    };
    for (const name of names) {
      let spec = 'builtin';
      if (name !== 'builtin') {
        const model = createBackbone(name, { imageSize: SIZE, seed: 3 });
        spec = path.join(work, `${name}.onnx`);
        fs.writeFileSync(spec, encoderToOnnx({ backbone: name, imageSize: SIZE, tensors: await model.getState() }));
        model.dispose();
      }
      const encoder = await resolveEncoder(catalog, spec, { threads });
      process.stderr.write(`[knn-cifar] embedding ${paths.length} images with ${name} (${encoder.runtime})…\n`);
      const l0 = load()[0];
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      last = 0;
      try {
        const res = await embedImages(catalog, images, ctx, { encoder });
        const meta: Cached = {
          dim: res.dim,
          n: paths.length,
          encoder: name === 'builtin' ? 'built-in descriptor' : `${name} CNN, random init (seed 3), ${SIZE} px`,
          runtime: res.encoder.runtime,
          embedSeconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
          embedCpuSeconds: cpuSeconds(process.cpuUsage(c0)),
          embedLoad: `${l0} → ${load()[0]}`,
          failed: res.failed.length,
        };
        fs.writeFileSync(`${cacheBase(name)}.f32`, new Uint8Array(res.vectors.buffer, res.vectors.byteOffset, res.vectors.byteLength));
        fs.writeFileSync(`${cacheBase(name)}.json`, JSON.stringify(meta));
      } finally {
        await encoder.close();
      }
    }
    catalog.close();
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function componentsAt(graph: ReturnType<typeof approximateKnn>, threshold: number) {
  const t = performance.now();
  const uf = new UnionFind(graph.n);
  const edges = knnEdges(graph, threshold);
  for (const e of edges) uf.union(e.i, e.j);
  const comps = uf.components(2);
  return {
    threshold,
    edges: edges.length,
    components: comps.length,
    imagesInComponents: comps.reduce((s, c) => s + c.length, 0),
    largestComponent: comps.reduce((m, c) => Math.max(m, c.length), 0),
    seconds: Number(((performance.now() - t) / 1000).toFixed(2)),
  };
}

const missing = encoders.filter((name) => !readCache(name));
if (missing.length > 0) {
  if (!fs.existsSync(cifarArchive)) {
    process.stderr.write(`skipped: ${cifarArchive} is absent\n`);
    process.exit(0);
  }
  await embedAll(missing);
}

for (const name of encoders) {
  const { meta, data } = readCache(name)!;
  const { n, dim } = meta;
  const rssBefore = rssMB();
  const l0 = load();
  const t1 = performance.now();
  const c1 = process.cpuUsage();
  let addedAt = t1;
  const graph = approximateKnn(data, dim, { k, threads, onProgress: (done) => void (done <= n / 2 && (addedAt = performance.now())) });
  const knnSeconds = (performance.now() - t1) / 1000;
  const knnCpu = process.cpuUsage(c1);
  const rssAfterKnn = rssMB();
  const thresholds = [...new Set([DEDUP_DEFAULTS.cosine, ...extraThresholds])].map((t) => componentsAt(graph, t));

  const rand = mulberry32(42);
  const rows = Array.from({ length: Math.min(sample, n) }, () => Math.floor(rand() * n));
  const t3 = performance.now();
  const sims = new Float32Array(n);
  let hit = 0;
  let total = 0;
  for (const q of rows) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += data[q * dim + d]! * data[j * dim + d]!;
      sims[j] = j === q ? -Infinity : s;
    }
    const truth = new Set(topK(sims, k));
    for (let r = 0; r < graph.k; r++) if (truth.has(graph.indices[q * graph.k + r]!)) hit++;
    total += truth.size;
  }
  console.log(
    JSON.stringify({
      data: `CIFAR-10 train JPEGs, ${meta.encoder} on ${meta.runtime}`,
      n,
      dim,
      k,
      cores: os.availableParallelism(),
      threads,
      // when the vectors came from the cache, these are the figures of the run that embedded them
      embedding: { seconds: meta.embedSeconds, cpuSeconds: meta.embedCpuSeconds, load: meta.embedLoad, failed: meta.failed, thisRun: missing.includes(name) },
      knnSeconds: Number(knnSeconds.toFixed(1)),
      addSeconds: Number(((addedAt - t1) / 1000).toFixed(1)),
      searchSeconds: Number((knnSeconds - (addedAt - t1) / 1000).toFixed(1)),
      knnCpuSeconds: cpuSeconds(knnCpu),
      loadAverageStart: l0,
      loadAverageEnd: load(),
      recallAtK: Number((hit / total).toFixed(4)),
      recallSampleRows: rows.length,
      exactSampleSeconds: Number(((performance.now() - t3) / 1000).toFixed(1)),
      components: thresholds,
      rssBeforeKnnMB: rssBefore,
      rssAfterKnnMB: rssAfterKnn,
      peakRssMB: peakRssMB(),
    }),
  );
}
