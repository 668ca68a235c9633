// The real session path (decode → augment → Method.trainStep → monitor → checkpoint) on webgpu-gl: Dawn on OpenGL
// ES / llvmpipe, the same tfjs 'webgpu' backend a hardware GPU gets. tfjs-backend-webgpu in Node has no
// synchronous readback (dataSync throws "OffscreenCanvas is not defined"), so any sync read on this path fails here.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presetFor } from '../../../../shared/contract/augment.js';
import type { RunMetrics } from '../../../../shared/contract/train.js';
import { initBackend } from '../../../../main/compute/index.js';
import { readCheckpoint } from '../../../../main/train/runs/checkpoint.js';
import type { CheckpointMeta, SessionInput, WorkerMessage } from '../../../../main/train/runs/protocol.js';
import { runSession, type SessionControl } from '../../../../main/train/runs/session.js';
import { lastJson, runCurio } from '../../cli/run-cli.js';
import { makeTempDir, removeDir, writeJpeg } from '../../ingest/fixtures.js';

const control: SessionControl = { stopRequested: false, pauseRequested: false, waitForResume: async () => {} };

describe('training session on webgpu-gl', () => {
  let dir: string;
  let unavailable: string | null = null;

  beforeAll(async () => {
    dir = makeTempDir('session-webgpu');
    for (let i = 0; i < 12; i++) await writeJpeg(path.join(dir, 'images', `${i}.jpg`), 12, 12, 200 + i);
    try {
      await initBackend({ prefer: 'webgpu-gl' });
    } catch (err) {
      unavailable = (err as Error).message;
    }
  });
  afterAll(async () => {
    await initBackend({ prefer: 'cpu', skipTrainCheck: true });
    removeDir(dir);
  });

  it('trains SimCLR 3 steps with finite losses, flat tensors, an epoch monitor and a finite checkpoint', async (ctx) => {
    if (unavailable) ctx.skip(`webgpu-gl cannot start here (${unavailable}); needs Debian libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri`);
    const images = Array.from({ length: 12 }, (_, i) => ({ path: path.join(dir, 'images', `${i}.jpg`), label: i % 2 === 0 ? 'even' : 'odd' }));
    const runDir = path.join(dir, 'run');
    fs.mkdirSync(runDir, { recursive: true });
    const input: SessionInput = {
      runId: 1,
      config: {
        dataset: 'noise', method: 'simclr', backbone: 'small', imageSize: 8, batchSize: 4, epochs: 1, seed: 3,
        backend: 'webgpu-gl', checkpointMinutes: 60, monitorSize: 12,
        pipeline: presetFor('simclr', 8) as unknown as Record<string, unknown>,
      } as SessionInput['config'],
      images,
      monitor: images,
      runDir,
      resumeFrom: null,
    };
    const messages: WorkerMessage[] = [];
    const summary = await runSession(input, (m) => messages.push(m), control);

    expect(messages.find((m) => m.type === 'backend')).toMatchObject({ backend: 'webgpu-gl' });
    expect(tf.getBackend()).toBe('webgpu');
    const steps = messages.flatMap((m) => (m.type === 'metrics' && m.metrics.kind === 'step' ? [m.metrics] : []));
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3]);
    for (const s of steps) expect(Number.isFinite(s.loss) && s.loss > 0, `loss ${s.loss}`).toBe(true);
    // after the warm-up step no step leaves a tensor behind
    expect(steps[2]!.numTensors, `numTensors per step: ${steps.map((s) => s.numTensors).join(',')}`).toBe(steps[1]!.numTensors);
    process.stderr.write(`webgpu-gl SimCLR small@8px batch 4: ${steps.map((s) => (4 / s.imagesPerSecond * 1000).toFixed(0)).join(', ')} ms/step\n`);

    // the epoch monitor read embeddings back (async) and found labels
    const epoch = messages.find((m): m is { type: 'metrics'; metrics: Extract<RunMetrics, { kind: 'epoch' }> } => m.type === 'metrics' && m.metrics.kind === 'epoch');
    expect(epoch?.metrics.knnTop1).toBeGreaterThanOrEqual(0);
    expect(epoch!.metrics.embeddingStd).toBeGreaterThan(0);

    expect(summary).toMatchObject({ steps: 3, epochs: 1, backend: 'webgpu-gl' });
    expect(summary.loss).toBe(steps[2]!.loss);
    const ckpt = readCheckpoint<CheckpointMeta>(summary.checkpoint!);
    expect(ckpt.meta.step).toBe(3);
    const names = Object.keys(ckpt.tensors);
    expect(names.some((n) => n.startsWith('modules/backbone.'))).toBe(true);
    expect(names.some((n) => n.startsWith('optimizer/'))).toBe(true);
    for (const [name, t] of Object.entries(ckpt.tensors)) expect(t.data.every(Number.isFinite), name).toBe(true);
  }, 300_000);

  it('curio train --backend webgpu-gl --json trains in its worker thread without EGL_PLATFORM set by the caller', async (ctx) => {
    if (unavailable) ctx.skip(`webgpu-gl cannot start here (${unavailable}); needs Debian libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri`);
    // A worker's process.env never reaches getenv(), so the runner must set EGL_PLATFORM on the main thread; drop
    // the value this test process may have set for itself, so the CLI gets no help.
    const env = { EGL_PLATFORM: undefined };
    const db = path.join(dir, 'cli.sqlite');
    const imported = await runCurio(['import', path.join(dir, 'images'), '--dataset', 'noise', '--db', db, '--json'], env);
    expect(imported.code, imported.stderr).toBe(0);
    const r = await runCurio(
      ['train', '--dataset', 'noise', '--method', 'simclr', '--backbone', 'small', '--image-size', '8', '--batch', '4', '--epochs', '1', '--backend', 'webgpu-gl', '--db', db, '--json'],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const result = lastJson(r);
    expect(result).toMatchObject({ status: 'done', backend: 'webgpu-gl', steps: 3, epochs: 1 });
    expect(Number.isFinite(result['loss'])).toBe(true);
    expect(readCheckpoint<CheckpointMeta>(result['checkpoint'] as string).meta.step).toBe(3);
  }, 300_000);
});
