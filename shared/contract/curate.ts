import { z } from 'zod';
import { request } from './define.js';
import { DatasetName, Empty, Id } from './common.js';

export const DedupStrategy = z.enum(['exact', 'phash', 'embedding']);
export type DedupStrategy = z.infer<typeof DedupStrategy>;
export const KeepRule = z.enum(['resolution', 'size', 'first']);
export type KeepRule = z.infer<typeof KeepRule>;

/**
 * The shipped default: all three strategies with the thresholds that the ground-truth test
 * (test/main/curate/ground-truth.test.ts) holds to its precision/recall goal, using the built-in descriptor.
 * The embedding strategy's cosine threshold only proposes pairs (among each image's k nearest); every proposed pair
 * is then confirmed or rejected by a pixel check that aligns the two images (crops, mirrors) and correlates their
 * edges. So the default cosine is low: it decides which pairs are worth checking, not which are duplicates.
 */
export const DEDUP_DEFAULTS = {
  strategies: ['exact', 'phash', 'embedding'] as DedupStrategy[],
  phashDistance: 4,
  cosine: 0.5,
  k: 10,
  keep: 'resolution' as KeepRule,
};

export const PHASH_DISTANCE_RANGE = [0, 32] as const;
export const COSINE_RANGE = [0.5, 1] as const;

export const PhashDistance = z
  .number()
  .int('phash distance must be a whole number of bits')
  .min(PHASH_DISTANCE_RANGE[0], `phash distance must be in ${PHASH_DISTANCE_RANGE[0]}..${PHASH_DISTANCE_RANGE[1]}`)
  .max(PHASH_DISTANCE_RANGE[1], `phash distance must be in ${PHASH_DISTANCE_RANGE[0]}..${PHASH_DISTANCE_RANGE[1]}`);
export const CosineThreshold = z
  .number()
  .min(COSINE_RANGE[0], `cosine threshold must be in ${COSINE_RANGE[0]}..${COSINE_RANGE[1]}`)
  .max(COSINE_RANGE[1], `cosine threshold must be in ${COSINE_RANGE[0]}..${COSINE_RANGE[1]}`);

/**
 * Which encoder embeds the images for the embedding strategy (and decontamination, balancing, review):
 * 'builtin' (the built-in descriptor, the default), a run id (the backbone of that run's last checkpoint), or the
 * path of a model: a Curio encoder folder (model.json + weights.bin from `curio export-encoder`), its model.json,
 * a .onnx file, or a folder holding model.onnx.
 */
export const EncoderSpec = z
  .union([z.number(), z.string()], { error: 'encoder must be "builtin", a run id or a model path' })
  .superRefine((v, ctx) => {
    if (typeof v === 'number' && !(Number.isInteger(v) && v > 0)) ctx.addIssue({ code: 'custom', message: 'a run id is a positive whole number' });
    if (typeof v === 'string' && v.trim() === '') ctx.addIssue({ code: 'custom', message: 'the encoder path is empty' });
    if (typeof v === 'string' && v.length > 4096) ctx.addIssue({ code: 'custom', message: 'the encoder path is longer than 4096 characters' });
  });
export type EncoderSpec = z.infer<typeof EncoderSpec>;
export const BUILTIN_ENCODER_SPEC = 'builtin';

/** The encoder a job embedded with, and how it ran. */
export const CurateEncoderInfo = z.object({
  /** the embeddings' key: the built-in descriptor's version, a run id + step + weights hash, or a file's sha256 */
  id: z.string(),
  label: z.string(),
  runtime: z.enum(['builtin', 'onnxruntime', 'tfjs']),
  /** why a model encoder ran on tfjs instead of ONNX Runtime */
  fallback: z.string().nullable(),
});
export type CurateEncoderInfo = z.infer<typeof CurateEncoderInfo>;

export const DedupInput = z
  .object({
    dataset: DatasetName,
    strategies: z
      .array(DedupStrategy)
      .min(1, 'give at least one strategy')
      .refine((s) => new Set(s).size === s.length, 'strategies repeat')
      .default(DEDUP_DEFAULTS.strategies),
    phashDistance: PhashDistance.default(DEDUP_DEFAULTS.phashDistance),
    cosine: CosineThreshold.default(DEDUP_DEFAULTS.cosine),
    k: z.number().int().min(1).max(1000).default(DEDUP_DEFAULTS.k),
    keep: KeepRule.default(DEDUP_DEFAULTS.keep),
    /** the embedding strategy's encoder; the built-in descriptor when absent */
    encoder: EncoderSpec.optional(),
    /** name of the curated dataset version to create; report only when absent */
    apply: DatasetName.optional(),
  })
  .strict();
export type DedupInput = z.input<typeof DedupInput>;
export type DedupOptions = z.output<typeof DedupInput>;

export const DedupDuplicate = z.object({
  imageId: Id,
  path: z.string(),
  /** similarity to the kept image: 1 for identical bytes, else the encoder's cosine (or 1 - Hamming/64 without embeddings) */
  similarity: z.number(),
  /** the strongest evidence linking it directly to the kept image ('embedding': a proposed pair that passed the pixel check); 'group' when it joined through another member */
  match: z.enum(['exact', 'phash', 'embedding', 'group']),
});
export const DedupGroup = z.object({
  keepId: Id,
  keep: z.string(),
  duplicates: z.array(DedupDuplicate),
});
export type DedupGroup = z.infer<typeof DedupGroup>;

export const DedupResult = z.object({
  dataset: z.string(),
  datasetId: Id,
  strategies: z.array(DedupStrategy),
  phashDistance: z.number().int(),
  cosine: z.number(),
  k: z.number().int(),
  keep: KeepRule,
  imageCount: z.number().int().nonnegative(),
  /** duplicate edges each strategy found (before grouping) */
  edges: z.record(z.string(), z.number().int().nonnegative()),
  groups: z.array(DedupGroup),
  removed: z.number().int().nonnegative(),
  /** images the descriptor could not be computed for (they take part through exact and phash only) */
  embeddingFailures: z.number().int().nonnegative(),
  /** the encoder the embedding strategy used; absent when it did not run */
  encoder: CurateEncoderInfo.optional(),
  applied: z.object({ name: z.string(), datasetId: Id, imageCount: z.number().int().nonnegative() }).nullable(),
  seconds: z.number().nonnegative(),
});
export type DedupResult = z.infer<typeof DedupResult>;

export const curateRequests = {
  'curate.dedup': request(
    'Start near-duplicate detection on a dataset (report only unless `apply` names a new curated version); the DedupResult arrives as the job result',
    DedupInput,
    z.object({ jobId: z.string() }),
  ),
  'app.pickModelFile': request(
    'Ask the user for an encoder model file (a .onnx file or a model.json) with the native dialog; unsupported in browser mode, where the path field stands in',
    Empty,
    z.object({ supported: z.boolean(), path: z.string().nullable() }),
  ),
} as const;
