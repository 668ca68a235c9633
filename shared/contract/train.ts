import { z } from 'zod';
import { request } from './define.js';
import { DatasetName, Empty, FsPath, Id } from './common.js';

export const Method = z.enum(['simclr', 'mocov2', 'mocov3', 'byol', 'dino']);
export type Method = z.infer<typeof Method>;
export const BackboneName = z.enum(['small', 'resnet18', 'resnet50', 'vit-tiny', 'vit-small']);
export type BackboneName = z.infer<typeof BackboneName>;
export const BackendChoice = z.enum(['auto', 'webgpu', 'tensorflow', 'native', 'wasm', 'webgpu-gl', 'cpu']);
export type BackendChoice = z.infer<typeof BackendChoice>;

/** The most local crops a DINO run takes: the 10 of DINO's largest multi-crop setting (2×224 + 10×96), with room. */
export const MAX_LOCAL_CROPS = 12;

/** Everything a run needs to be reproduced; stored whole with the run. */
export const RunConfig = z
  .object({
    dataset: DatasetName,
    method: Method,
    backbone: BackboneName,
    /** pixels; defaults to the dataset's typical image size */
    imageSize: z.number().int().min(8).max(512).optional(),
    epochs: z.number().int().min(1).max(100_000).optional(),
    /** a time budget instead of epochs */
    minutes: z.number().positive().max(60 * 24 * 30).optional(),
    batchSize: z.number().int().min(2).max(8192).default(256),
    /** base learning rate; each method has a default scaled by batch size as in its paper */
    lr: z.number().positive().max(100).optional(),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(0),
    backend: BackendChoice.default('auto'),
    /** an augmentation pipeline spec (see augment.ts) or a preset name */
    pipeline: z.union([z.string().min(1).max(100), z.record(z.string(), z.unknown())]).optional(),
    checkpointMinutes: z.number().positive().max(24 * 60).default(5),
    /** a held-out labeled subset for the per-epoch kNN monitor, when the dataset has labels */
    monitorSize: z.number().int().min(0).max(100_000).default(1000),
    patchSize: z.number().int().min(2).max(64).optional(),
    queueSize: z.number().int().min(16).max(1_000_000).optional(),
    /**
     * DINO's multi-crop: local crops added to its 2 global crops (sizes follow the data: 16 px at 32, 96 at 224);
     * left out, the pipeline's own count stays (the DINO preset has 8). The other methods train on 2 views.
     */
    localCrops: z.number().int().min(0).max(MAX_LOCAL_CROPS).optional(),
  })
  .strict()
  .refine((c) => !(c.epochs !== undefined && c.minutes !== undefined), 'give epochs or minutes, not both')
  .refine((c) => c.method === 'dino' || !c.localCrops, {
    message: "local crops are DINO's multi-crop; the other methods train on exactly 2 views",
    path: ['localCrops'],
  });
export type RunConfig = z.output<typeof RunConfig>;
export type RunConfigInput = z.input<typeof RunConfig>;

export const RunStatus = z.enum(['queued', 'running', 'paused', 'stopped', 'done', 'failed', 'interrupted']);
export type RunStatus = z.infer<typeof RunStatus>;

export const Run = z.object({
  id: Id,
  name: z.string(),
  datasetId: Id.nullable(),
  config: z.record(z.string(), z.unknown()),
  status: RunStatus,
  createdAt: z.string(),
  updatedAt: z.string(),
  step: z.number().int().nonnegative(),
  epoch: z.number().int().nonnegative(),
  loss: z.number().nullable(),
  backend: z.string().nullable(),
  backendReason: z.string().nullable(),
  checkpoint: z.string().nullable(),
  error: z.string().nullable(),
});
export type Run = z.infer<typeof Run>;

export const StepMetrics = z.object({
  runId: Id,
  kind: z.literal('step'),
  step: z.number().int(),
  epoch: z.number().int(),
  loss: z.number(),
  lr: z.number(),
  imagesPerSecond: z.number(),
  /** bytes the backend reports in use */
  memoryBytes: z.number(),
  numTensors: z.number().int(),
  /** share of the step spent waiting for data */
  dataWait: z.number().min(0).max(1),
  time: z.string(),
});
export const EpochMetrics = z.object({
  runId: Id,
  kind: z.literal('epoch'),
  step: z.number().int(),
  epoch: z.number().int(),
  /** kNN (cosine, k=20) accuracy on the held-out labeled subset; null without labels */
  knnTop1: z.number().min(0).max(1).nullable(),
  /** std of the L2-normalised embeddings; near 0 means collapse (≈1/√d is healthy) */
  embeddingStd: z.number(),
  time: z.string(),
});
export const RunMetrics = z.discriminatedUnion('kind', [StepMetrics, EpochMetrics]);
export type RunMetrics = z.infer<typeof RunMetrics>;

export const runRequests = {
  'runs.list': request('Every pretraining run, newest first', Empty, z.array(Run)),
  'runs.get': request(
    'One run with its metric history',
    z.object({ runId: Id, maxPoints: z.number().int().min(10).max(100_000).default(2000) }).strict(),
    z.object({ run: Run, metrics: z.array(RunMetrics), logs: z.array(z.string()) }),
  ),
  'runs.start': request('Start a pretraining run in a worker', RunConfig, z.object({ runId: Id })),
  'runs.pause': request('Pause a running run (it keeps its place)', z.object({ runId: Id }).strict(), z.object({ ok: z.boolean() })),
  'runs.resume': request(
    'Resume a paused, stopped or interrupted run from its last checkpoint',
    z.object({ runId: Id }).strict(),
    z.object({ ok: z.boolean() }),
  ),
  'runs.stop': request('Stop a run after writing a checkpoint', z.object({ runId: Id }).strict(), z.object({ ok: z.boolean() })),
  'runs.exportEncoder': request(
    'Write a run\'s encoder as tfjs model files (model.json + weights) or ONNX',
    z.object({ runId: Id, format: z.enum(['tfjs', 'onnx']), out: FsPath }).strict(),
    z.object({ files: z.array(z.string()) }),
  ),
} as const;
