import { CancelledError, CurioError } from '../common/errors.js';
import { mulberry32 } from '../common/random.js';
import { knnGraph, type KnnGraph, type KnnMethod } from './knn.js';

/**
 * A UMAP layout (McInnes, Healy & Melville 2018, "UMAP: Uniform Manifold Approximation and Projection"), written from
 * the paper's algorithm:
 * 1. a kNN graph on cosine distance (main/curate/knn.ts: exact, or HNSW for large n);
 * 2. per point, rho = distance to the nearest distinct neighbour and sigma by binary search so that
 *    Σ_j exp(-max(0, d_ij - rho_i) / sigma_i) = log2(k): each point sees its neighbourhood at unit density;
 * 3. fuzzy union of the directed memberships: w = a + b - a·b;
 * 4. a PCA start scaled into [-10, 10], then SGD on the fuzzy cross-entropy: each edge is sampled in proportion to its
 *    weight and pulls its ends together along 1 / (1 + a·d^2b); every positive sample brings `negativeSampleRate`
 *    random points that push apart; the learning rate decays linearly to 0.
 * Plain arrays in and out, deterministic for a seed and a kNN graph, cancellable, and it yields to the event loop
 * between epochs.
 */
export interface UmapOptions {
  /** neighbours per point (self excluded); fewer when there are fewer other points */
  nNeighbors?: number;
  /** how tightly points may pack in 2-D (the curve's flat top); 0 ≤ minDist ≤ spread */
  minDist?: number;
  spread?: number;
  /** SGD epochs; default 200 up to 10k points, 100 above */
  epochs?: number;
  negativeSampleRate?: number;
  learningRate?: number;
  seed?: number;
  /** a kNN graph already computed on the same rows, L2-normalised (saves the dominant cost when the caller has one) */
  graph?: KnnGraph;
  /** how the graph is built when none is given; default exact up to UMAP_EXACT_KNN_LIMIT points, HNSW above */
  knnMethod?: KnnMethod;
  signal?: AbortSignal;
  /** a new stage starts, with the count its progress goes to */
  onStage?: (stage: 'neighbours' | 'layout', total: number) => void;
  /** rows done (neighbours) or epochs done (layout) */
  onProgress?: (done: number) => void;
}

export interface UmapResult {
  /** n×2, row-major */
  coords: Float32Array;
  n: number;
  /** neighbours per point actually used */
  k: number;
  epochs: number;
  /** undirected edges of the fuzzy graph after pruning */
  edges: number;
  a: number;
  b: number;
}

export const UMAP_DEFAULT_NEIGHBORS = 15;
/**
 * Exact kNN costs n²·d: at 10k × 256-d it took 265 s against HNSW's 26 s here (2 cores at load 13), so past this many
 * points the layout takes HNSW neighbours (multi-threaded, so not bit-for-bit repeatable; exact ones are).
 */
export const UMAP_EXACT_KNN_LIMIT = 2_000;

export async function umap(data: Float32Array, dim: number, opts: UmapOptions = {}): Promise<UmapResult> {
  const n = checkInput(data, dim);
  const nNeighbors = opts.nNeighbors ?? UMAP_DEFAULT_NEIGHBORS;
  const minDist = opts.minDist ?? 0.1;
  const spread = opts.spread ?? 1;
  const negativeRate = opts.negativeSampleRate ?? 5;
  const learningRate = opts.learningRate ?? 1;
  const epochs = opts.epochs ?? (n <= 10_000 ? 200 : 100);
  checkInt('nNeighbors', nNeighbors, 1, 200);
  checkInt('epochs', epochs, 0, 10_000);
  checkInt('negativeSampleRate', negativeRate, 0, 100);
  if (!(spread > 0) || !(minDist >= 0) || minDist > spread) throw new CurioError('invalid-input', `minDist must be in [0, spread] and spread > 0, got ${minDist}, ${spread}`);
  if (!(learningRate > 0)) throw new CurioError('invalid-input', `learningRate must be > 0, got ${learningRate}`);
  const { a, b } = fitCurve(minDist, spread);
  const coords = new Float32Array(n * 2);
  if (n <= 1) return { coords, n, k: 0, epochs: 0, edges: 0, a, b };

  const rows = normaliseRows(data, dim);
  let graph = opts.graph;
  if (graph) {
    if (graph.n !== n) throw new CurioError('invalid-input', `the kNN graph has ${graph.n} rows for ${n} points`);
  } else {
    opts.onStage?.('neighbours', n);
    const method = opts.knnMethod ?? (n <= UMAP_EXACT_KNN_LIMIT ? 'exact' : 'approximate');
    const knn = { k: Math.min(nNeighbors, n - 1), signal: opts.signal, onProgress: opts.onProgress };
    try {
      graph = knnGraph(rows, dim, { ...knn, method });
    } catch (err) {
      // Where usearch does not load, the exact graph is slower but gives the same layout.
      if (err instanceof CancelledError || opts.knnMethod) throw err;
      graph = knnGraph(rows, dim, { ...knn, method: 'exact' });
    }
  }
  if (opts.signal?.aborted) throw new CancelledError();
  const k = Math.min(nNeighbors, graph.k);
  const memberships = fuzzyMemberships(graph, k);
  const edges = fuzzyUnion(graph, memberships, k);

  const rand = mulberry32(opts.seed ?? 42);
  const embedding = pcaStart(rows, dim, rand);
  opts.onStage?.('layout', epochs);
  await optimizeLayout(embedding, edges, { epochs, a, b, negativeRate, learningRate, rand, signal: opts.signal, onProgress: opts.onProgress });
  for (let i = 0; i < embedding.length; i++) coords[i] = embedding[i]!;
  return { coords, n, k, epochs, edges: edges.head.length, a, b };
}

