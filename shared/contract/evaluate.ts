import { z } from 'zod';
import { request } from './define.js';
import { DatasetName, Empty, FsPath, Id } from './common.js';
import { BackboneName } from './train.js';

export const Protocol = z.enum(['linear', 'knn']);
export type Protocol = z.infer<typeof Protocol>;

/** What `curio eval` and the Reports page ask for. */
export const EvalInput = z
  .object({
    /** a run id, or 'random' for a random-init encoder of `backbone` */
    run: z.union([Id, z.literal('random')]),
    /** the architecture for run 'random'; a run brings its own */
    backbone: BackboneName.default('small'),
    trainDataset: DatasetName,
    testDataset: DatasetName,
    protocols: z.array(Protocol).min(1).default(['linear', 'knn']),
    fractions: z.array(z.number().gt(0).lt(1)).max(5).default([0.01, 0.1]),
    seed: z.number().int().min(0).default(0),
  })
  .strict();
export type EvalInput = z.input<typeof EvalInput>;

const Accuracy = z.number().min(0).max(1);

export const LinearResult = z.object({
  top1: Accuracy,
  top5: Accuracy,
  perClass: z.array(Accuracy),
  confusion: z.array(z.array(z.number().int().nonnegative())),
  /** the L2 strength chosen on the validation split */
  l2: z.number(),
});
export const KnnResult = z.object({ k10: Accuracy, k20: Accuracy, k100: Accuracy });
export const FractionResult = z.object({ mean: Accuracy, std: z.number().nonnegative(), runs: z.array(Accuracy) });

export const EncoderInfo = z.object({
  kind: z.enum(['run', 'random']),
  runId: Id.nullable(),
  backbone: z.string(),
  method: z.string().nullable(),
  epochs: z.number().int().nullable(),
  steps: z.number().int().nullable(),
  imageSize: z.number().int(),
});

export const Report = z.object({
  id: Id,
  createdAt: z.string(),
  encoder: EncoderInfo,
  trainDatasetId: Id,
  testDatasetId: Id,
  trainDataset: z.string(),
  testDataset: z.string(),
  classes: z.array(z.string()),
  linear: LinearResult.nullable(),
  knn: KnnResult.nullable(),
  /** label fraction ("0.01", "0.1") → linear-probe top-1 over 3 seeds */
  fractions: z.record(z.string(), FractionResult),
  baselines: z.object({
    random: z.object({ linear: z.object({ top1: Accuracy }).nullable(), knn: z.object({ k20: Accuracy }).nullable() }),
    pixels: z.object({ linear: z.object({ top1: Accuracy }) }),
  }),
  /** e.g. train and test share images (same sha256): a leak, with its count */
  warnings: z.array(z.string()),
  leakCount: z.number().int().nonnegative(),
  seconds: z.number().nonnegative(),
  /**
   * Which runtime computed each encoder feature set ("run 3 features: train"…), and why not ONNX Runtime where it
   * was tfjs; `runtime` is null for a cache file that did not record it. Absent in reports stored before it was kept.
   */
  extraction: z
    .array(
      z.object({
        features: z.string(),
        runtime: z.enum(['onnxruntime', 'tfjs']).nullable(),
        fallback: z.string().nullable(),
        cached: z.boolean(),
      }),
    )
    .optional(),
});
export type Report = z.infer<typeof Report>;

export const ReportSummary = Report.pick({ id: true, createdAt: true, encoder: true, trainDataset: true, testDataset: true }).extend({
  linearTop1: Accuracy.nullable(),
  knnK20: Accuracy.nullable(),
});
export type ReportSummary = z.infer<typeof ReportSummary>;

export const evaluateRequests = {
  'reports.list': request('Every evaluation report, newest first', Empty, z.array(ReportSummary)),
  'reports.get': request('One report whole', z.object({ reportId: Id }).strict(), Report),
  'reports.start': request('Evaluate an encoder (a run or a random init) on a train/test pair; a job', EvalInput, z.object({ jobId: z.string() })),
  'reports.export': request(
    'Write a report as self-contained HTML, JSON or PDF into a folder the user chose',
    z.object({ reportId: Id, format: z.enum(['html', 'json', 'pdf']), out: FsPath }).strict(),
    z.object({ file: z.string() }),
  ),
  'reports.attention': request(
    'Last-layer CLS attention of each head of a ViT run over sample images (DINO maps), as PNG data URLs',
    z.object({ runId: Id, datasetId: Id, count: z.number().int().min(1).max(16).default(4) }).strict(),
    z.object({
      heads: z.number().int(),
      images: z.array(z.object({ imageId: Id, image: z.string(), maps: z.array(z.string()) })),
    }),
  ),
} as const;
