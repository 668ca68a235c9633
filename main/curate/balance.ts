import {
  BalanceInput,
  RetrieveInput,
  type BalanceOptions,
  type BalanceResult,
  type RetrieveOptions,
  type RetrieveResult,
} from '../../shared/contract/curate-versions.js';
import type { Catalog, DatasetImage } from '../catalog/catalog.js';
import { conflict, invalid } from '../common/errors.js';
import type { JobContext } from '../common/jobs.js';
import { mulberry32 } from '../common/random.js';
import { defaultClusterCount, kmeans } from './kmeans.js';
import { embedImages } from './embeddings.js';
import { withEncoder } from './encoders.js';
import { parseCurateOptions } from './options.js';
import { embedTwoSets, nearestBetween } from './two-sets.js';

export function parseBalanceOptions(input: unknown): BalanceOptions {
  return parseCurateOptions(BalanceInput, input);
}
export function parseRetrieveOptions(input: unknown): RetrieveOptions {
  return parseCurateOptions(RetrieveInput, input);
}

/**
 * Which points each cluster keeps under a cap: `nearest` keeps the `cap` points closest to the centroid (ties by
 * index), `random` a seeded draw without replacement. Returns the kept point indices, ascending.
 */
export function capClusters(
  assignments: Int32Array,
  distances: Float32Array,
  k: number,
  cap: number,
  rule: 'nearest' | 'random',
  seed = 0,
): number[] {
  const members: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < assignments.length; i++) members[assignments[i]!]!.push(i);
  const random = mulberry32(seed);
  const kept: number[] = [];
  for (const list of members) {
    if (list.length <= cap) {
      kept.push(...list);
      continue;
    }
    if (rule === 'nearest') {
      list.sort((a, b) => distances[a]! - distances[b]! || a - b);
    } else {
      for (let i = 0; i < cap; i++) {
        const j = i + Math.floor(random() * (list.length - i));
        [list[i], list[j]] = [list[j]!, list[i]!];
      }
    }
    kept.push(...list.slice(0, cap));
  }
  return kept.sort((a, b) => a - b);
}

/** The rows of `vectors` whose index is not in `failed`, packed, with the image index of each packed row. */
function packEmbedded(vectors: Float32Array, dim: number, n: number, failed: readonly number[]) {
  const bad = new Set(failed);
  const rows: number[] = [];
  for (let i = 0; i < n; i++) if (!bad.has(i)) rows.push(i);
  const packed = new Float32Array(rows.length * dim);
  rows.forEach((i, r) => packed.set(vectors.subarray(i * dim, i * dim + dim), r * dim));
  return { rows, packed };
}

function applyVersion(
  catalog: Catalog,
  name: string | undefined,
  parentId: number,
  images: readonly DatasetImage[],
  keep: readonly number[],
  description: string,
  ctx: JobContext,
) {
  if (name === undefined) return null;
  ctx.throwIfCancelled();
  ctx.setPhase('applying');
  const members = keep.map((i) => ({ imageId: images[i]!.id, label: images[i]!.label }));
  const id = catalog.createDerivedDataset(name, 'curated', parentId, members, description);
  return { name, datasetId: id, imageCount: members.length };
}

/**
 * k-means on the descriptors (k given, or √N), then at most `perCluster` images per cluster (default ⌈N/k⌉, the
 * mean size, so only over-full clusters shrink). The new version is written in one transaction at the end.
 */
