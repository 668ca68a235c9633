import * as tf from '@tensorflow/tfjs';
import type { RunMetrics } from '../../../shared/contract/train.js';

type StepRecord = Extract<RunMetrics, { kind: 'step' }>;

/** One trained step whose loss may still be on the device. */
export interface PendingStep {
  step: number;
  epoch: number;
  /** a number once read (the synchronous path), or the step's scalar loss tensor, owned by the window */
  loss: number | tf.Scalar;
  lr: number;
  images: number;
  /** waiting for the batch, and the whole step including that wait, in ms */
  dataWaitMs: number;
  stepMs: number;
  memoryBytes: number;
  numTensors: number;
  time: string;
}

/** How often a backend's step losses are read back, unless CURIO_METRICS_EVERY says otherwise. */
export function defaultReadbackEvery(backend: string): number {
  // On native/wasm/cpu a read is a copy of memory the step already waited for; on a GPU (webgpu, and webgpu-gl's
  // queue) it stalls the queue until the step is done, so the next step cannot be queued behind it.
  return backend === 'webgpu' || backend === 'webgpu-gl' ? 10 : 1;
}

/** CURIO_METRICS_EVERY=N (a positive integer) overrides the backend's default; anything else is an error. */
export function readbackEveryFromEnv(env: NodeJS.ProcessEnv = process.env): number | null {
  const raw = env.CURIO_METRICS_EVERY?.trim();
  if (!raw) return null;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`CURIO_METRICS_EVERY must be a positive integer, got "${raw}"`);
  return n;
}

/**
 * The step metrics of a run, read from the device `every` steps in one batch: the window's scalar losses are
 * stacked and read with one async data(), then each step is reported with its own loss, in order, as if it had
 * been read at its step. The rates that depend on the device's pace (images/s, data wait) are the window's: with
 * asynchronous steps, the time of one step is not observable, only that of the steps between two reads. With
 * every = 1 and number losses this is exactly the per-step stream. Call flush() before anything that must see the
 * losses so far (a checkpoint, a pause, the epoch monitor, the end); a non-finite loss throws there, after the
 * finite steps before it have been emitted.
 */
export class StepMetricWindow {
  private pending: PendingStep[] = [];
  /** device reads made so far */
  readbacks = 0;
  lastLoss: number | null = null;
  /** ms spent waiting for reads, for the run's throughput */
  readMs = 0;

  constructor(
    readonly every: number,
    private readonly runId: number,
    private readonly emit: (metrics: StepRecord) => void,
  ) {
    if (!Number.isInteger(every) || every < 1) throw new Error(`metrics readback interval must be a positive integer, got ${every}`);
  }

  /** Loss tensors held here, not yet read: the session leaves them out of its live-tensor count. */
  get heldTensors(): number {
    return this.pending.reduce((s, p) => s + (typeof p.loss === 'number' ? 0 : 1), 0);
  }

  get full(): boolean {
    return this.pending.length >= this.every;
  }

  add(step: PendingStep): void {
    this.pending.push(step);
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const steps = this.pending;
    this.pending = [];
    const t0 = performance.now();
    const readsBefore = this.readbacks;
    let losses: number[];
    try {
      const tensors = steps.flatMap((s) => (typeof s.loss === 'number' ? [] : [s.loss]));
      let read: Float32Array | null = null;
      if (tensors.length > 0) {
        const stacked = tf.stack(tensors);
        try {
          this.readbacks++;
          read = (await stacked.data()) as Float32Array;
        } finally {
          stacked.dispose();
        }
      }
      let k = 0;
      losses = steps.map((s) => (typeof s.loss === 'number' ? s.loss : read![k++]!));
    } finally {
      disposeLosses(steps);
    }
    const readMs = this.readbacks > readsBefore ? performance.now() - t0 : 0;
    this.readMs += readMs;
    const windowMs = steps.reduce((s, p) => s + p.stepMs, 0) + readMs;
    const images = steps.reduce((s, p) => s + p.images, 0);
    const waitMs = steps.reduce((s, p) => s + p.dataWaitMs, 0);
    steps.forEach((s, i) => {
      const loss = losses[i]!;
      if (!Number.isFinite(loss)) {
        throw new Error(`loss is ${loss} at step ${s.step}; the run stops before its next checkpoint, so the last checkpoint keeps the weights from before it`);
      }
      this.lastLoss = loss;
      this.emit({
        runId: this.runId,
        kind: 'step',
        step: s.step,
        epoch: s.epoch,
        loss,
        lr: s.lr,
        imagesPerSecond: images / (windowMs / 1000),
        memoryBytes: s.memoryBytes,
        numTensors: s.numTensors,
        dataWait: Math.min(1, waitMs / Math.max(1e-9, windowMs)),
        time: s.time,
      });
    });
  }

  /** Drops the unread losses (a run that failed or was cut off). */
  dispose(): void {
    disposeLosses(this.pending);
    this.pending = [];
  }
}

function disposeLosses(steps: PendingStep[]): void {
  for (const s of steps) if (typeof s.loss !== 'number') s.loss.dispose();
}
