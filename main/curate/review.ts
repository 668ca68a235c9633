import {
  ApplyReviewInput,
  REVIEW_HISTOGRAM_BINS,
  REVIEW_MAP_LIMIT,
  REVIEW_THRESHOLD_MIN,
  REVIEW_THRESHOLD_STEP,
  ReviewInput,
  type ApplyReviewResult,
  type MapProjection,
  type ReviewPoint,
  type ReviewResult,
} from '../../shared/contract/curate-review.js';
import type { Catalog } from '../catalog/catalog.js';
import { CancelledError, conflict, invalid } from '../common/errors.js';
import type { JobContext } from '../common/jobs.js';
import { embedImages } from './embeddings.js';
import { withEncoder } from './encoders.js';
import { knnEdges, knnGraph, type KnnGraph } from './knn.js';
import { UnionFind } from './union-find.js';
import { pca2, umap, UMAP_DEFAULT_NEIGHBORS } from './umap.js';

export { pca2 };

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
  const sample = sampleRows(m, REVIEW_MAP_LIMIT);
  // When the map shows every image, one graph wide enough for the layout serves the histogram too.
  const shared = sample.length === m && m >= UMAP_MIN_POINTS;
  let mapGraph: KnnGraph | undefined;
  if (m > 1) {
    ctx.setPhase('neighbours', m);
    const wide = knnGraph(data, dim, { k: shared ? Math.max(opts.k, UMAP_DEFAULT_NEIGHBORS) : opts.k, signal: ctx.signal, onProgress: (d) => ctx.progress(d) });
    if (shared) mapGraph = wide;
    const graph = truncateGraph(wide, opts.k);
    for (let r = 0; r < m; r++) {
      if (graph.indices[r * graph.k]! >= 0) nearest[r] = graph.similarities[r * graph.k]!;
    }
    for (const s of nearest) if (!Number.isNaN(s)) histogram[histogramBin(s)]!++;
    removedAt.splice(0, removedAt.length, ...removalCurve(m, knnEdges(graph, REVIEW_THRESHOLD_MIN)));
  }
  ctx.throwIfCancelled();

  ctx.setPhase('map');
  const sampled = new Float32Array(sample.length * dim);
  sample.forEach((r, s) => sampled.set(data.subarray(r * dim, (r + 1) * dim), s * dim));
  const { coords, explained, projection } = await projectMap(sampled, dim, mapGraph, ctx);
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
    projection,
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

/** Below this many points a neighbour graph says too little for UMAP; the map is the PCA projection. */
export const UMAP_MIN_POINTS = 5;

/**
 * The map's 2-D coordinates: UMAP (neighbourhoods kept, so clusters stay apart), or PCA where there are too few points
 * or UMAP fails (say the approximate index does not load). `explained` is PCA's share of variance in both cases.
 */
export async function projectMap(
  sampled: Float32Array,
  dim: number,
  graph: KnnGraph | undefined,
  ctx: JobContext,
): Promise<{ coords: Float32Array; explained: [number, number]; projection: MapProjection }> {
  const pca = pca2(sampled, dim);
  const n = sampled.length / dim;
  if (n < UMAP_MIN_POINTS) return { coords: pca.coords, explained: pca.explained, projection: 'pca' };
  try {
    const layout = await umap(sampled, dim, {
      graph,
      signal: ctx.signal,
      onStage: (stage, total) => ctx.setPhase(stage === 'layout' ? 'map' : 'map neighbours', total),
      onProgress: (done) => ctx.progress(done),
    });
    return { coords: layout.coords, explained: pca.explained, projection: 'umap' };
  } catch (err) {
    if (err instanceof CancelledError) throw err;
    return { coords: pca.coords, explained: pca.explained, projection: 'pca' };
  }
}

/** The first `k` neighbours of each row (rows are best first, so this is the graph a smaller k would have built). */
function truncateGraph(graph: KnnGraph, k: number): KnnGraph {
  if (k >= graph.k) return graph;
  const indices = new Int32Array(graph.n * k);
  const similarities = new Float32Array(graph.n * k);
  for (let r = 0; r < graph.n; r++) {
    indices.set(graph.indices.subarray(r * graph.k, r * graph.k + k), r * k);
    similarities.set(graph.similarities.subarray(r * graph.k, r * graph.k + k), r * k);
  }
  return { n: graph.n, k, indices, similarities };
}

/** Up to `limit` row indices spread evenly over 0..n-1 (all of them when n ≤ limit). */
function sampleRows(n: number, limit: number): number[] {
  if (n <= limit) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: limit }, (_, s) => Math.floor((s * n) / limit));
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
