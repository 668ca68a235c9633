import { z } from 'zod';
import { request } from './define.js';
import { DatasetName, Id } from './common.js';
import { EncoderSpec } from './curate.js';

/**
 * What the Curation page needs to review a dataset before (and besides) a dedup job: each image's similarity to its
 * nearest neighbour (for the histogram), how many images a cosine threshold would remove, and a 2-D map of the
 * embeddings. Then an apply step that honours the groups the user rejected.
 */
export const REVIEW_MAP_LIMIT = 5000;
export const REVIEW_HISTOGRAM_BINS = 1000;
/** removedAt[i] answers the threshold REVIEW_THRESHOLD_MIN + i * REVIEW_THRESHOLD_STEP */
export const REVIEW_THRESHOLD_MIN = 0.5;
export const REVIEW_THRESHOLD_STEP = 0.001;

export const ReviewInput = z
  .object({
    dataset: DatasetName,
    /** neighbours per image in the kNN graph the removal curve is counted on */
    k: z.number().int().min(1).max(100).default(10),
    /** colours on the map; √(points/2) capped at 12 when absent */
    clusters: z.number().int().min(1).max(12).optional(),
    /** the encoder (as the dedup job took it), so the review reads the vectors dedup stored */
    encoder: EncoderSpec.optional(),
  })
  .strict();
export type ReviewInput = z.input<typeof ReviewInput>;

export const ReviewPoint = z.object({
  imageId: Id,
  sha256: z.string().nullable(),
  label: z.string().nullable(),
  x: z.number(),
  y: z.number(),
  cluster: z.number().int().nonnegative(),
  /** cosine similarity to its nearest neighbour; null when the image could not be embedded */
  nearest: z.number().nullable(),
});
export type ReviewPoint = z.infer<typeof ReviewPoint>;

/** How the map was laid out: UMAP (neighbourhood-preserving) or, for very few points or as a fallback, PCA. */
export const MapProjection = z.enum(['umap', 'pca']);
export type MapProjection = z.infer<typeof MapProjection>;

export const ReviewResult = z.object({
  dataset: z.string(),
  datasetId: Id,
  imageCount: z.number().int().nonnegative(),
  embeddingFailures: z.number().int().nonnegative(),
  /** images per nearest-neighbour similarity bin; REVIEW_HISTOGRAM_BINS equal bins over [0, 1] (below 0 counts in bin 0) */
  nearestHistogram: z.array(z.number().int().nonnegative()),
  /** images a threshold would remove (kNN edges at or above it, one kept per connected group), see REVIEW_THRESHOLD_* */
  removedAt: z.array(z.number().int().nonnegative()),
  /** a sample of at most REVIEW_MAP_LIMIT images, laid out in 2-D by `projection` and coloured by k-means cluster */
  points: z.array(ReviewPoint),
  clusters: z.number().int().nonnegative(),
  projection: MapProjection,
  /** share of the sample's variance the first two principal components explain (the map's axes when projection is 'pca') */
  explained: z.tuple([z.number(), z.number()]),
  seconds: z.number().nonnegative(),
});
export type ReviewResult = z.infer<typeof ReviewResult>;

export const ApplyReviewInput = z
  .object({
    dataset: DatasetName,
    name: DatasetName,
    /** the duplicates the user accepted for removal */
    remove: z.array(Id).max(10_000_000),
  })
  .strict();
export type ApplyReviewInput = z.input<typeof ApplyReviewInput>;
export const ApplyReviewResult = z.object({
  name: z.string(),
  datasetId: Id,
  imageCount: z.number().int().nonnegative(),
  removed: z.number().int().nonnegative(),
});
export type ApplyReviewResult = z.infer<typeof ApplyReviewResult>;

export const curateReviewRequests = {
  'curate.review': request(
    'Start a review job on a dataset: nearest-neighbour similarity histogram, removal count per cosine threshold and a 2-D map; the ReviewResult arrives as the job result',
    ReviewInput,
    z.object({ jobId: z.string() }),
  ),
  'curate.applyReview': request(
    'Make a curated version of a dataset without the given images (the reviewed duplicates); the original is untouched',
    ApplyReviewInput,
    ApplyReviewResult,
  ),
} as const;
