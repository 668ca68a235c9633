import {
  ApplyReviewInput,
  REVIEW_HISTOGRAM_BINS,
  REVIEW_MAP_LIMIT,
  REVIEW_THRESHOLD_MIN,
  REVIEW_THRESHOLD_STEP,
  ReviewInput,
  type ApplyReviewResult,
  type ReviewPoint,
  type ReviewResult,
} from '../../shared/contract/curate-review.js';
import type { Catalog } from '../catalog/catalog.js';
import { conflict, invalid } from '../common/errors.js';
import type { JobContext } from '../common/jobs.js';
import { embedImages } from './embeddings.js';
import { withEncoder } from './encoders.js';
import { knnEdges, knnGraph } from './knn.js';
import { UnionFind } from './union-find.js';

export type ReviewOptions = ReturnType<typeof ReviewInput.parse>;

/** Thresholds removedAt answers, 0.5, 0.501, …, 1 (integers over 1000, so no float drift). */
const THRESHOLD_COUNT = Math.round((1 - REVIEW_THRESHOLD_MIN) / REVIEW_THRESHOLD_STEP) + 1;

/**
 * The review data of the Curation page, from the chosen encoder's embeddings (cached by embedImages, so a dedup run after
 * this, or before it, embeds nothing twice). Read-only: it changes no dataset.
 */
export async function runReview(catalog: Catalog, input: ReviewOptions, ctx: JobContext): Promise<ReviewResult> {
  const started = performance.now();
  const opts = ReviewInput.parse(input);
  const datasetId = catalog.datasetIdByName(opts.dataset);
  ctx.setPhase('loading');
  const images = catalog.datasetImages(datasetId);
  const emb = await withEncoder(catalog, opts.encoder, (encoder) => embedImages(catalog, images, ctx, { encoder }));
  const failed = new Set(emb.failed);
  const dim = emb.dim;
  // Only embedded images take part: a failed image's zero row would look equally far from everything.
  const rows = images.flatMap((_, i) => (failed.has(i) ? [] : [i]));
  const m = rows.length;
  const data = new Float32Array(m * dim);
  rows.forEach((i, r) => data.set(emb.vectors.subarray(i * dim, (i + 1) * dim), r * dim));

  const nearest = new Float32Array(m).fill(Number.NaN);
  const histogram = new Array<number>(REVIEW_HISTOGRAM_BINS).fill(0);
  const removedAt = new Array<number>(THRESHOLD_COUNT).fill(0);
  if (m > 1) {
    ctx.setPhase('neighbours', m);
    const graph = knnGraph(data, dim, { k: opts.k, signal: ctx.signal, onProgress: (d) => ctx.progress(d) });
    for (let r = 0; r < m; r++) {
      if (graph.indices[r * graph.k]! >= 0) nearest[r] = graph.similarities[r * graph.k]!;
    }
    for (const s of nearest) if (!Number.isNaN(s)) histogram[histogramBin(s)]!++;
    removedAt.splice(0, removedAt.length, ...removalCurve(m, knnEdges(graph, REVIEW_THRESHOLD_MIN)));
  }
  ctx.throwIfCancelled();

  ctx.setPhase('map');
  const sample = sampleRows(m, REVIEW_MAP_LIMIT);
  const sampled = new Float32Array(sample.length * dim);
  sample.forEach((r, s) => sampled.set(data.subarray(r * dim, (r + 1) * dim), s * dim));
  const { coords, explained } = pca2(sampled, dim);
  const k = Math.min(sample.length, opts.clusters ?? Math.min(12, Math.max(1, Math.round(Math.sqrt(sample.length / 2)))));
  const assignment = kmeans(sampled, dim, k, 15);
  ctx.throwIfCancelled();
  const points: ReviewPoint[] = sample.map((r, s) => {
    const img = images[rows[r]!]!;
    const near = nearest[r]!;
    return {
      imageId: img.id,
      sha256: img.sha256,
      label: img.label,
      x: round(coords[2 * s]!),
      y: round(coords[2 * s + 1]!),
      cluster: assignment[s]!,
      nearest: Number.isNaN(near) ? null : round(near),
    };
  });
  return {
    dataset: opts.dataset,
    datasetId,
    imageCount: images.length,
    embeddingFailures: emb.failed.length,
    nearestHistogram: histogram,
    removedAt,
    points,
    clusters: sample.length ? k : 0,
    explained: [round(explained[0]), round(explained[1])],
    seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
  };
}

export function histogramBin(similarity: number): number {
  return Math.min(REVIEW_HISTOGRAM_BINS - 1, Math.max(0, Math.floor(similarity * REVIEW_HISTOGRAM_BINS)));
}

/**
 * For each threshold t in REVIEW_THRESHOLD_MIN..1: how many images joining every edge ≥ t would remove, keeping one
 * per connected group (= merges union-find makes). Edges are taken strongest first, so one pass answers all t.
 */
export function removalCurve(n: number, edges: readonly { i: number; j: number; similarity: number }[]): number[] {
  const sorted = [...edges].sort((a, b) => b.similarity - a.similarity);
  const uf = new UnionFind(n);
  const out = new Array<number>(THRESHOLD_COUNT).fill(0);
  let e = 0;
  let merges = 0;
  const steps = THRESHOLD_COUNT - 1;
  for (let idx = steps; idx >= 0; idx--) {
    const threshold = thresholdAt(idx);
    while (e < sorted.length && sorted[e]!.similarity >= threshold) {
      if (uf.union(sorted[e]!.i, sorted[e]!.j)) merges++;
      e++;
    }
    out[idx] = merges;
  }
  return out;
}

