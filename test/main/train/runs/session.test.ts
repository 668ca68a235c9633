// The session's data path and DINO's multi-crop, in-process on wasm: batches come from the prefetch worker (decoded
// off the training thread, augmented there), DINO's student sees every crop size and its teacher only the globals.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { presetFor } from '../../../../shared/contract/augment.js';
import type { RunConfig } from '../../../../shared/contract/train.js';
import { augmentBatch } from '../../../../main/augment/index.js';
import { initBackend } from '../../../../main/compute/index.js';
import { ResNet } from '../../../../main/train/models/index.js';
import type { ForwardOptions } from '../../../../main/train/nn/module.js';
import { BatchQueue } from '../../../../main/train/runs/batch-queue.js';
import { scaledLr } from '../../../../main/train/runs/defaults.js';
import { ImageCache } from '../../../../main/train/runs/image-cache.js';
import type { SessionInput, WorkerMessage } from '../../../../main/train/runs/protocol.js';
import { resolveConfig } from '../../../../main/train/runs/runner.js';
import { batchSchedule, runSession, type SessionControl } from '../../../../main/train/runs/session.js';
import { makeTempDir, removeDir, writeJpeg } from '../../ingest/fixtures.js';

const control: SessionControl = { stopRequested: false, pauseRequested: false, waitForResume: async () => {} };
const IMAGES = 8;

