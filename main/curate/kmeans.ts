import { CancelledError, CurioError } from '../common/errors.js';
import { mulberry32 } from '../common/random.js';

export interface KmeansOptions {
  k: number;
  seed?: number;
  /** Lloyd iterations at most; stops earlier once no assignment changes */
  maxIterations?: number;
  /** k-means++ runs on at most this many points (drawn by the seed), since its cost is n·k·dim */
  initSample?: number;
  /**
   * Lloyd iterations run on at most this many points (a seeded sample; default 256·k, faiss's rule of thumb),
   * then every point is assigned once to the final centroids. Infinity trains on all points.
   */
  trainSample?: number;
  signal?: AbortSignal;
  /** called after each Lloyd iteration */
  onIteration?: (iteration: number, changed: number) => void;
}

export interface KmeansResult {
  k: number;
  dim: number;
  /** row-major k×dim */
  centroids: Float32Array;
  /** cluster of each point */
  assignments: Int32Array;
  /** squared Euclidean distance of each point to its centroid */
  distances: Float32Array;
  iterations: number;
  /** sum of `distances` */
  inertia: number;
}

/** √n rounded, at least 1: the default number of clusters. */
export function defaultClusterCount(n: number): number {
  return Math.max(1, Math.round(Math.sqrt(n)));
}

/**
 * k-means (squared Euclidean) with k-means++ initialisation and Lloyd iterations. Distances are computed in blocks
 * of points against all centroids as ‖x‖² + ‖c‖² − 2·x·c, so each block of centroids stays in cache. An empty
 * cluster is re-seeded with the point farthest from its centroid, so k clusters always come back (for k ≤ n).
 */
export function kmeans(data: Float32Array, dim: number, opts: KmeansOptions): KmeansResult {
  if (!Number.isInteger(dim) || dim <= 0) throw new CurioError('invalid-input', `vector dimension must be a positive integer, got ${dim}`);
  if (data.length % dim !== 0) throw new CurioError('invalid-input', `${data.length} values are not a whole number of ${dim}-d vectors`);
  const n = data.length / dim;
  if (n === 0) throw new CurioError('invalid-input', 'k-means needs at least one vector');
  const k = opts.k;
  if (!Number.isInteger(k) || k < 1) throw new CurioError('invalid-input', `the number of clusters must be a positive integer, got ${k}`);
  if (k > n) throw new CurioError('invalid-input', `${k} clusters asked for ${n} vectors; use at most ${n}`);
  const random = mulberry32(opts.seed ?? 0);
  const maxIterations = opts.maxIterations ?? 25;
  const trainSample = Math.max(k, opts.trainSample ?? 256 * k);
  if (n > trainSample) return trainOnSample(data, dim, n, trainSample, random, opts);

  const norms = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += data[i * dim + d]! * data[i * dim + d]!;
    norms[i] = s;
  }
  const centroids = initPlusPlus(data, dim, n, k, norms, random, opts.initSample ?? 50_000, opts.signal);
  const assignments = new Int32Array(n).fill(-1);
  const distances = new Float32Array(n);
  const sums = new Float64Array(k * dim);
  const counts = new Int32Array(k);
  let iterations = 0;
  for (let it = 0; it < maxIterations; it++) {
    if (opts.signal?.aborted) throw new CancelledError();
    const changed = assign(data, dim, n, centroids, k, norms, assignments, distances);
    iterations = it + 1;
    opts.onIteration?.(iterations, changed);
    if (changed === 0) break;
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const c = assignments[i]!;
      counts[c]!++;
      const so = c * dim;
      const io = i * dim;
      for (let d = 0; d < dim; d++) sums[so + d]! += data[io + d]!;
    }
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) {
        // Re-seed an empty cluster with the worst-served point, then make sure no other empty one takes it too.
        let far = 0;
        for (let i = 1; i < n; i++) if (distances[i]! > distances[far]!) far = i;
        centroids.set(data.subarray(far * dim, far * dim + dim), c * dim);
        distances[far] = 0;
        continue;
      }
      for (let d = 0; d < dim; d++) centroids[c * dim + d] = sums[c * dim + d]! / counts[c]!;
    }
  }
  // Final assignment against the final centroids, so distances and assignments agree with `centroids`.
  if (iterations === maxIterations) assign(data, dim, n, centroids, k, norms, assignments, distances);
  let inertia = 0;
  for (let i = 0; i < n; i++) inertia += distances[i]!;
  return { k, dim, centroids, assignments, distances, iterations, inertia };
}

