/**
 * kNN graph + union-find components over clustered synthetic 256-d vectors: build time, recall@k of the
 * approximate (HNSW, usearch) graph against exact search on a sample of rows, and peak RSS.
 * Run: npx tsx bench/curate/knn-bench.ts [n=100000] [k=10] [sample=500] [--connectivity M] [--expansion-add A]
 *      [--expansion-search S] [--threads T]   (the index options default to approximateKnn's own)
 * Goal (issue 5): 1M vectors in ≤ 10 min with recall ≥ 0.95 and peak RSS ≤ 4 GB on 2 cores.
 */
import os from 'node:os';
import { mulberry32 } from '../../main/common/random.js';
import { approximateKnn, knnEdges, type KnnGraph } from '../../main/curate/knn.js';
import { UnionFind } from '../../main/curate/union-find.js';
import { topK } from '../lib.js';

const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
const flag = (name: string): number | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : undefined;
};
const n = Number(positional[0] ?? 100_000);
const k = Number(positional[1] ?? 10);
const sample = Number(positional[2] ?? 500);
const indexOptions = {
  ...(flag('connectivity') !== undefined ? { connectivity: flag('connectivity')! } : {}),
  ...(flag('expansion-add') !== undefined ? { expansionAdd: flag('expansion-add')! } : {}),
  ...(flag('expansion-search') !== undefined ? { expansionSearch: flag('expansion-search')! } : {}),
  ...(flag('threads') !== undefined ? { threads: flag('threads')! } : {}),
  ...(process.argv.includes('--quantization') ? { quantization: process.argv[process.argv.indexOf('--quantization') + 1] as 'f32' | 'f16' | 'i8' } : {}),
};
const dim = 256;
const clusters = Math.max(10, Math.round(Math.sqrt(n)));
const rand = mulberry32(42);
const gauss = () => Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand());

const loadStart = os.loadavg().map((l) => Number(l.toFixed(2)));
const t0 = performance.now();
// Two kinds of clusters (--intrinsic D picks the second):
// - isotropic (default): centre + 0.6·N(0, I) in all 256 dimensions. Within a cluster every point is about as far
//   from every other, so the true 10 nearest are barely nearer than the rest: the hard case for a graph index;
// - low intrinsic dimension: centre + a random D-dimensional subspace of the cluster (0.6·N(0, I_D) through a random
//   256×D basis) + 0.05·N(0, I) noise, which is closer to how image embeddings sit (on a low-dimensional manifold).
const intrinsic = flag('intrinsic');
const centres = new Float32Array(clusters * dim);
for (let i = 0; i < centres.length; i++) centres[i] = gauss();
const bases = intrinsic ? new Float32Array(clusters * dim * intrinsic) : null;
if (bases) for (let i = 0; i < bases.length; i++) bases[i] = gauss() / Math.sqrt(intrinsic!);
const data = new Float32Array(n * dim);
const z = new Float32Array(intrinsic ?? 0);
for (let i = 0; i < n; i++) {
  const c = Math.floor(rand() * clusters);
  for (let j = 0; j < z.length; j++) z[j] = gauss();
  let ss = 0;
  for (let d = 0; d < dim; d++) {
    let v = centres[c * dim + d]!;
    if (bases) {
      const b = (c * dim + d) * intrinsic!;
      let p = 0;
      for (let j = 0; j < intrinsic!; j++) p += bases[b + j]! * z[j]!;
      v += 0.6 * p + 0.05 * gauss(); // p has unit variance per dimension (basis entries N(0, 1/D))
    } else v += 0.6 * gauss();
    data[i * dim + d] = v;
    ss += v * v;
  }
  const s = 1 / Math.sqrt(ss);
  for (let d = 0; d < dim; d++) data[i * dim + d]! *= s;
}
const genSeconds = (performance.now() - t0) / 1000;

const t1 = performance.now();
const cpu1 = process.cpuUsage();
let addedAt = t1;
// approximateKnn reports n/2 when every vector is in the index, then counts the searches on to n
const graph = approximateKnn(data, dim, { k, ...indexOptions, onProgress: (done) => { if (done <= n / 2) addedAt = performance.now(); } });
const knnSeconds = (performance.now() - t1) / 1000;
const knnCpu = process.cpuUsage(cpu1);

const t2 = performance.now();
const threshold = 0.9;
const uf = new UnionFind(n);
const edges = knnEdges(graph, threshold);
for (const e of edges) uf.union(e.i, e.j);
const comps = uf.components(2);
const ufSeconds = (performance.now() - t2) / 1000;

// Exact neighbours of a sample of rows, by brute force against all n.
const t3 = performance.now();
const rows = Array.from({ length: Math.min(sample, n) }, () => Math.floor(rand() * n));
let hit = 0;
let total = 0;
const sims = new Float32Array(n);
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
const exactSampleSeconds = (performance.now() - t3) / 1000;

const result = {
  n,
  dim,
  k,
  clusters,
  cores: os.availableParallelism(),
  generateSeconds: Number(genSeconds.toFixed(1)),
  data: intrinsic ? `clusters of intrinsic dimension ${intrinsic} (+0.05 noise)` : 'isotropic clusters (0.6 noise)',
  indexOptions,
  knnSeconds: Number(knnSeconds.toFixed(1)),
  addSeconds: Number(((addedAt - t1) / 1000).toFixed(1)),
  searchSeconds: Number((knnSeconds - (addedAt - t1) / 1000).toFixed(1)),
  knnCpuSeconds: Number(((knnCpu.user + knnCpu.system) / 1e6).toFixed(1)),
  loadAverageStart: loadStart,
  loadAverageEnd: os.loadavg().map((l) => Number(l.toFixed(2))),
  componentsSeconds: Number(ufSeconds.toFixed(2)),
  edgesAtThreshold: edges.length,
  threshold,
  components: comps.length,
  recallAtK: Number((hit / total).toFixed(4)),
  recallSampleRows: rows.length,
  exactSampleSeconds: Number(exactSampleSeconds.toFixed(1)),
  peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
};
console.log(JSON.stringify(result));
void (graph satisfies KnnGraph);
