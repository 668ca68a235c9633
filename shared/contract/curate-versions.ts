import { z } from 'zod';
import { request } from './define.js';
import { DatasetName, FsPath, Id } from './common.js';
import { CurateEncoderInfo, EncoderSpec } from './curate.js';

/**
 * Curation steps that make a new dataset version from an existing one (decontamination, balancing, retrieval)
 * and the export of any dataset version. Each step only reports unless `apply` names the new version; the
 * original files are never touched.
 */

/**
 * Decontamination defaults: a pool image is dropped when its built-in descriptor has cosine ≥ 0.8 with some
 * evaluation image. Unlike dedup, no pixel check confirms the pair: a false removal costs one training image, a
 * missed near-copy inflates every score measured on the evaluation set, so the threshold leans to recall. Measured
 * with bench/curate/decontaminate-threshold.ts (60 CIFAR-10 originals as the eval set; 480 transformed copies and
 * 300 same-class distractors as the pool): 0.8 caught 95.4 % of the copies (crops are the weak case, 44/60) and
 * removed 1 of 300 distractors; 0.9 caught 86.0 % and removed none; 0.7 caught 97.3 % and removed 28.
 */
export const DECONTAMINATE_DEFAULTS = { cosine: 0.8 };
export const DecontaminateCosine = z
  .number()
  .min(0.5, 'cosine threshold must be in 0.5..1')
  .max(1, 'cosine threshold must be in 0.5..1');

export const AppliedVersion = z.object({ name: z.string(), datasetId: Id, imageCount: z.number().int().nonnegative() }).nullable();

export const DecontaminateInput = z
  .object({
    dataset: DatasetName,
    /** the evaluation dataset whose near-copies leave the pool */
    against: DatasetName,
    cosine: DecontaminateCosine.default(DECONTAMINATE_DEFAULTS.cosine),
    /** also drop pool images whose 64-bit perceptual hash is within this many bits of an evaluation image's */
    phashDistance: z.number().int('phash distance must be a whole number of bits').min(0, 'phash distance must be in 0..32').max(32, 'phash distance must be in 0..32').optional(),
    /** the encoder the images are embedded with; the built-in descriptor when absent */
    encoder: EncoderSpec.optional(),
    apply: DatasetName.optional(),
  })
  .strict();
export type DecontaminateOptions = z.output<typeof DecontaminateInput>;

export const Contaminated = z.object({
  imageId: Id,
  path: z.string(),
  /** the closest evaluation image */
  evalPath: z.string(),
  /** 1 for the same bytes; else cosine to it (the descriptor's), or 1 − Hamming/64 when only the hash matched */
  similarity: z.number(),
  /** exact: same sha256 (always checked, even for images without a descriptor) */
  match: z.enum(['exact', 'embedding', 'phash']),
});
export const DecontaminateResult = z.object({
  dataset: z.string(),
  datasetId: Id,
  against: z.string(),
  againstId: Id,
  cosine: z.number(),
  phashDistance: z.number().int().nullable(),
  imageCount: z.number().int().nonnegative(),
  evalCount: z.number().int().nonnegative(),
  removed: z.number().int().nonnegative(),
  kept: z.number().int().nonnegative(),
  /** pool or eval images without a descriptor (compared by hash only, when phashDistance is given) */
  embeddingFailures: z.number().int().nonnegative(),
  /** the encoder the images were embedded with, and how it ran */
  encoder: CurateEncoderInfo.optional(),
  contaminated: z.array(Contaminated),
  applied: AppliedVersion,
  seconds: z.number().nonnegative(),
});
export type DecontaminateResult = z.infer<typeof DecontaminateResult>;

/** Which images a capped cluster keeps: those nearest its centroid (the most typical), or a seeded random draw. */
export const BalanceKeep = z.enum(['nearest', 'random']);
export const BalanceInput = z
  .object({
    dataset: DatasetName,
    /** k; √N when absent */
    clusters: z.number().int('clusters must be a whole number').min(1, 'clusters must be at least 1').max(100_000, 'clusters must be at most 100000').optional(),
    /** the most images a cluster keeps; the mean cluster size (⌈N/k⌉) when absent */
    perCluster: z.number().int('per-cluster must be a whole number').min(1, 'per-cluster must be at least 1').optional(),
    keep: BalanceKeep.default('nearest'),
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
    maxIterations: z.number().int().min(1).max(1000).default(25),
    /** the encoder the images are embedded with; the built-in descriptor when absent */
    encoder: EncoderSpec.optional(),
    apply: DatasetName.optional(),
  })
  .strict();