export async function runBalance(catalog: Catalog, options: BalanceOptions, ctx: JobContext): Promise<BalanceResult> {
  const started = performance.now();
  const opts = parseBalanceOptions(options);
  const datasetId = catalog.datasetIdByName(opts.dataset);
  if (opts.apply !== undefined && catalog.findDatasetByName(opts.apply)) throw conflict(`a dataset named "${opts.apply}" already exists`);
  ctx.setPhase('loading');
  const images = catalog.datasetImages(datasetId);
  if (images.length === 0) throw invalid(`dataset "${opts.dataset}" has no usable images`);
  const emb = await withEncoder(catalog, opts.encoder, (encoder) => embedImages(catalog, images, ctx, { encoder }));
  const { rows, packed } = packEmbedded(emb.vectors, emb.dim, images.length, emb.failed);
  if (rows.length === 0) throw invalid(`no image of "${opts.dataset}" could be described`);
  const k = opts.clusters ?? defaultClusterCount(rows.length);
  if (k > rows.length) throw invalid(`clusters: ${k} clusters asked for ${rows.length} images; use at most ${rows.length}`);
  const cap = opts.perCluster ?? Math.ceil(rows.length / k);

  ctx.setPhase('clustering', opts.maxIterations);
  const km = kmeans(packed, emb.dim, {
    k,
    seed: opts.seed,
    maxIterations: opts.maxIterations,
    signal: ctx.signal,
    onIteration: (it, changed) => ctx.progress(it, 0, `${changed} moved`),
  });
  ctx.throwIfCancelled();
  const keptPacked = capClusters(km.assignments, km.distances, k, cap, opts.keep, opts.seed);
  const clusterSizes = new Array<number>(k).fill(0);
  const keptSizes = new Array<number>(k).fill(0);
  for (let r = 0; r < rows.length; r++) clusterSizes[km.assignments[r]!]!++;
  for (const r of keptPacked) keptSizes[km.assignments[r]!]!++;
  const keep = keptPacked.map((r) => rows[r]!);
  const applied = applyVersion(
    catalog,
    opts.apply,
    datasetId,
    images,
    keep,
    `${opts.dataset} balanced: k-means k=${k} (seed ${opts.seed}), at most ${cap} per cluster (${opts.keep})`,
    ctx,
  );
  return {
    dataset: opts.dataset,
    datasetId,
    imageCount: images.length,
    clusters: k,
    perCluster: cap,
    keep: opts.keep,
    seed: opts.seed,
    iterations: km.iterations,
    clusterSizes,
    keptSizes,
    removed: images.length - keep.length,
    kept: keep.length,
    embeddingFailures: emb.failed.length,
    encoder: emb.encoder,
    applied,
    seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
  };
}

/**
 * Retrieval around a curated seed set: the `perImage` nearest pool images (cosine of the encoder's embeddings) of every seed
 * image, as one deduplicated union in pool order.
 */
export async function runRetrieve(catalog: Catalog, options: RetrieveOptions, ctx: JobContext): Promise<RetrieveResult> {
  const started = performance.now();
  const opts = parseRetrieveOptions(options);
  const { datasetId, pool, other: seeds, poolEmb, otherEmb: seedEmb } = await embedTwoSets(
    catalog,
    { dataset: opts.dataset, other: opts.seedDataset, apply: opts.apply, encoder: opts.encoder },
    ctx,
  );
  ctx.setPhase('retrieving', seeds.length);
  const near = nearestBetween(seedEmb, poolEmb, opts.perImage, ctx);
  const chosen = new Set<number>();
  for (const j of near.indices) if (j >= 0) chosen.add(j);
  const keep = [...chosen].sort((a, b) => a - b);
  const applied = applyVersion(
    catalog,
    opts.apply,
    datasetId,
    pool,
    keep,
    `${opts.dataset}: the ${opts.perImage} nearest of each of ${seeds.length} images of "${opts.seedDataset}"`,
    ctx,
  );
  return {
    dataset: opts.dataset,
    datasetId,
    seedDataset: opts.seedDataset,
    seedCount: seeds.length,
    perImage: opts.perImage,
    imageCount: pool.length,
    removed: pool.length - keep.length,
    kept: keep.length,
    embeddingFailures: poolEmb.failed.length + seedEmb.failed.length,
    encoder: poolEmb.encoder,
    applied,
    seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
  };
}
