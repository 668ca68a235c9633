// Feature extraction for the linear probe and kNN (issue 4's goal text: 50,000 CIFAR-10 images with ResNet-18 and the
// small CNN, on 2 cores). Times the whole thing as evaluation does it, from JPEG files to a feature matrix, through
// main/evaluate/extract.ts extractFeatures (decode by the resize rule on sharp's threads, prefetching the next batch,
// batched inference, the feature cache written at the end), with the runtime choice of main/evaluate/encoder-runtime.ts:
// - onnx: runtime 'auto', what `curio eval` and the Reports page get; the bench fails if that did not pick ONNX
//   Runtime (the encoder exported by main/onnx and run by onnxruntime-node on the CPU, --threads intra-op threads);
// - tfjs: runtime 'tfjs', the encoder on the tfjs backend initBackend picks (or --backend), the fallback's speed.
// The encoders are random-init (the report's baseline): the weights do not change the time. Building the encoder
// (the random init, the ONNX graph, the ORT session) is inside the timed part, as it is for a user. Nothing is
// extrapolated: each row says how many images it measured. The images are the first --limit of the train split,
// classes interleaved.
// Options: --limit 50000 --backbones small,resnet18 --paths tfjs,onnx --backend auto --batch 64 --threads 2
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DatasetImage } from '../../main/catalog/catalog.js';
import type { JobContext } from '../../main/common/jobs.js';
import { type BackendPreference, currentBackend, parseBackendPreference } from '../../main/compute/index.js';
import { ensureBackend, type ExtractionRuntime, extractFeatures, randomEncoder } from '../../main/evaluate/extract.js';
import { cifarArchive, extractCifar, report, tempDir, type Figure } from '../lib.js';

const argText = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const limit = Number(argText('limit', '50000'));
const backbones = argText('backbones', 'small,resnet18').split(',').filter(Boolean);
const paths = argText('paths', 'tfjs,onnx').split(',').filter(Boolean);
const backend: BackendPreference = parseBackendPreference(argText('backend', 'auto'));
const batch = Number(argText('batch', '64'));
const threads = Number(argText('threads', String(Math.min(2, os.availableParallelism()))));
const SIZE = 32; // CIFAR-10's size: the encoders run at the data's own resolution
if (!(limit >= 1) || !(batch >= 1) || paths.some((p) => p !== 'tfjs' && p !== 'onnx')) {
  process.stderr.write('usage: extract.bench.ts [--limit N] [--backbones small,resnet18] [--paths tfjs,onnx] [--backend auto] [--batch 64] [--threads 2]\n');
  process.exit(2);
}

const work = tempDir('curio-bench-extract-');
process.stderr.write(`[bench] extracting ${cifarArchive} into ${work}…\n`);
const t0 = performance.now();
const train = extractCifar(work);
if (!train) {
  process.stderr.write(`[bench] skipped: ${cifarArchive} is absent (the CIFAR-10 train split as train/<class>/NNNN.jpg)\n`);
  fs.rmSync(work, { recursive: true, force: true });
  process.exit(0);
}
const untarSeconds = (performance.now() - t0) / 1000;

/** Classes interleaved (class 0 image 0, class 1 image 0, …), so any prefix is class-balanced. */
function listImages(root: string, count: number): DatasetImage[] {
  const classes = fs.readdirSync(root).filter((c) => fs.statSync(path.join(root, c)).isDirectory()).sort();
  const files = classes.map((c) => fs.readdirSync(path.join(root, c)).filter((f) => f.endsWith('.jpg')).sort().map((f) => path.join(root, c, f)));
  const out: DatasetImage[] = [];
  for (let i = 0; out.length < count && files.some((f) => i < f.length); i++) {
    for (let c = 0; c < files.length && out.length < count; c++) {
      const file = files[c]![i];
      if (file) out.push({ id: out.length + 1, path: file, label: classes[c]!, sha256: null, phash: null, width: 32, height: 32, bytes: null });
    }
  }
  return out;
}

const images = listImages(train, limit);
if (images.length < limit) process.stderr.write(`[bench] the archive holds ${images.length} images; measuring those\n`);
const n = images.length;

