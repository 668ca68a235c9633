import {
  DecontaminateInput,
  type DecontaminateOptions,
  type DecontaminateResult,
} from '../../shared/contract/curate-versions.js';
import type { Catalog, DatasetImage } from '../catalog/catalog.js';
import type { JobContext } from '../common/jobs.js';
import { parseHash64, popcount32, type Hash64 } from './hamming-index.js';
import { parseCurateOptions } from './options.js';
import { embedTwoSets, nearestBetween } from './two-sets.js';

export function parseDecontaminateOptions(input: unknown): DecontaminateOptions {
  return parseCurateOptions(DecontaminateInput, input);
}

/**
 * Finds pool images within the threshold of ANY image of an evaluation dataset: the nearest evaluation image of each
 * pool image (k = 1, exact) by descriptor cosine, and optionally by perceptual-hash distance. With `apply`, a curated
 * version without them is created in one transaction at the very end, so a cancel or a failure leaves the catalog as
 * it was. A pool image with the same bytes (sha256) as an evaluation image is always contaminated, even when
 * no descriptor could be computed for it.
 */
export async function runDecontaminate(catalog: Catalog, options: DecontaminateOptions, ctx: JobContext): Promise<DecontaminateResult> {
  const started = performance.now();
  const opts = parseDecontaminateOptions(options);
  const { datasetId, otherId: againstId, pool, other: evalSet, poolEmb, otherEmb: evalEmb } = await embedTwoSets(
    catalog,
    { dataset: opts.dataset, other: opts.against, apply: opts.apply, encoder: opts.encoder },
    ctx,
  );
  ctx.setPhase('comparing', pool.length);
  const nearest = nearestBetween(poolEmb, evalEmb, 1, ctx);

  const hits = new Map<number, DecontaminateResult['contaminated'][number]>();
  const evalBySha = new Map<string, string>();
  for (const e of evalSet) if (e.sha256 && !evalBySha.has(e.sha256)) evalBySha.set(e.sha256, e.path);
  pool.forEach((img, i) => {
    const same = img.sha256 ? evalBySha.get(img.sha256) : undefined;
    if (same !== undefined) {
      hits.set(i, { imageId: img.id, path: img.path, evalPath: same, similarity: 1, match: 'exact' });
      return;
    }
    const j = nearest.indices[i]!;
    const sim = nearest.similarities[i]!;
    if (j >= 0 && sim >= opts.cosine) hits.set(i, { imageId: img.id, path: img.path, evalPath: evalSet[j]!.path, similarity: round4(sim), match: 'embedding' });
  });
  if (opts.phashDistance !== undefined) {
    ctx.setPhase('hashes', pool.length);
    for (const [i, hit] of phashMatches(pool, evalSet, opts.phashDistance, ctx)) if (!hits.has(i)) hits.set(i, hit);
  }
  const contaminated = [...hits.values()].sort((a, b) => b.similarity - a.similarity || a.imageId - b.imageId);

  let applied: DecontaminateResult['applied'] = null;
  if (opts.apply !== undefined) {
    ctx.throwIfCancelled();
    ctx.setPhase('applying');
    const members = pool.filter((_, i) => !hits.has(i)).map((img) => ({ imageId: img.id, label: img.label }));
    const description = `${opts.dataset} without ${hits.size} images near "${opts.against}" (cosine ≥ ${opts.cosine}${opts.phashDistance !== undefined ? `, phash ≤ ${opts.phashDistance}` : ''})`;
    const id = catalog.createDerivedDataset(opts.apply, 'curated', datasetId, members, description);
    applied = { name: opts.apply, datasetId: id, imageCount: members.length };
  }
  return {
    dataset: opts.dataset,
    datasetId,
    against: opts.against,
    againstId,
    cosine: opts.cosine,
    phashDistance: opts.phashDistance ?? null,
    imageCount: pool.length,
    evalCount: evalSet.length,
    removed: hits.size,
    kept: pool.length - hits.size,
    embeddingFailures: poolEmb.failed.length + evalEmb.failed.length,
    encoder: poolEmb.encoder,
    contaminated,
    applied,
    seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
  };
}

function round4(x: number): number {
  return Number(x.toFixed(4));
}

function safeHash(hex: string | null): Hash64 | null {
  if (!hex) return null;
  try {
    return parseHash64(hex);
  } catch {
    return null;
  }
}

/**
 * Pool images whose hash is within `maxDistance` bits of some evaluation image's. A scan of pool × eval hashes:
 * two XORs and popcounts per pair, ~10⁸ pairs a second, so it is not the bottleneck next to the descriptors.
 */
function phashMatches(pool: readonly DatasetImage[], evalSet: readonly DatasetImage[], maxDistance: number, ctx: JobContext) {
  const evalHashes = evalSet.map((e) => safeHash(e.phash));
  const out = new Map<number, DecontaminateResult['contaminated'][number]>();
  pool.forEach((img, i) => {
    if (i % 1024 === 0) {
      ctx.throwIfCancelled();
      ctx.progress(i);
    }
    const h = safeHash(img.phash);
    if (!h) return;
    let best = 65;
    let bestJ = -1;
    evalHashes.forEach((e, j) => {
      if (!e) return;
      const d = popcount32(h.hi ^ e.hi) + popcount32(h.lo ^ e.lo);
      if (d < best) {
        best = d;
        bestJ = j;
      }
    });
    if (bestJ >= 0 && best <= maxDistance) {
      out.set(i, { imageId: img.id, path: img.path, evalPath: evalSet[bestJ]!.path, similarity: round4(1 - best / 64), match: 'phash' });
    }
  });
  ctx.progress(pool.length);
  return out;
}
