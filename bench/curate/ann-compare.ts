/**
 * Which approximate-kNN library builds Curio's kNN graph: the candidates issue 5 names, on the same data, the same
 * graph parameters (M 16, efConstruction 128, efSearch 64) and the core count, in one run. For each: whether it
 * installs offline here, index build seconds, seconds to search every row for its k + 1 nearest, recall@k against
 * brute force on a sample of rows, and peak RSS growth.
 *
 *   npx tsx bench/curate/ann-compare.ts [--n 100000] [--k 10] [--sample 200] [--queries N (lancedb: rows searched)]
 *
 * Only usearch is a dependency. The others load from CURIO_ANN_MODULES (a folder whose node_modules holds them), e.g.
 *   mkdir /tmp/ann && cd /tmp/ann && npm init -y && npm i hnswlib-node @lancedb/lancedb@0.31.0 faiss-node
 *   (cd node_modules/hnswlib-node && npx node-gyp rebuild)   # npm 11 skips its unapproved install script
 *   CURIO_ANN_MODULES=/tmp/ann npx tsx bench/curate/ann-compare.ts
 * and are reported as "not installed" with the loader's message otherwise.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { mulberry32 } from '../../main/common/random.js';
import { loadUsearch } from '../../main/curate/knn.js';
import { flagValue, tempDir, topK } from '../lib.js';

const n = Number(flagValue('n', '100000'));
const k = Number(flagValue('k', '10'));
const sample = Number(flagValue('sample', '200'));
const dim = 256;
const M = 16;
const efC = 128;
const efS = 64;
const threads = os.availableParallelism();
const load = () => os.loadavg().map((l) => Number(l.toFixed(2)));
const log = (s: string) => process.stderr.write(`[ann-compare] ${s}\n`);

// clusters of intrinsic dimension 16 (+0.05 noise), as bench/curate/knn-bench.ts --intrinsic 16
const rand = mulberry32(42);
const gauss = () => Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand());
const clusters = Math.max(10, Math.round(Math.sqrt(n)));
const D = 16;
const centres = Float32Array.from({ length: clusters * dim }, gauss);
const bases = Float32Array.from({ length: clusters * dim * D }, () => gauss() / Math.sqrt(D));
const data = new Float32Array(n * dim);
const z = new Float32Array(D);
for (let i = 0; i < n; i++) {
  const c = Math.floor(rand() * clusters);
  for (let j = 0; j < D; j++) z[j] = gauss();
  let ss = 0;
  for (let d = 0; d < dim; d++) {
    let p = 0;
    for (let j = 0; j < D; j++) p += bases[(c * dim + d) * D + j]! * z[j]!;
    const v = centres[c * dim + d]! + 0.6 * p + 0.05 * gauss();
    data[i * dim + d] = v;
    ss += v * v;
  }
  for (let d = 0; d < dim; d++) data[i * dim + d]! /= Math.sqrt(ss);
}
const rows = Array.from({ length: sample }, () => Math.floor(rand() * n));
const truth = rows.map((q) => {
  const sims = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += data[q * dim + d]! * data[j * dim + d]!;
    sims[j] = j === q ? -Infinity : s;
  }
  return new Set(topK(sims, k));
});
const vec = (i: number) => data.subarray(i * dim, (i + 1) * dim);

interface Outcome {
  library: string;
  installed: boolean;
  note?: string;
  buildSeconds?: number;
  searchSeconds?: number;
  searchedRows?: number;
  /** search seconds scaled to all n rows where fewer were searched */
  allRowsSearchSeconds?: number;
  recallAtK?: number;
  rssGrowthMB?: number;
  load?: number[];
}

/** neighbours of row q, best first, self dropped */
type Search = (q: number) => Promise<number[]> | number[];

async function measure(library: string, build: () => Promise<{ search: Search; batch?: (rows: number[]) => Map<number, number[]> }>, searchRows: number[]): Promise<Outcome> {
  const rss0 = process.memoryUsage().rss;
  let t = performance.now();
  let built;
  try {
    built = await build();
  } catch (err) {
    return { library, installed: false, note: (err as Error).message.split('\n')[0] };
  }
  const buildSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const found = new Map<number, number[]>();
  if (built.batch) for (const [q, ids] of built.batch(searchRows)) found.set(q, ids);
  else for (const q of searchRows) found.set(q, await built.search(q));
  const searchSeconds = (performance.now() - t) / 1000;
  let hit = 0;
  rows.forEach((q, i) => {
    for (const id of (found.get(q) ?? []).slice(0, k)) if (truth[i]!.has(id)) hit++;
  });
  return {
    library,
    installed: true,
    buildSeconds: Number(buildSeconds.toFixed(1)),
    searchSeconds: Number(searchSeconds.toFixed(1)),
    searchedRows: searchRows.length,
    allRowsSearchSeconds: Number(((searchSeconds * n) / searchRows.length).toFixed(1)),
    recallAtK: Number((hit / (rows.length * k)).toFixed(4)),
    rssGrowthMB: Math.round((process.memoryUsage().rss - rss0) / 2 ** 20),
    load: load(),
  };
}

