import type { EncoderSpec } from '../../shared/contract/curate.js';
import type { Catalog, DatasetImage } from '../catalog/catalog.js';
import { conflict } from '../common/errors.js';
import type { JobContext } from '../common/jobs.js';
import { type CrossKnn, nearestNeighbours } from './cross-knn.js';
import { embedImages, type EmbedResult } from './embeddings.js';
import { withEncoder } from './encoders.js';

/** A pool dataset and a second one (an evaluation set, a seed set), their images and embeddings by one encoder. */
export interface TwoSets {
  datasetId: number;
  otherId: number;
  pool: DatasetImage[];
  other: DatasetImage[];
  poolEmb: EmbedResult;
  otherEmb: EmbedResult;
}

/**
 * What decontamination and retrieval both start with: both datasets resolved by name, the `apply` name checked as
 * free before any work, and both sets embedded with the same encoder (opened once, closed after).
 */
export async function embedTwoSets(
  catalog: Catalog,
  names: { dataset: string; other: string; apply?: string | undefined; encoder?: EncoderSpec | undefined },
  ctx: JobContext,
): Promise<TwoSets> {
  const datasetId = catalog.datasetIdByName(names.dataset);
  const otherId = catalog.datasetIdByName(names.other);
  if (names.apply !== undefined && catalog.findDatasetByName(names.apply)) throw conflict(`a dataset named "${names.apply}" already exists`);
  ctx.setPhase('loading');
  const pool = catalog.datasetImages(datasetId);
  const other = catalog.datasetImages(otherId);
  const [poolEmb, otherEmb] = await withEncoder(catalog, names.encoder, async (encoder) => [
    await embedImages(catalog, pool, ctx, { encoder }),
    await embedImages(catalog, other, ctx, { encoder }),
  ]);
  return { datasetId, otherId, pool, other, poolEmb, otherEmb };
}

/** The k nearest `base` rows of each `queries` row, under the job's progress and cancel; images that failed to embed take no part. */
export function nearestBetween(queries: EmbedResult, base: EmbedResult, k: number, ctx: JobContext): CrossKnn {
  const near = nearestNeighbours(queries.vectors, base.vectors, queries.dim, k, {
    signal: ctx.signal,
    onProgress: (d) => ctx.progress(d),
    skipQueries: new Set(queries.failed),
    skipBase: new Set(base.failed),
  });
  ctx.throwIfCancelled();
  return near;
}