function progressContext(label: string): JobContext {
  const controller = new AbortController();
  let last = 0;
  const start = performance.now();
  return {
    jobId: 'bench',
    signal: controller.signal,
    throwIfCancelled() {},
    setPhase() {},
    setTotal() {},
    progress(done) {
      const now = performance.now();
      if (now - last < 15_000 && done < n) return;
      last = now;
      process.stderr.write(`  ${label}: ${done}/${n} (${(done / ((now - start) / 1000)).toFixed(1)} img/s, load ${os.loadavg()[0]!.toFixed(1)})\n`);
    },
  };
}

interface Measured {
  seconds: number;
  cpuSeconds: number;
  features: Float32Array;
  dim: number;
  runtime: ExtractionRuntime | null;
}

async function timed(run: () => Promise<Omit<Measured, 'seconds' | 'cpuSeconds'>>): Promise<Measured> {
  const c0 = process.cpuUsage();
  const start = performance.now();
  const r = await run();
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(c0);
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, ...r };
}

const figures: Figure[] = [];
const runs: Record<string, unknown>[] = [];
const loadBefore = os.loadavg()[0]!;
await ensureBackend(backend);
const chosen = currentBackend()!;
process.stderr.write(`[bench] tfjs backend: ${chosen.backend} (${chosen.reason}); ${n} images, batch ${batch}\n`);

for (const name of backbones) {
  const encoder = randomEncoder(name, SIZE, 0);
  const results: Partial<Record<'tfjs' | 'onnx', Measured>> = {};
  for (const which of paths) {
    const label = `${name} ${which}`;
    const loadStart = os.loadavg()[0]!;
    const cacheDir = path.join(work, `features-${name}-${which}`);
    const m = await timed(async () => {
      const r = await extractFeatures({
        encoder,
        images,
        datasetId: 1,
        cacheDir,
        ctx: progressContext(label),
        batchSize: batch,
        ...(which === 'tfjs' ? { runtime: 'tfjs' as const, backend } : { threads }),
      });
      if (r.cached) throw new Error('bench: the feature cache was hit; it must start empty');
      return { features: r.features.data, dim: r.features.dim, runtime: r.runtime };
    });
    fs.rmSync(cacheDir, { recursive: true, force: true });
    if (which === 'onnx' && m.runtime?.runtime !== 'onnxruntime') {
      throw new Error(`bench: evaluation ran ${name} on ${m.runtime?.runtime ?? 'nothing recorded'}, not ONNX Runtime: ${m.runtime?.fallback ?? ''}`);
    }
    results[which as 'tfjs' | 'onnx'] = m;
    const how = which === 'tfjs' ? `tfjs ${chosen.backend}` : `evaluation's default (ONNX Runtime CPU, ${threads} threads)`;
    const figure = `${name} ${SIZE} px, ${n} CIFAR-10 JPEGs, ${how}`;
    figures.push(
      { bench: 'eval', figure: `${figure}, img/s`, value: +(n / m.seconds).toFixed(1), unit: 'img/s' },
      { bench: 'eval', figure: `${figure}, total`, value: +m.seconds.toFixed(1), unit: 's' },
      { bench: 'eval', figure: `${figure}, img per CPU-second`, value: +(n / m.cpuSeconds).toFixed(1), unit: 'img/CPU-s' },
    );
    runs.push({ backbone: name, path: which, runtime: m.runtime, images: n, seconds: m.seconds, cpuSeconds: m.cpuSeconds, dim: m.dim, loadStart, loadEnd: os.loadavg()[0] });
  }
  // Both paths ran the same weights on the same decoded images: their features should agree to float precision.
  if (results.tfjs && results.onnx) {
    let maxAbs = 0;
    let scale = 0;
    const a = results.tfjs.features;
    const b = results.onnx.features;
    for (let i = 0; i < a.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(a[i]! - b[i]!));
      scale = Math.max(scale, Math.abs(a[i]!));
    }
    figures.push({ bench: 'eval', figure: `${name}: max |tfjs − ONNX| feature difference (max |feature| ${scale.toPrecision(3)})`, value: +(maxAbs * 1e6).toPrecision(3), unit: '× 1e-6' });
  }
}

report('eval-extract', figures, {
  images: n,
  limit,
  batch,
  threads,
  imageSize: SIZE,
  tfjsBackend: chosen.backend,
  tfjsBackendReason: chosen.reason,
  untarSeconds,
  loadBefore,
  loadAfter: os.loadavg()[0],
  runs,
});
fs.rmSync(work, { recursive: true, force: true });