function checkInput(data: Float32Array, dim: number): number {
  if (!Number.isInteger(dim) || dim <= 0) throw new CurioError('invalid-input', `vector dimension must be a positive integer, got ${dim}`);
  if (data.length % dim !== 0) throw new CurioError('invalid-input', `${data.length} values are not a whole number of ${dim}-d vectors`);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) throw new CurioError('invalid-input', `vector ${Math.floor(i / dim)} has a non-finite value (${data[i]})`);
  }
  return data.length / dim;
}

function checkInt(name: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new CurioError('invalid-input', `${name} must be an integer in ${lo}..${hi}, got ${v}`);
}

/** Unit-length copies of the rows (a zero row stays zero: it is at cosine distance 1 from everything). */
function normaliseRows(data: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let o = 0; o < data.length; o += dim) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += data[o + d]! * data[o + d]!;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let d = 0; d < dim; d++) out[o + d] = data[o + d]! * inv;
  }
  return out;
}

/** Cosine distance from a similarity; float noise on identical vectors (1 - 0.99999994) is snapped to 0. */
function cosineDistance(similarity: number): number {
  const d = 1 - similarity;
  return d < 1e-6 ? 0 : d;
}

/**
 * The directed membership strength of each kNN edge, n×k like the graph (NaN where a row has fewer neighbours):
 * exp(-max(0, d - rho) / sigma), with sigma found by bisection so that a row's memberships sum to log2(k).
 */
export function fuzzyMemberships(graph: KnnGraph, k: number): Float32Array {
  const { n } = graph;
  const out = new Float32Array(n * k).fill(Number.NaN);
  const target = Math.log2(Math.max(2, k));
  const dist = new Float64Array(k);
  let globalSum = 0;
  let globalCount = 0;
  for (let i = 0; i < graph.indices.length; i++) {
    if (graph.indices[i]! >= 0) (globalSum += cosineDistance(graph.similarities[i]!)), globalCount++;
  }
  const globalMean = globalCount ? globalSum / globalCount : 0;
  for (let i = 0; i < n; i++) {
    let count = 0;
    let rho = 0;
    let sum = 0;
    for (let r = 0; r < k; r++) {
      if (graph.indices[i * graph.k + r]! < 0) break;
      const d = cosineDistance(graph.similarities[i * graph.k + r]!);
      dist[count++] = d;
      sum += d;
      if (rho === 0 && d > 0) rho = d; // neighbours come best first: the first distinct one
    }
    if (count === 0) continue;
    let lo = 0;
    let hi = Infinity;
    let sigma = 1;
    for (let it = 0; it < 64; it++) {
      let psum = 0;
      for (let r = 0; r < count; r++) {
        const excess = dist[r]! - rho;
        psum += excess > 0 ? Math.exp(-excess / sigma) : 1;
      }
      if (Math.abs(psum - target) < 1e-5) break;
      if (psum > target) {
        hi = sigma;
        sigma = (lo + hi) / 2;
      } else {
        lo = sigma;
        sigma = hi === Infinity ? sigma * 2 : (lo + hi) / 2;
      }
    }
    // A floor keeps sigma away from 0 where every neighbour sits at rho (duplicates, ties): weights stay finite.
    sigma = Math.max(sigma, 1e-3 * (rho > 0 ? sum / count : globalMean), 1e-12);
    for (let r = 0; r < count; r++) out[i * k + r] = Math.exp(-Math.max(0, dist[r]! - rho) / sigma);
  }
  return out;
}

