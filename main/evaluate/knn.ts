import { invalid } from '../common/errors.js';
import { type FeatureMatrix, type LabeledFeatures, checkFeatures, checkLabeled } from './features.js';
import { knnSearchRange } from './knn-kernel.js';
import type { KnnWorkerData } from './knn-worker.js';
import { type ClassificationReport, classificationReport } from './metrics.js';
import { defaultThreads, spawnModuleWorker } from './workers.js';

/**
 * The DINO weighted kNN classifier (Caron et al. 2021, after Wu et al. 2018): features are L2-normalised, the k
 * train rows of highest cosine similarity vote for their class with weight exp(s / T), T = 0.07, and the class
 * with the largest summed weight wins. One search for the largest k serves every k.
 */
export const DEFAULT_KS: readonly number[] = [10, 20, 100];
export const DEFAULT_TEMPERATURE = 0.07;

export interface KnnOptions {
  ks?: readonly number[];
  temperature?: number;
  /** Threads for the similarity search (each takes a slice of the test rows); default: by problem size. */
  threads?: number;
  /** Aborting stops the worker threads and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface Neighbors {
  /** [nQuery, k] train row indices, best first (ties: lower index first); −1 past the end of a short train set. */
  index: Int32Array;
  /** [nQuery, k] cosine similarities matching `index`. */
  sim: Float64Array;
  k: number;
}

export type KnnResult = Record<string, ClassificationReport & { k: number }>;

/** Rows scaled to unit L2 norm, as float32 (a zero row stays zero, so its similarity to everything is 0). */
export function l2NormalizeRows(x: FeatureMatrix, shared = false): Float32Array {
  const { n, dim, data } = x;
  const out = new Float32Array(shared ? new SharedArrayBuffer(n * dim * 4) : new ArrayBuffer(n * dim * 4));
  for (let i = 0; i < n; i++) {
    const o = i * dim;
    let ss = 0;
    for (let d = 0; d < dim; d++) ss += data[o + d]! * data[o + d]!;
    const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    for (let d = 0; d < dim; d++) out[o + d] = data[o + d]! * inv;
  }
  return out;
}

function checkPair(train: FeatureMatrix, test: FeatureMatrix, k: number): void {
  checkFeatures(train, 'kNN train features');
  checkFeatures(test, 'kNN test features');
  if (train.dim !== test.dim) throw invalid(`kNN: train features have dimension ${train.dim}, test features ${test.dim}`);
  if (!Number.isInteger(k) || k < 1) throw invalid(`kNN: k must be a positive integer, got ${k}`);
}

/** The k nearest train rows of each test row by cosine similarity, on the calling thread. */
export function cosineNeighbors(train: FeatureMatrix, test: FeatureMatrix, k: number): Neighbors {
  checkPair(train, test, k);
  const index = new Int32Array(test.n * k);
  const sim = new Float64Array(test.n * k);
  knnSearchRange(l2NormalizeRows(train), train.n, l2NormalizeRows(test), 0, test.n, train.dim, k, index, sim);
  return { index, sim, k };
}

/** As cosineNeighbors, with the test rows split across worker threads. */
export async function cosineNeighborsParallel(train: FeatureMatrix, test: FeatureMatrix, k: number, threads: number, signal?: AbortSignal): Promise<Neighbors> {
  checkPair(train, test, k);
  signal?.throwIfAborted();
  const t = Math.max(1, Math.min(Math.floor(threads), Math.ceil(test.n / 64)));
  if (t <= 1) return cosineNeighbors(train, test, k);
  const trainN = l2NormalizeRows(train, true);
  const testN = l2NormalizeRows(test, true);
  const index = new Int32Array(new SharedArrayBuffer(test.n * k * 4));
  const sim = new Float64Array(new SharedArrayBuffer(test.n * k * 8));
  const cut = (j: number) => Math.round((test.n * j) / t);
  await Promise.all(
    Array.from({ length: t }, (_, j) => {
      const data: KnnWorkerData = { train: trainN, nTrain: train.n, test: testN, testStart: cut(j), testEnd: cut(j + 1), dim: train.dim, kMax: k, outIndex: index, outSim: sim };
      return new Promise<void>((resolve, reject) => {
        const w = spawnModuleWorker(new URL('./knn-worker.js', import.meta.url), data);
        const onAbort = () => {
          void w.terminate();
          reject(signal!.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        const settle = (err?: Error) => {
          signal?.removeEventListener('abort', onAbort);
          void w.terminate();
          if (err) reject(err);
          else resolve();
        };
        w.once('message', (m: { ok: boolean; message?: string }) => settle(m.ok ? undefined : new Error(`kNN worker failed: ${m.message}`)));
        w.once('error', settle);
      });
    }),
  );
  return { index: Int32Array.from(index), sim: Float64Array.from(sim), k };
}

/** Class scores [nTest, numClasses]: Σ over the first k neighbours of exp(sim / T), added to their class. */
export function knnVotes(neighbors: Neighbors, trainLabels: Int32Array, numClasses: number, k: number, temperature = DEFAULT_TEMPERATURE): Float64Array {
  if (k > neighbors.k) throw invalid(`kNN: asked to vote with k = ${k} but only ${neighbors.k} neighbours were searched`);
  const n = neighbors.index.length / neighbors.k;
  const scores = new Float64Array(n * numClasses);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      const idx = neighbors.index[i * neighbors.k + j]!;
      if (idx < 0) break;
      const c = trainLabels[idx]!;
      scores[i * numClasses + c] = scores[i * numClasses + c]! + Math.exp(neighbors.sim[i * neighbors.k + j]! / temperature);
    }
  }
  return scores;
}

/** The DINO kNN evaluation for each k: top-1, top-5, per-class accuracy and confusion matrix. */
export async function knnClassify(train: LabeledFeatures, test: LabeledFeatures, options: KnnOptions = {}): Promise<KnnResult> {
  checkLabeled(train, 'kNN train features');
  checkLabeled(test, 'kNN test features');
  if (test.numClasses !== train.numClasses) throw invalid(`kNN: train has ${train.numClasses} classes, test has ${test.numClasses}`);
  const ks = [...new Set(options.ks ?? DEFAULT_KS)].sort((a, b) => a - b);
  if (ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1)) throw invalid(`kNN: ks must be positive integers, got ${JSON.stringify(options.ks)}`);
  const temperature = options.temperature ?? DEFAULT_TEMPERATURE;
  if (!(temperature > 0)) throw invalid(`kNN: temperature must be > 0, got ${temperature}`);
  const kMax = ks[ks.length - 1]!;
  const threads = options.threads ?? defaultThreads(train.n * test.n * train.dim, 2e8);
  const neighbors = await cosineNeighborsParallel(train, test, kMax, threads, options.signal);
  const result: KnnResult = {};
  for (const k of ks) {
    const scores = knnVotes(neighbors, train.labels, train.numClasses, k, temperature);
    result[`k${k}`] = { k, ...classificationReport(scores, test.labels, test.numClasses) };
  }
  return result;
}