describe('training session: data path and DINO multi-crop', () => {
  let dir: string;
  let images: { path: string; label: string | null }[];
  const datasetImages = () => images.map((i, k) => ({ id: k + 1, path: i.path, label: i.label, width: 16, height: 16 })) as never;

  beforeAll(async () => {
    dir = makeTempDir('session');
    images = [];
    for (let i = 0; i < IMAGES; i++) {
      const file = path.join(dir, 'images', `${i}.jpg`);
      await writeJpeg(file, 20, 16, 300 + i);
      images.push({ path: file, label: null });
    }
    await initBackend({ prefer: 'wasm', skipTrainCheck: true });
  });
  afterAll(() => removeDir(dir));

  const config = (over: Partial<RunConfig>): RunConfig =>
    ({ dataset: 'noise', method: 'simclr', backbone: 'small', imageSize: 16, batchSize: 4, epochs: 1, seed: 5, backend: 'wasm', checkpointMinutes: 60, monitorSize: 0, ...over }) as RunConfig;

  it('localCrops sets DINO\'s local crops at sizes that follow the data, and other methods refuse them', () => {
    const dino = resolveConfig(config({ method: 'dino', localCrops: 2 }), datasetImages()).pipeline as ReturnType<typeof presetFor>;
    expect(dino.multiCrop).toMatchObject({ global: { count: 2, size: 16 }, local: { count: 2, size: 8 } });
    const at32 = resolveConfig(config({ method: 'dino', imageSize: 32, localCrops: 6 }), datasetImages()).pipeline as ReturnType<typeof presetFor>;
    expect(at32.multiCrop).toMatchObject({ global: { count: 2, size: 32 }, local: { count: 6, size: 16 } });
    // a pipeline without multi-crop gets DINO's: 2 globals at its crop size, locals at 96/224 of it
    const at224 = resolveConfig(config({ method: 'dino', imageSize: 224, pipeline: 'simclr', localCrops: 3 }), datasetImages()).pipeline as ReturnType<typeof presetFor>;
    expect(at224.multiCrop).toMatchObject({ global: { count: 2, size: 224, scale: [0.4, 1] }, local: { count: 3, size: 96, scale: [0.05, 0.4] } });
    const none = resolveConfig(config({ method: 'dino', localCrops: 0 }), datasetImages()).pipeline as ReturnType<typeof presetFor>;
    expect(none.multiCrop?.local.count).toBe(0);
    // without localCrops the preset's 8 locals stay
    expect((resolveConfig(config({ method: 'dino' }), datasetImages()).pipeline as ReturnType<typeof presetFor>).multiCrop?.local.count).toBe(8);

    expect(() => resolveConfig(config({ method: 'simclr', localCrops: 2 }), datasetImages())).toThrow(/localCrops is DINO's multi-crop; simclr trains on exactly 2 views/);
    expect(() => resolveConfig(config({ method: 'byol', localCrops: 0 }), datasetImages())).not.toThrow();
    expect(() => resolveConfig(config({ method: 'mocov3', pipeline: 'dino' }), datasetImages())).toThrow(/mocov3 cannot use multi-crop local crops/);
    const threeGlobals = { ...presetFor('dino', 16), multiCrop: { global: { count: 3, size: 16, scale: [0.4, 1] }, local: { count: 2, size: 8, scale: [0.05, 0.4] } } };
    expect(() => resolveConfig(config({ method: 'dino', pipeline: threeGlobals as never }), datasetImages())).toThrow(/DINO needs exactly 2 global crops/);
  });

  it('a DINO run with localCrops 2 trains the student on both crop sizes and the teacher on the globals only', async () => {
    const calls: { size: number; n: number; role: 'student' | 'teacher' | 'eval' }[] = [];
    const original = ResNet.prototype.forward;
    const spy = vi.spyOn(ResNet.prototype, 'forward').mockImplementation(function (this: ResNet, x: tf.Tensor, options: ForwardOptions) {
      calls.push({ size: x.shape[1]!, n: x.shape[0]!, role: !options.training ? 'eval' : options.updateStats === false ? 'teacher' : 'student' });
      return original.call(this, x, options);
    });
    try {
      const resolved = resolveConfig(config({ method: 'dino', localCrops: 2 }), datasetImages());
      const runDir = path.join(dir, 'dino');
      fs.mkdirSync(runDir, { recursive: true });
      const input: SessionInput = { runId: 1, config: resolved, images, monitor: [], runDir, resumeFrom: null };
      const messages: WorkerMessage[] = [];
      const summary = await runSession(input, (m) => messages.push(m), control, { methodOptions: { hiddenDim: 16, bottleneckDim: 8, outDim: 32 } });
      const steps = messages.flatMap((m) => (m.type === 'metrics' && m.metrics.kind === 'step' ? [m.metrics] : []));
      expect(steps.map((s) => s.step)).toEqual([1, 2]);
      for (const s of steps) {
        expect(Number.isFinite(s.loss) && s.loss > 0, `loss ${s.loss}`).toBe(true);
        expect(s.dataWait).toBeGreaterThanOrEqual(0);
        expect(s.dataWait).toBeLessThanOrEqual(1);
      }
      expect(summary.loss).toBe(steps[1]!.loss);
      const train = calls.filter((c) => c.role !== 'eval');
      // per step: the student once per crop size (both globals of 4 images together, both locals together), the teacher once
      expect(train).toEqual([
        ...[0, 1].flatMap(() => [
          { size: 16, n: 8, role: 'teacher' },
          { size: 16, n: 8, role: 'student' },
          { size: 8, n: 8, role: 'student' },
        ]),
      ]);
    } finally {
      spy.mockRestore();
    }
  }, 120_000);

  it('a time-budget run schedules its LR over the budget: warm-up done within the first tenth, then the cosine decays', async () => {
    const resolved = resolveConfig(config({ method: 'simclr', epochs: undefined, minutes: 0.25 }), datasetImages());
    const runDir = path.join(dir, 'minutes');
    fs.mkdirSync(runDir, { recursive: true });
    const input: SessionInput = { runId: 2, config: resolved, images, monitor: [], runDir, resumeFrom: null };
    const messages: WorkerMessage[] = [];
    await runSession(input, (m) => messages.push(m), control);
    const lrs = messages.flatMap((m) => (m.type === 'metrics' && m.metrics.kind === 'step' ? [m.metrics.lr] : []));
    expect(lrs.length, 'a 15-second budget trains several steps').toBeGreaterThan(3);
    const peak = scaledLr('simclr', 4); // SimCLR's paper LR at batch 4
    // With the schedule over the nominal step count (50 steps/s) these steps would all sit in the first 1% of warm-up.
    expect(Math.max(...lrs)).toBeGreaterThan(0.5 * peak);
    expect(lrs.at(-1)!).toBeLessThan(Math.max(...lrs));
  }, 120_000);

  it('the prefetch worker hands over, in schedule order, the same views the training thread would make', async () => {
    const cache = await ImageCache.load(images, 16, { workers: 2 });
    const inThread = await ImageCache.load(images, 16, { workers: 0 });
    // decoding in worker threads gives the very bytes the in-thread decode (the preview's) gives
    expect(cache.batch([0, 3, 7])).toEqual(inThread.batch([0, 3, 7]));

    const run = { seed: 9, count: IMAGES, batchSize: 3, stepsPerEpoch: 2, totalSteps: 5 };
    const all = [...batchSchedule({ step: 0, epoch: 0, batchInEpoch: 0 }, run)];
    expect(all.map((j) => [j.step, j.epoch, j.batchInEpoch])).toEqual([[0, 0, 0], [1, 0, 1], [2, 1, 0], [3, 1, 1], [4, 2, 0]]);
    // a resume from a checkpoint's counters continues with exactly the remaining jobs, also from the end of an epoch
    expect([...batchSchedule({ step: 2, epoch: 0, batchInEpoch: 2 }, run)]).toEqual(all.slice(2));
    expect([...batchSchedule({ step: 3, epoch: 1, batchInEpoch: 1 }, run)]).toEqual(all.slice(3));

    const spec = presetFor('simclr', 16);
    const pipeline = spec as unknown as Record<string, unknown>;
    const queue = await BatchQueue.open({ cache, pipeline, augmentOn: 'wasm', jobs: all.values(), depth: 2 });
    try {
      for (const job of all) {
        const got = await queue.next();
        expect(got && [got.step, [...got.indices]]).toEqual([job.step, [...job.indices]]);
        if (!got || !('views' in got)) throw new Error('expected augmented views from the worker');
        const want = tf.tidy(() => augmentBatch(tf.tensor4d(cache.batch(job.indices), [3, 16, 16, 3]), spec, job.seed));
        try {
          expect(got.views.map((v) => v.shape)).toEqual(want.map((v) => v.shape));
          for (let v = 0; v < want.length; v++) {
            const w = await want[v]!.data();
            let maxDiff = 0;
            got.views[v]!.data.forEach((x, i) => (maxDiff = Math.max(maxDiff, Math.abs(x - w[i]!))));
            expect(maxDiff, `step ${job.step} view ${v}`).toBe(0);
          }
        } finally {
          tf.dispose(want);
        }
      }
      expect(await queue.next()).toBeNull();
    } finally {
      await queue.close();
    }
    await expect(queue.next()).rejects.toThrow(/closed/);

    // for a device backend (webgpu) the worker hands over the plain float batch, and the device augments it
    const plain = await BatchQueue.open({ cache, pipeline, augmentOn: null, jobs: all.slice(0, 2).values(), depth: 1 });
    try {
      for (const job of all.slice(0, 2)) {
        const got = await plain.next();
        if (!got || !('x' in got)) throw new Error('expected a plain batch from the worker');
        expect(got.x).toEqual(cache.batch(job.indices));
      }
      expect(await plain.next()).toBeNull();
    } finally {
      await plain.close();
    }
  }, 120_000);
});