export interface FuzzyEdges {
  head: Int32Array;
  tail: Int32Array;
  weight: Float32Array;
}

/**
 * The fuzzy union of the directed memberships, as undirected edges each listed once: w = a + b - a·b where i → j has
 * membership a and j → i has b (b = 0 when j does not count i among its neighbours).
 */
export function fuzzyUnion(graph: KnnGraph, memberships: Float32Array, k: number): FuzzyEdges {
  const { n } = graph;
  const head: number[] = [];
  const tail: number[] = [];
  const weight: number[] = [];
  const reverse = (j: number, i: number): number => {
    for (let r = 0; r < k; r++) {
      const id = graph.indices[j * graph.k + r]!;
      if (id < 0) break;
      if (id === i) return memberships[j * k + r]!;
    }
    return -1;
  };
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < k; r++) {
      const j = graph.indices[i * graph.k + r]!;
      if (j < 0) break;
      if (j === i) continue;
      const w = memberships[i * k + r]!;
      const back = reverse(j, i);
      if (back >= 0 && j < i) continue; // listed from j's side
      const union = back >= 0 ? w + back - w * back : w;
      if (union > 0) (head.push(i), tail.push(j), weight.push(union));
    }
  }
  return { head: Int32Array.from(head), tail: Int32Array.from(tail), weight: Float32Array.from(weight) };
}

/**
 * The start: the rows projected on their first two principal components (found on a sample of at most 4,096 rows, which
 * fixes the axes well enough for a start), scaled so the largest coordinate is 10, plus a little noise so identical
 * rows do not sit on the very same spot. Rows with no variance at all start uniformly at random.
 */
export function pcaStart(rows: Float32Array, dim: number, rand: () => number): Float64Array {
  const n = rows.length / dim;
  const sample = Math.min(n, 4096);
  const picked = new Float32Array(sample * dim);
  for (let s = 0; s < sample; s++) {
    const r = Math.floor((s * n) / sample);
    picked.set(rows.subarray(r * dim, (r + 1) * dim), s * dim);
  }
  const { components, mean } = pca2(picked, dim, 30);
  const out = new Float64Array(n * 2);
  let maxAbs = 0;
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < 2; c++) {
      let p = 0;
      for (let d = 0; d < dim; d++) p += (rows[r * dim + d]! - mean[d]!) * components[c]![d]!;
      out[2 * r + c] = p;
      maxAbs = Math.max(maxAbs, Math.abs(p));
    }
  }
  if (!(maxAbs > 1e-9)) {
    for (let i = 0; i < out.length; i++) out[i] = 20 * rand() - 10;
    return out;
  }
  const scale = 10 / maxAbs;
  for (let i = 0; i < out.length; i++) out[i] = out[i]! * scale + 1e-4 * (2 * rand() - 1);
  return out;
}

interface Layout {
  epochs: number;
  a: number;
  b: number;
  negativeRate: number;
  learningRate: number;
  rand: () => number;
  signal?: AbortSignal;
  onProgress?: (done: number) => void;
}

/** Gradients are clipped to ±4 per coordinate, as in the paper's reference implementation, so no step flings a point away. */
const CLIP = 4;
const clip = (v: number) => (v > CLIP ? CLIP : v < -CLIP ? -CLIP : v);
/** Yield to the event loop (so a cancel can arrive) at least this often. */
const YIELD_MS = 50;

/**
 * SGD on the fuzzy cross-entropy between the graph and the layout. An edge of weight w is sampled every wmax / w
 * epochs (edges weaker than wmax / epochs would never be sampled and are dropped); each sample pulls both ends together
 * and pushes its head away from `negativeRate` random points.
 */