/** Lloyd on a seeded sample of `m` points, then one assignment pass over all n. */
function trainOnSample(data: Float32Array, dim: number, n: number, m: number, random: () => number, opts: KmeansOptions): KmeansResult {
  const pick = samplePoints(n, m, random);
  const sample = new Float32Array(m * dim);
  pick.forEach((p, r) => sample.set(data.subarray(p * dim, p * dim + dim), r * dim));
  const trained = kmeans(sample, dim, { ...opts, seed: Math.floor(random() * 2 ** 32), trainSample: Infinity });
  if (opts.signal?.aborted) throw new CancelledError();
  const norms = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += data[i * dim + d]! * data[i * dim + d]!;
    norms[i] = s;
  }
  const assignments = new Int32Array(n).fill(-1);
  const distances = new Float32Array(n);
  assign(data, dim, n, trained.centroids, opts.k, norms, assignments, distances);
  let inertia = 0;
  for (let i = 0; i < n; i++) inertia += distances[i]!;
  return { k: opts.k, dim, centroids: trained.centroids, assignments, distances, iterations: trained.iterations, inertia };
}

/** m distinct indices of 0..n-1, drawn by a partial Fisher–Yates shuffle. */
function samplePoints(n: number, m: number, random: () => number): Int32Array {
  const all = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(random() * (n - i));
    const t = all[i]!;
    all[i] = all[j]!;
    all[j] = t;
  }
  return all.slice(0, m);
}

function centroidNorms(centroids: Float32Array, k: number, dim: number): Float32Array {
  const out = new Float32Array(k);
  for (let c = 0; c < k; c++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += centroids[c * dim + d]! * centroids[c * dim + d]!;
    out[c] = s;
  }
  return out;
}

/** Nearest centroid of every point, in blocks; returns how many assignments changed. */
function assign(
  data: Float32Array,
  dim: number,
  n: number,
  centroids: Float32Array,
  k: number,
  norms: Float32Array,
  assignments: Int32Array,
  distances: Float32Array,
): number {
  const cn = centroidNorms(centroids, k, dim);
  const PB = 64;
  const CB = 256;
  const best = new Float64Array(PB);
  const bestId = new Int32Array(PB);
  let changed = 0;
  for (let p0 = 0; p0 < n; p0 += PB) {
    const p1 = Math.min(n, p0 + PB);
    best.fill(Infinity);
    for (let c0 = 0; c0 < k; c0 += CB) {
      const c1 = Math.min(k, c0 + CB);
      for (let p = p0; p < p1; p++) {
        const po = p * dim;
        let b = best[p - p0]!;
        let bi = bestId[p - p0]!;
        for (let c = c0; c < c1; c++) {
          const co = c * dim;
          let dot = 0;
          for (let d = 0; d < dim; d++) dot += data[po + d]! * centroids[co + d]!;
          const dist = cn[c]! - 2 * dot;
          if (dist < b) {
            b = dist;
            bi = c;
          }
        }
        best[p - p0] = b;
        bestId[p - p0] = bi;
      }
    }
    for (let p = p0; p < p1; p++) {
      const c = bestId[p - p0]!;
      if (assignments[p] !== c) changed++;
      assignments[p] = c;
      distances[p] = Math.max(0, norms[p]! + best[p - p0]!);
    }
  }
  return changed;
}

/** k-means++ (Arthur & Vassilvitskii 2007): each next centre drawn with probability ∝ squared distance to the nearest chosen one. */
function initPlusPlus(
  data: Float32Array,
  dim: number,
  n: number,
  k: number,
  norms: Float32Array,
  random: () => number,
  maxSample: number,
  signal: AbortSignal | undefined,
): Float32Array {
  let sample: Int32Array;
  if (n <= Math.max(maxSample, k)) sample = Int32Array.from({ length: n }, (_, i) => i);
  else {
    sample = samplePoints(n, Math.max(maxSample, k), random);
  }
  const m = sample.length;
  const centroids = new Float32Array(k * dim);
  const nearest = new Float64Array(m).fill(Infinity);
  let chosen = sample[Math.floor(random() * m)]!;
  for (let c = 0; c < k; c++) {
    if (signal?.aborted) throw new CancelledError();
    centroids.set(data.subarray(chosen * dim, chosen * dim + dim), c * dim);
    const co = chosen * dim;
    let total = 0;
    for (let s = 0; s < m; s++) {
      const p = sample[s]!;
      const po = p * dim;
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += data[po + d]! * data[co + d]!;
      const dist = Math.max(0, norms[p]! + norms[chosen]! - 2 * dot);
      if (dist < nearest[s]!) nearest[s] = dist;
      total += nearest[s]!;
    }
    if (c === k - 1) break;
    if (total <= 0) {
      // Every sampled point coincides with a centre: take any point not yet chosen as a centre (duplicates allowed).
      chosen = sample[Math.floor(random() * m)]!;
      continue;
    }
    let r = random() * total;
    let pick = m - 1;
    for (let s = 0; s < m; s++) {
      r -= nearest[s]!;
      if (r < 0) {
        pick = s;
        break;
      }
    }
    chosen = sample[pick]!;
  }
  return centroids;
}