/** The threshold removedAt[idx] answers. */
export function thresholdAt(idx: number): number {
  return Math.round((REVIEW_THRESHOLD_MIN + idx * REVIEW_THRESHOLD_STEP) * 1e6) / 1e6;
}

/** Up to `limit` row indices spread evenly over 0..n-1 (all of them when n ≤ limit). */
function sampleRows(n: number, limit: number): number[] {
  if (n <= limit) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: limit }, (_, s) => Math.floor((s * n) / limit));
}

/**
 * The first two principal components by power iteration with deflation on the centred rows (the covariance is never
 * formed: each step is two passes over the data, so cost is O(n·d) per iteration).
 */
export function pca2(data: Float32Array, dim: number, iterations = 60): { coords: Float32Array; explained: [number, number] } {
  const n = dim > 0 ? data.length / dim : 0;
  const coords = new Float32Array(n * 2);
  if (n === 0) return { coords, explained: [0, 0] };
  const mean = new Float64Array(dim);
  for (let r = 0; r < n; r++) for (let d = 0; d < dim; d++) mean[d]! += data[r * dim + d]! / n;
  let total = 0;
  for (let r = 0; r < n; r++) for (let d = 0; d < dim; d++) total += (data[r * dim + d]! - mean[d]!) ** 2;
  const components: Float64Array[] = [];
  const eigen: number[] = [];
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
      if (norm < 1e-12) break;
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
  return { coords, explained: total > 0 ? [eigen[0]! / total, eigen[1]! / total] : [0, 0] };
}

/** Lloyd's k-means with farthest-point seeding (deterministic); returns each row's cluster. */
export function kmeans(data: Float32Array, dim: number, k: number, iterations: number): Int32Array {
  const n = dim > 0 ? data.length / dim : 0;
  const assign = new Int32Array(n);
  if (n === 0 || k <= 1) return assign;
  const centres = new Float64Array(k * dim);
  const dist2 = (r: number, c: number) => {
    let s = 0;
    for (let d = 0; d < dim; d++) s += (data[r * dim + d]! - centres[c * dim + d]!) ** 2;
    return s;
  };
  for (let d = 0; d < dim; d++) centres[d] = data[d]!;
  const best = new Float64Array(n).fill(Infinity);
  for (let c = 1; c < k; c++) {
    let far = 0;
    for (let r = 0; r < n; r++) {
      best[r] = Math.min(best[r]!, dist2(r, c - 1));
      if (best[r]! > best[far]!) far = r;
    }
    for (let d = 0; d < dim; d++) centres[c * dim + d] = data[far * dim + d]!;
  }
  for (let it = 0; it < iterations; it++) {
    let changed = false;
    for (let r = 0; r < n; r++) {
      let bc = 0;
      let bd = Infinity;
      for (let c = 0; c < k; c++) {
        const dd = dist2(r, c);
        if (dd < bd) [bd, bc] = [dd, c];
      }
      if (assign[r] !== bc || it === 0) changed = changed || assign[r] !== bc;
      assign[r] = bc;
    }
    const counts = new Float64Array(k);
    const sums = new Float64Array(k * dim);
    for (let r = 0; r < n; r++) {
      counts[assign[r]!]!++;
      for (let d = 0; d < dim; d++) sums[assign[r]! * dim + d]! += data[r * dim + d]!;
    }
    for (let c = 0; c < k; c++) if (counts[c]! > 0) for (let d = 0; d < dim; d++) centres[c * dim + d] = sums[c * dim + d]! / counts[c]!;
    if (!changed && it > 0) break;
  }
  return assign;
}

/**
 * A curated version of `dataset` without the images the user accepted for removal, in one transaction; the
 * original dataset and its files are untouched. Every id must belong to the dataset, so a stale review cannot remove
 * something it never showed.
 */
export function applyReview(catalog: Catalog, input: unknown): ApplyReviewResult {
  const r = ApplyReviewInput.safeParse(input);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`);
    throw invalid(issues[0]!, issues);
  }
  const { dataset, name, remove } = r.data;
  const datasetId = catalog.datasetIdByName(dataset);
  if (catalog.findDatasetByName(name)) throw conflict(`a dataset named "${name}" already exists`);
  const images = catalog.datasetImages(datasetId);
  const present = new Set(images.map((img) => img.id));
  const removeSet = new Set(remove);
  const stranger = remove.find((id) => !present.has(id));
  if (stranger !== undefined) throw invalid(`image ${stranger} is not in dataset "${dataset}"`);
  const members = images.filter((img) => !removeSet.has(img.id)).map((img) => ({ imageId: img.id, label: img.label }));
  const description = `${dataset} without ${removeSet.size} reviewed near-duplicates`;
  const id = catalog.createDerivedDataset(name, 'curated', datasetId, members, description);
  return { name, datasetId: id, imageCount: members.length, removed: removeSet.size };
}

function round(v: number): number {
  return Number(v.toFixed(4));
}