export async function optimizeLayout(embedding: Float64Array, edges: FuzzyEdges, layout: Layout): Promise<void> {
  const { epochs, a, b, negativeRate, learningRate, rand, signal } = layout;
  const n = embedding.length / 2;
  let wmax = 0;
  for (const w of edges.weight) wmax = Math.max(wmax, w);
  if (epochs === 0 || wmax <= 0) return;
  let kept = 0;
  for (const w of edges.weight) if (w >= wmax / epochs) kept++;
  // Both directions of each edge, so that each end gets its share of negative samples.
  const m = 2 * kept;
  const heads = new Int32Array(m);
  const tails = new Int32Array(m);
  const epochsPerSample = new Float64Array(m);
  for (let e = 0, at = 0; e < edges.weight.length; e++) {
    const w = edges.weight[e]!;
    if (w < wmax / epochs) continue;
    heads[at] = tails[at + 1] = edges.head[e]!;
    tails[at] = heads[at + 1] = edges.tail[e]!;
    epochsPerSample[at] = epochsPerSample[at + 1] = wmax / w;
    at += 2;
  }
  const nextSample = Float64Array.from(epochsPerSample);
  const epochsPerNegative = epochsPerSample.map((v) => (negativeRate > 0 ? v / negativeRate : Infinity));
  const nextNegative = Float64Array.from(epochsPerNegative);
  const twoAB = 2 * a * b;
  // Negative samples draw from a mulberry32 stream seeded by `rand`, stepped inline: its state then stays an int32 in
  // a register instead of a boxed number in a closure (the call cost ~20 ns here, a fifth of an update).
  let state = Math.floor(rand() * 4294967296) | 0;
  let lastYield = performance.now();
  for (let epoch = 0; epoch < epochs; epoch++) {
    const alpha = learningRate * (1 - epoch / epochs);
    for (let e = 0; e < m; e++) {
      if (nextSample[e]! > epoch) continue;
      const i = heads[e]!;
      const j = tails[e]!;
      let dx = embedding[2 * i]! - embedding[2 * j]!;
      let dy = embedding[2 * i + 1]! - embedding[2 * j + 1]!;
      let d2 = dx * dx + dy * dy;
      if (d2 > 0) {
        const pb = Math.exp(b * Math.log(d2)); // d2^b; V8's Math.pow with a fractional exponent costs ~2.5× as much
        const coeff = (-twoAB * pb) / d2 / (a * pb + 1);
        const gx = clip(coeff * dx) * alpha;
        const gy = clip(coeff * dy) * alpha;
        embedding[2 * i] = embedding[2 * i]! + gx;
        embedding[2 * i + 1] = embedding[2 * i + 1]! + gy;
        embedding[2 * j] = embedding[2 * j]! - gx;
        embedding[2 * j + 1] = embedding[2 * j + 1]! - gy;
      }
      nextSample[e] = nextSample[e]! + epochsPerSample[e]!;
      const negatives = Math.floor((epoch - nextNegative[e]!) / epochsPerNegative[e]!) + 1;
      for (let p = 0; p < negatives; p++) {
        state = (state + 0x6d2b79f5) | 0;
        let z = Math.imul(state ^ (state >>> 15), state | 1);
        z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
        const o = Math.floor((((z ^ (z >>> 14)) >>> 0) / 4294967296) * n);
        if (o === i) continue;
        dx = embedding[2 * i]! - embedding[2 * o]!;
        dy = embedding[2 * i + 1]! - embedding[2 * o + 1]!;
        d2 = dx * dx + dy * dy;
        if (d2 > 0) {
          const coeff = (2 * b) / ((0.001 + d2) * (a * Math.exp(b * Math.log(d2)) + 1));
          embedding[2 * i] = embedding[2 * i]! + clip(coeff * dx) * alpha;
          embedding[2 * i + 1] = embedding[2 * i + 1]! + clip(coeff * dy) * alpha;
        } else {
          // Two points on one spot: push apart in a random direction (the gradient has none).
          const t = 2 * Math.PI * rand();
          embedding[2 * i] = embedding[2 * i]! + CLIP * Math.cos(t) * alpha;
          embedding[2 * i + 1] = embedding[2 * i + 1]! + CLIP * Math.sin(t) * alpha;
        }
      }
      if (negatives > 0) nextNegative[e] = nextNegative[e]! + negatives * epochsPerNegative[e]!;
    }
    layout.onProgress?.(epoch + 1);
    if (performance.now() - lastYield > YIELD_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      lastYield = performance.now();
    }
    if (signal?.aborted) throw new CancelledError();
  }
}

/**
 * a, b of the layout's similarity curve 1 / (1 + a·d^2b), least-squares fitted (Levenberg–Marquardt) to the curve
 * that is 1 up to minDist and exp(-(d - minDist) / spread) past it, on 300 points over [0, 3·spread].
 */
