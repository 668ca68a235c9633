import type { RunConfig, RunMetrics } from '../../../shared/contract/train.js';

/** The file name of a run's checkpoint inside its run folder. */
export const CHECKPOINT_FILE = 'checkpoint.ckpt';

/** One image a run trains or monitors on. */
export interface RunImage {
  path: string;
  label: string | null;
}

/** What the main thread hands a training worker: plain data only. */
export interface SessionInput {
  runId: number;
  /** resolved: imageSize set, pipeline resolved to a spec */
  config: RunConfig & { imageSize: number; pipeline: Record<string, unknown> };
  images: RunImage[];
  /** held-out labeled images for the per-epoch kNN monitor (empty without labels) */
  monitor: RunImage[];
  runDir: string;
  /** checkpoint to continue from */
  resumeFrom: string | null;
}

/** Worker → main. */
export type WorkerMessage =
  | { type: 'backend'; backend: string; reason: string }
  | { type: 'metrics'; metrics: RunMetrics }
  | { type: 'log'; line: string }
  | { type: 'checkpoint'; file: string; step: number }
  | { type: 'status'; status: 'running' | 'paused' }
  | { type: 'done'; summary: RunSummary; stopped: boolean }
  | { type: 'error'; message: string };

/** Main → worker. */
export type ControlMessage = { type: 'pause' } | { type: 'resume' } | { type: 'stop' };

export interface RunSummary {
  steps: number;
  epochs: number;
  loss: number | null;
  knnTop1: number | null;
  embeddingStd: number | null;
  imagesPerSecond: number;
  seconds: number;
  backend: string;
  checkpoint: string | null;
}

/** The checkpoint header: enough to continue exactly where the run left off. */
export interface CheckpointMeta {
  runId: number;
  step: number;
  epoch: number;
  /** batches of `epoch` already done */
  batchInEpoch: number;
  totalSteps: number;
  /** ms spent in the training loop so far (pauses excluded), so a time budget spans resumes; absent in old files */
  activeMs?: number;
  config: SessionInput['config'];
  optimizer: { step: number; slotNames: string[] } | Record<string, unknown>;
  savedAt: string;
}