export type BalanceOptions = z.output<typeof BalanceInput>;
export const BalanceResult = z.object({
  dataset: z.string(),
  datasetId: Id,
  imageCount: z.number().int().nonnegative(),
  clusters: z.number().int().nonnegative(),
  perCluster: z.number().int().nonnegative(),
  keep: BalanceKeep,
  seed: z.number().int(),
  iterations: z.number().int().nonnegative(),
  /** images per cluster before and after the cap, by cluster */
  clusterSizes: z.array(z.number().int().nonnegative()),
  keptSizes: z.array(z.number().int().nonnegative()),
  removed: z.number().int().nonnegative(),
  kept: z.number().int().nonnegative(),
  /** images without a descriptor: not clustered, not kept */
  embeddingFailures: z.number().int().nonnegative(),
  /** the encoder the images were embedded with, and how it ran */
  encoder: CurateEncoderInfo.optional(),
  applied: AppliedVersion,
  seconds: z.number().nonnegative(),
});
export type BalanceResult = z.infer<typeof BalanceResult>;

export const RetrieveInput = z
  .object({
    dataset: DatasetName,
    /** a curated seed set; the pool images nearest each of its images are kept */
    seedDataset: DatasetName,
    perImage: z.number().int('per-image must be a whole number').min(1, 'per-image must be in 1..1000').max(1000, 'per-image must be in 1..1000'),
    /** the encoder the images are embedded with; the built-in descriptor when absent */
    encoder: EncoderSpec.optional(),
    apply: DatasetName.optional(),
  })
  .strict();
export type RetrieveOptions = z.output<typeof RetrieveInput>;
export const RetrieveResult = z.object({
  dataset: z.string(),
  datasetId: Id,
  seedDataset: z.string(),
  seedCount: z.number().int().nonnegative(),
  perImage: z.number().int(),
  imageCount: z.number().int().nonnegative(),
  removed: z.number().int().nonnegative(),
  kept: z.number().int().nonnegative(),
  embeddingFailures: z.number().int().nonnegative(),
  /** the encoder the images were embedded with, and how it ran */
  encoder: CurateEncoderInfo.optional(),
  applied: AppliedVersion,
  seconds: z.number().nonnegative(),
});
export type RetrieveResult = z.infer<typeof RetrieveResult>;

export const ExportFormat = z.enum(['csv', 'json', 'copy', 'symlink']);
export type ExportFormat = z.infer<typeof ExportFormat>;
export const ExportInput = z
  .object({
    dataset: DatasetName,
    format: ExportFormat,
    /** the folder written into; created when missing, refused when not empty unless `force` */
    out: FsPath,
    force: z.boolean().default(false),
  })
  .strict();
export type ExportOptions = z.output<typeof ExportInput>;
export const ExportResult = z.object({
  dataset: z.string(),
  format: ExportFormat,
  out: z.string(),
  /** images written (manifest rows, or files copied/linked) */
  written: z.number().int().nonnegative(),
  /** the manifest file (csv/json), or null for copy/symlink */
  manifest: z.string().nullable(),
  seconds: z.number().nonnegative(),
});
export type ExportResult = z.infer<typeof ExportResult>;

const JobStarted = z.object({ jobId: z.string() });
export const curateVersionRequests = {
  'curate.decontaminate': request(
    'Start decontamination: pool images too close to an evaluation dataset (report only unless `apply` names a new curated version); the DecontaminateResult is the job result',
    DecontaminateInput,
    JobStarted,
  ),
  'curate.balance': request(
    'Start k-means balancing with a per-cluster cap (report only unless `apply`); the BalanceResult is the job result',
    BalanceInput,
    JobStarted,
  ),
  'curate.retrieve': request(
    'Start retrieval around a seed dataset: keep the N nearest pool images of each seed image (report only unless `apply`); the RetrieveResult is the job result',
    RetrieveInput,
    JobStarted,
  ),
  'curate.export': request(
    'Start exporting a dataset version as a CSV/JSON manifest or a copied/symlinked folder; the ExportResult is the job result',
    ExportInput,
    JobStarted,
  ),
} as const;