export function fitCurve(minDist: number, spread: number): { a: number; b: number } {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let s = 1; s < 300; s++) {
    const x = (3 * spread * s) / 299;
    xs.push(x);
    ys.push(x < minDist ? 1 : Math.exp(-(x - minDist) / spread));
  }
  const loss = (a: number, b: number) => xs.reduce((acc, x, s) => acc + (1 / (1 + a * x ** (2 * b)) - ys[s]!) ** 2, 0);
  let a = 1;
  let b = 1;
  let lambda = 1e-3;
  let current = loss(a, b);
  for (let it = 0; it < 200; it++) {
    // Normal equations of the linearised residuals: (JᵀJ + λ·diag) δ = -Jᵀr
    let jaa = 0, jab = 0, jbb = 0, ga = 0, gb = 0;
    xs.forEach((x, s) => {
      const u = x ** (2 * b);
      const g = 1 / (1 + a * u);
      const r = g - ys[s]!;
      const da = -u * g * g;
      const db = -a * u * 2 * Math.log(x) * g * g;
      jaa += da * da;
      jab += da * db;
      jbb += db * db;
      ga += da * r;
      gb += db * r;
    });
    const maa = jaa * (1 + lambda);
    const mbb = jbb * (1 + lambda);
    const det = maa * mbb - jab * jab;
    if (!(Math.abs(det) > 1e-300)) break;
    const stepA = (-ga * mbb + gb * jab) / det;
    const stepB = (-gb * maa + ga * jab) / det;
    const na = a + stepA;
    const nb = b + stepB;
    const next = na > 0 && nb > 0 ? loss(na, nb) : Infinity;
    if (next < current) {
      const done = current - next < 1e-14;
      [a, b, current] = [na, nb, next];
      lambda = Math.max(lambda / 10, 1e-12);
      if (done) break;
    } else {
      lambda *= 10;
      if (lambda > 1e12) break;
    }
  }
  return { a, b };
}

/**
 * The first two principal components by power iteration with deflation on the centred rows (the covariance is never
 * formed: each step is two passes over the data, so cost is O(n·d) per iteration). `explained` is each component's
 * share of the total variance.
 */
export function pca2(
  data: Float32Array,
  dim: number,
  iterations = 60,
): { coords: Float32Array; explained: [number, number]; components: [Float64Array, Float64Array]; mean: Float64Array } {
  const n = dim > 0 ? data.length / dim : 0;
  const coords = new Float32Array(n * 2);
  const mean = new Float64Array(Math.max(0, dim));
  const components: Float64Array[] = [];
  const eigen: number[] = [];
  if (n === 0) return { coords, explained: [0, 0], components: [new Float64Array(dim), new Float64Array(dim)], mean };
  for (let r = 0; r < n; r++) for (let d = 0; d < dim; d++) mean[d]! += data[r * dim + d]! / n;
  let total = 0;
  for (let r = 0; r < n; r++) for (let d = 0; d < dim; d++) total += (data[r * dim + d]! - mean[d]!) ** 2;
  for (let c = 0; c < 2; c++) {
    let v = new Float64Array(dim);
    for (let d = 0; d < dim; d++) v[d] = Math.sin(d * 12.9898 + c * 78.233) + 1e-3; // deterministic start
    let lambda = 0;
    for (let it = 0; it < iterations; it++) {
      const w = new Float64Array(dim);
      for (let r = 0; r < n; r++) {
        let p = 0;
        for (let d = 0; d < dim; d++) p += (data[r * dim + d]! - mean[d]!) * v[d]!;
        for (let d = 0; d < dim; d++) w[d]! += p * (data[r * dim + d]! - mean[d]!);
      }
      for (const u of components) {
        let dot = 0;
        for (let d = 0; d < dim; d++) dot += w[d]! * u[d]!;
        for (let d = 0; d < dim; d++) w[d]! -= dot * u[d]!;
      }
      let norm = 0;
      for (let d = 0; d < dim; d++) norm += w[d]! * w[d]!;
      norm = Math.sqrt(norm);
      if (norm < 1e-12) {
        lambda = 0;
        v = new Float64Array(dim);
        break;
      }
      lambda = norm;
      for (let d = 0; d < dim; d++) w[d]! /= norm;
      v = w;
    }
    components.push(v);
    eigen.push(lambda);
  }
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < 2; c++) {
      let p = 0;
      for (let d = 0; d < dim; d++) p += (data[r * dim + d]! - mean[d]!) * components[c]![d]!;
      coords[2 * r + c] = p;
    }
  }
  return {
    coords,
    explained: total > 0 ? [eigen[0]! / total, eigen[1]! / total] : [0, 0],
    components: [components[0]!, components[1]!],
    mean,
  };
}
