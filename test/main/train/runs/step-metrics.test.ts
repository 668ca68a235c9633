// Per-step losses read in batches (issue 7: "metrics are read asynchronously every N steps, never synchronously
// every step"): the batched stream must be the per-step stream, value for value, and must read the device
// ceil(steps/N) times plus once per forced point (a checkpoint, an epoch's end).
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { presetFor } from '../../../../shared/contract/augment.js';
import type { RunMetrics } from '../../../../shared/contract/train.js';
import { initBackend } from '../../../../main/compute/index.js';
import { readCheckpoint } from '../../../../main/train/runs/checkpoint.js';
import type { CheckpointMeta, SessionInput, WorkerMessage } from '../../../../main/train/runs/protocol.js';
import { runSession, type SessionControl } from '../../../../main/train/runs/session.js';
import { defaultReadbackEvery, readbackEveryFromEnv, StepMetricWindow, type PendingStep } from '../../../../main/train/runs/step-metrics.js';
import { makeTempDir, removeDir, writeJpeg } from '../../ingest/fixtures.js';

type StepRecord = Extract<RunMetrics, { kind: 'step' }>;

/** Reads of loss-sized tensors: data() on a tensor of rank ≤ 1 that is not a parameter, buffer or optimizer slot. */
function countLossReads(): { reads: () => number; restore: () => void } {
  let reads = 0;
  const original = tf.Tensor.prototype.data;
  const spy = vi.spyOn(tf.Tensor.prototype, 'data').mockImplementation(function (this: tf.Tensor) {
    if (!(this instanceof tf.Variable) && this.rank <= 1) reads++;
    return original.call(this) as never;
  });
  return { reads: () => reads, restore: () => spy.mockRestore() };
}

const pending = (step: number, loss: number | tf.Scalar): PendingStep => ({
  step, epoch: 0, loss, lr: 0.1, images: 4, dataWaitMs: 1, stepMs: 10, memoryBytes: 0, numTensors: 0, time: new Date(0).toISOString(),
});

