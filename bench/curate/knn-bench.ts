/**
 * kNN graph + union-find components over clustered synthetic 256-d vectors: build time, recall@k of the
 * approximate (HNSW, usearch) graph against exact search on a sample of rows, and peak RSS.
 * Run: npx tsx bench/curate/knn-bench.ts [n=100000] [k=10] [sample=500]
 * Goal (issue 5): 1M vectors in ≤ 10 min with recall ≥ 0.95 and peak RSS ≤ 4 GB on 2 cores.
 */
import os from 'node:os';
import { mulberry32 } from '../../main/common/random.js';
import { approximateKnn, knnEdges, type KnnGraph } from '../../main/curate/knn.js';
import { UnionFind } from '../../main/curate/union-find.js';

const n = Number(process.argv[2] ?? 100_000);
const k = Number(process.argv[3] ?? 10);
const sample = Number(process.argv[4] ?? 500);
const dim = 256;
const clusters = Math.max(10, Math.round(Math.sqrt(n)));
const rand = mulberry32(42);
const gauss = () => Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand());

const t0 = performance.now();
const centres = new Float32Array(clusters * dim);
for (let i = 0; i < centres.length; i++) centres[i] = gauss();
const data = new Float32Array(n * dim);
for (let i = 0; i < n; i++) {
  const c = Math.floor(rand() * clusters);
  let ss = 0;
  for (let d = 0; d < dim; d++) {
    const v = centres[c * dim + d]! + 0.6 * gauss();
    data[i * dim + d] = v;
    ss += v * v;
  }
  const s = 1 / Math.sqrt(ss);
  for (let d = 0; d < dim; d++) data[i * dim + d]! *= s;
}
const genSeconds = (performance.now() - t0) / 1000;

const t1 = performance.now();
const graph = approximateKnn(data, dim, { k });
const knnSeconds = (performance.now() - t1) / 1000;

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

function topK(values: Float32Array, kk: number): number[] {
  const idx: number[] = [];
  for (let j = 0; j < values.length; j++) {
    if (idx.length < kk) {
      idx.push(j);
      idx.sort((a, b) => values[b]! - values[a]!);
    } else if (values[j]! > values[idx[kk - 1]!]!) {
      idx[kk - 1] = j;
      idx.sort((a, b) => values[b]! - values[a]!);
    }
  }
  return idx;
}

const result = {
  n,
  dim,
  k,
  clusters,
  cores: os.availableParallelism(),
  generateSeconds: Number(genSeconds.toFixed(1)),
  knnSeconds: Number(knnSeconds.toFixed(1)),
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
