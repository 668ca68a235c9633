/**
 * The Curation map's UMAP layout (main/curate/umap.ts) on clustered synthetic 256-d vectors (50 Gaussian clusters):
 * seconds for the kNN graph and for the SGD layout, and the share of a sample of points whose 2-D nearest neighbour is
 * from their own cluster. CPU seconds are printed beside wall
 * seconds, since on a shared machine the wall time mostly measures the other processes.
 * Run: npx tsx bench/curate/umap-bench.ts [n=10000] [knn=auto|exact|approximate] [epochs=default]
 */
import os from 'node:os';
import { mulberry32 } from '../../main/common/random.js';
import { knnGraph, type KnnMethod } from '../../main/curate/knn.js';
import { UMAP_DEFAULT_NEIGHBORS, UMAP_EXACT_KNN_LIMIT, umap } from '../../main/curate/umap.js';

const n = Number(process.argv[2] ?? 10_000);
const knnArg = (process.argv[3] ?? 'auto') as KnnMethod;
const epochs = process.argv[4] ? Number(process.argv[4]) : undefined;
const dim = 256;
const clusters = 50;
const rand = mulberry32(42);
const gauss = () => Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand());
const centres = new Float32Array(clusters * dim);
for (let i = 0; i < centres.length; i++) centres[i] = gauss();
const data = new Float32Array(n * dim);
const labels = new Int32Array(n);
for (let i = 0; i < n; i++) {
  const c = Math.floor(rand() * clusters);
  labels[i] = c;
  for (let d = 0; d < dim; d++) data[i * dim + d] = centres[c * dim + d]! + 1.2 * gauss();
}
for (let o = 0; o < data.length; o += dim) {
  let s = 0;
  for (let d = 0; d < dim; d++) s += data[o + d]! ** 2;
  for (let d = 0; d < dim; d++) data[o + d]! /= Math.sqrt(s);
}

const method: KnnMethod = knnArg === 'auto' ? (n <= UMAP_EXACT_KNN_LIMIT ? 'exact' : 'approximate') : knnArg;
const load = os.loadavg()[0]!.toFixed(2);
let t = performance.now();
let cpu = process.cpuUsage();
const cpuSeconds = () => {
  const used = process.cpuUsage(cpu);
  cpu = process.cpuUsage();
  return Number(((used.user + used.system) / 1e6).toFixed(2));
};
const graph = knnGraph(data, dim, { k: UMAP_DEFAULT_NEIGHBORS, method });
const knnSeconds = (performance.now() - t) / 1000;
const knnCpuSeconds = cpuSeconds();
t = performance.now();
const layout = await umap(data, dim, { graph, epochs, seed: 1 });
const layoutSeconds = (performance.now() - t) / 1000;
const layoutCpuSeconds = cpuSeconds();

// 2-D nearest neighbour of a sample of points, by brute force.
let same = 0;
const sample = Math.min(n, 1000);
for (let s = 0; s < sample; s++) {
  const i = Math.floor((s * n) / sample);
  let best = -1;
  let bd = Infinity;
  for (let j = 0; j < n; j++) {
    if (j === i) continue;
    const d = (layout.coords[2 * i]! - layout.coords[2 * j]!) ** 2 + (layout.coords[2 * i + 1]! - layout.coords[2 * j + 1]!) ** 2;
    if (d < bd) [bd, best] = [d, j];
  }
  if (labels[best] === labels[i]) same++;
}
console.log(
  JSON.stringify({
    n,
    dim,
    knn: method,
    k: layout.k,
    epochs: layout.epochs,
    edges: layout.edges,
    knnSeconds: Number(knnSeconds.toFixed(2)),
    layoutSeconds: Number(layoutSeconds.toFixed(2)),
    // CPU seconds (all threads): less swayed by other processes than wall time on a loaded machine
    knnCpuSeconds,
    layoutCpuSeconds,
    nearestSameCluster2d: same / sample,
    finite: layout.coords.every(Number.isFinite),
    loadBefore: load,
    loadAfter: os.loadavg()[0]!.toFixed(2),
    rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
  }),
);