describe('step metrics read in batches', () => {
  let dir: string;
  const IMAGES = 16;
  // the native CPU backend where its addon is built (a step of this tiny run takes ms there, and ~30 s on tfjs's
  // plain cpu backend on 2 busy cores); otherwise wasm. Both are CPU backends: a read costs nothing and is exact.
  let backend: 'native' | 'wasm' = 'native';

  beforeAll(async () => {
    dir = makeTempDir('step-metrics');
    for (let i = 0; i < IMAGES; i++) await writeJpeg(path.join(dir, 'images', `${i}.jpg`), 10, 10, 700 + i);
    await initBackend({ prefer: 'native', skipTrainCheck: true }).catch(async () => {
      backend = 'wasm';
      await initBackend({ prefer: 'wasm', skipTrainCheck: true });
    });
  });
  afterAll(() => removeDir(dir));

  it('the window emits every step in order with its own loss, reads once per flush, and leaks no tensor', async () => {
    const emitted: StepRecord[] = [];
    const window = new StepMetricWindow(3, 7, (m) => emitted.push(m));
    const before = tf.memory().numTensors;
    const values = [2.5, 2.25, 2.125, 1.5, 1.25, 1, 0.75];
    const counter = countLossReads();
    try {
      for (let i = 0; i < values.length; i++) {
        window.add(pending(i + 1, tf.scalar(values[i]!)));
        expect(window.heldTensors).toBe((i % 3) + 1);
        if (window.full) await window.flush();
      }
      await window.flush();
      expect(counter.reads()).toBe(3);
    } finally {
      counter.restore();
    }
    expect(window.readbacks).toBe(3);
    expect(emitted.map((m) => [m.step, m.loss])).toEqual(values.map((v, i) => [i + 1, v]));
    expect(emitted.every((m) => m.runId === 7 && m.kind === 'step')).toBe(true);
    expect(window.lastLoss).toBe(0.75);
    expect(tf.memory().numTensors).toBe(before);
    // the rates are the window's: 3 steps of 4 images over 30 ms of steps plus the read
    expect(emitted[0]!.imagesPerSecond).toBeLessThanOrEqual(12 / 0.03);
    expect(emitted[0]!.imagesPerSecond).toBeGreaterThan(0);
    expect(emitted[0]!.dataWait).toBeLessThanOrEqual(3 / 30);
    // both from the same window time W: 12 images / W and 3 ms of waiting / W
    expect(emitted[0]!.imagesPerSecond).toBeCloseTo(4000 * emitted[0]!.dataWait, 6);
    expect(emitted[2]!.imagesPerSecond).toBe(emitted[0]!.imagesPerSecond);
  });

  it('a non-finite loss throws at the read after the finite steps before it are emitted, and frees the window', async () => {
    const emitted: StepRecord[] = [];
    const window = new StepMetricWindow(4, 1, (m) => emitted.push(m));
    const before = tf.memory().numTensors;
    window.add(pending(1, tf.scalar(1)));
    window.add(pending(2, tf.scalar(NaN)));
    window.add(pending(3, tf.scalar(0.5)));
    await expect(window.flush()).rejects.toThrow(/loss is NaN at step 2; the run stops before its next checkpoint/);
    expect(emitted.map((m) => m.step)).toEqual([1]);
    window.add(pending(4, tf.scalar(1)));
    window.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the interval: 10 on webgpu, 1 on the CPU backends, CURIO_METRICS_EVERY overrides, bad values are refused', () => {
    expect(defaultReadbackEvery('webgpu')).toBe(10);
    expect(defaultReadbackEvery('webgpu-gl')).toBe(10);
    for (const b of ['native', 'wasm', 'cpu', 'tensorflow']) expect(defaultReadbackEvery(b)).toBe(1);
    expect(readbackEveryFromEnv({})).toBeNull();
    expect(readbackEveryFromEnv({ CURIO_METRICS_EVERY: '5' })).toBe(5);
    expect(() => readbackEveryFromEnv({ CURIO_METRICS_EVERY: '0' })).toThrow(/positive integer/);
    expect(() => readbackEveryFromEnv({ CURIO_METRICS_EVERY: 'ten' })).toThrow(/positive integer/);
    expect(() => new StepMetricWindow(0, 1, () => undefined)).toThrow(/positive integer/);
  });

  it('a session read every 4 steps reports the same losses, checkpoint and message order as one read every step', async () => {
    const images = Array.from({ length: IMAGES }, (_, i) => ({ path: path.join(dir, 'images', `${i}.jpg`), label: null }));
    const run = async (readbackEvery: number) => {
      const runDir = path.join(dir, `every-${readbackEvery}`);
      fs.mkdirSync(runDir, { recursive: true });
      const input: SessionInput = {
        runId: 1,
        config: {
          dataset: 'noise', method: 'simclr', backbone: 'small', imageSize: 8, batchSize: 4, epochs: 2, seed: 11,
          backend, checkpointMinutes: 60, monitorSize: 0,
          pipeline: presetFor('simclr', 8) as unknown as Record<string, unknown>,
        } as SessionInput['config'],
        images,
        monitor: [],
        runDir,
        resumeFrom: null,
      };
      // a pause is asked for before the third step: a checkpoint at step 2, then the run goes on
      let looks = 0;
      let paused = false;
      const control: SessionControl = {
        stopRequested: false,
        get pauseRequested() {
          looks++;
          return looks === 3 && !paused;
        },
        waitForResume: async () => {
          paused = true;
        },
      };
      const messages: WorkerMessage[] = [];
      let checkpointAtPause: CheckpointMeta | null = null;
      const counter = countLossReads();
      try {
        const summary = await runSession(
          input,
          (m) => {
            messages.push(m);
            if (m.type === 'checkpoint' && !checkpointAtPause) checkpointAtPause = readCheckpoint<CheckpointMeta>(m.file).meta;
          },
          control,
          { readbackEvery, methodOptions: { hiddenDim: 16, outDim: 8 } },
        );
        return { messages, summary, reads: counter.reads(), checkpointAtPause: checkpointAtPause as CheckpointMeta | null };
      } finally {
        counter.restore();
      }
    };
    const sync = await run(1);
    const batched = await run(4);
    const shape = (ms: WorkerMessage[]) =>
      ms.flatMap((m) =>
        m.type === 'metrics' ? [[m.metrics.kind, m.metrics.step, m.metrics.kind === 'step' ? m.metrics.loss : m.metrics.embeddingStd]]
        : m.type === 'checkpoint' ? [['checkpoint', m.step]]
        : m.type === 'status' ? [[m.status]]
        : [],
      );
    const steps = (ms: WorkerMessage[]) => ms.flatMap((m) => (m.type === 'metrics' && m.metrics.kind === 'step' ? [m.metrics] : []));
    expect(steps(sync.messages).map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(steps(sync.messages).every((s) => Number.isFinite(s.loss) && s.loss > 0)).toBe(true);
    // the same losses (bit for bit on a CPU backend), the same checkpoints at the same steps, in the same order
    expect(shape(batched.messages)).toEqual(shape(sync.messages));
    expect(batched.checkpointAtPause?.step).toBe(2);
    expect(sync.checkpointAtPause?.step).toBe(2);
    expect(batched.summary).toMatchObject({ steps: 8, epochs: 2, loss: sync.summary.loss });
    // one read per step, against: steps 1–2 (the pause's checkpoint), 3–4 (the end of epoch 1), 5–8 (a full window)
    expect(sync.reads).toBe(8);
    expect(batched.reads).toBe(3);
    expect(batched.reads).toBeLessThanOrEqual(Math.ceil(8 / 4) + 1);
    // the live-tensor count leaves the held losses out, so it stays flat within a window
    const live = steps(batched.messages).map((s) => s.numTensors);
    expect(new Set(live.slice(1)).size, `numTensors per step: ${live.join(',')}`).toBe(1);
  }, 120_000);
});