/** the part of @lancedb/lancedb's API used here (it is not a dependency, so its types are not at hand) */
interface LanceDb {
  connect(dir: string): Promise<{ createTable(name: string, rows: Record<string, unknown>[]): Promise<LanceTable> }>;
  Index: { hnswSq(o: { distanceType: 'cosine'; m: number; efConstruction: number; numPartitions: number }): unknown };
}
interface LanceTable {
  createIndex(column: string, o: { config: unknown }): Promise<void>;
  query(): { nearestTo(v: number[]): LanceQuery };
}
interface LanceQuery {
  distanceType(d: 'cosine'): LanceQuery;
  ef(ef: number): LanceQuery;
  limit(n: number): LanceQuery;
  select(cols: string[]): LanceQuery;
  toArray(): Promise<{ id: number }[]>;
}

const extra = process.env.CURIO_ANN_MODULES;
const requireExtra = createRequire(extra ? path.join(path.resolve(extra), 'package.json') : import.meta.url);
const allRows = Array.from({ length: n }, (_, i) => i);
const outcomes: Outcome[] = [];

for (const quantization of ['f32', 'f16'] as const) {
  outcomes.push(
    await measure(`usearch (${quantization})`, async () => {
      const { Index } = loadUsearch();
      const index = new Index({ dimensions: dim, metric: 'ip', quantization, connectivity: M, expansion_add: efC, expansion_search: efS, multi: false });
      index.add(BigUint64Array.from(allRows, BigInt), data, threads);
      return {
        search: () => [],
        batch: (qs) => {
          const res = index.search(data, k + 1, threads);
          const out = new Map<number, number[]>();
          for (const q of qs) out.set(q, Array.from(res.keys.subarray(q * (k + 1), (q + 1) * (k + 1)), Number).filter((id) => id !== q));
          return out;
        },
      };
    }, allRows),
  );
  log(JSON.stringify(outcomes.at(-1)));
}

outcomes.push(
  await measure('hnswlib-node', async () => {
    const { HierarchicalNSW } = requireExtra('hnswlib-node') as { HierarchicalNSW: new (space: string, dim: number) => {
      initIndex(max: number, m: number, efC: number, seed: number): void; addPoint(p: number[], label: number): void; setEf(ef: number): void;
      searchKnn(p: number[], k: number): { neighbors: number[] } } };
    const index = new HierarchicalNSW('ip', dim);
    index.initIndex(n, M, efC, 100);
    // its Node binding adds and searches one point per call, on the calling thread
    for (let i = 0; i < n; i++) index.addPoint(Array.from(vec(i)), i);
    index.setEf(efS);
    return { search: (q) => index.searchKnn(Array.from(vec(q)), k + 1).neighbors.filter((id) => id !== q) };
  }, allRows),
);
log(JSON.stringify(outcomes.at(-1)));

outcomes.push(
  await measure('faiss-node', async () => {
    const faiss = requireExtra('faiss-node') as { IndexHNSWFlat?: unknown };
    throw new Error(`faiss-node loaded (${Object.keys(faiss).length} exports) but this bench has no faiss path yet`);
  }, allRows),
);
log(JSON.stringify(outcomes.at(-1)));

const lanceQueries = Number(flagValue('queries', '2000'));
const lanceDir = tempDir('ann-lance');
try {
  const lanceRows = [...new Set([...rows, ...allRows.slice(0, Math.max(0, lanceQueries - rows.length))])];
  outcomes.push(
    await measure('@lancedb/lancedb (IVF_HNSW_SQ)', async () => {
      const lancedb = requireExtra('@lancedb/lancedb') as LanceDb;
      const db = await lancedb.connect(lanceDir);
      const table = await db.createTable('v', allRows.map((i) => ({ id: i, vector: Array.from(vec(i)) })));
      // cosine, not dot: on unit vectors they rank alike, but 0.31.0's HNSW_SQ index with distanceType 'dot' gave
      // recall@10 0.04 on 20k clustered unit vectors where 'cosine' gave 0.97 (flat search ranked both right)
      // one IVF partition per ~1M rows (an HNSW graph inside each), so that a query searches one graph as the others do
      const numPartitions = Math.max(1, Math.round(n / 1_000_000));
      await table.createIndex('vector', { config: lancedb.Index.hnswSq({ distanceType: 'cosine', m: M, efConstruction: efC, numPartitions }) });
      return {
        search: async (q) => {
          const res = await table.query().nearestTo(Array.from(vec(q))).distanceType('cosine').ef(efS).limit(k + 1).select(['id']).toArray();
          return res.map((r) => Number(r.id)).filter((id) => id !== q);
        },
      };
    }, lanceRows),
  );
} finally {
  fs.rmSync(lanceDir, { recursive: true, force: true });
}
log(JSON.stringify(outcomes.at(-1)));

console.log('');
console.log(`ann-compare: ${n} × ${dim} clusters of intrinsic dimension 16, k=${k}, M ${M}, efC ${efC}, efS ${efS}, ${threads} cores`);
for (const o of outcomes) {
  if (!o.installed) console.log(`  ${o.library.padEnd(32)} not usable here: ${o.note}`);
  else console.log(`  ${o.library.padEnd(32)} build ${o.buildSeconds} s, search ${o.searchSeconds} s for ${o.searchedRows} rows (all ${n}: ${o.allRowsSearchSeconds} s), recall@${k} ${o.recallAtK}, +${o.rssGrowthMB} MB, load ${o.load?.join(' ')}`);
}
console.log(JSON.stringify({ n, dim, k, M, efC, efS, threads, sample, outcomes }));
