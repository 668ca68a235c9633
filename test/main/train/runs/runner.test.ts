// RunManager in-process: a real worker thread trains a tiny run while the test pauses, resumes and stops it.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunMetrics } from '../../../../shared/contract/train.js';
import { importFolders } from '../../../../main/ingest/import.js';
import { createServices, type Services } from '../../../../main/services.js';
import { readCheckpoint } from '../../../../main/train/runs/checkpoint.js';
import type { CheckpointMeta } from '../../../../main/train/runs/protocol.js';
import { makeTempDir, removeDir, testJobContext, writeJpeg } from '../../ingest/fixtures.js';

const t0 = Date.now();
async function until(what: string, cond: () => boolean, timeoutMs = 150_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1)} s] waiting for ${what}\n`);
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('RunManager: pause, resume and stop a live run', () => {
  let dir: string;
  let services: Services;

  beforeAll(async () => {
    dir = makeTempDir('runner');
    for (let i = 0; i < 24; i++) await writeJpeg(path.join(dir, 'images', `${i}.jpg`), 12, 12, 100 + i);
    services = createServices({ dbPath: path.join(dir, 'catalog.sqlite'), mode: 'browser' });
    await importFolders(services.catalog, { folders: [path.join(dir, 'images')], dataset: 'noise', labelsFromFolders: false, thumbnailDir: services.thumbnailDir }, testJobContext());
  });
  afterAll(async () => {
    await services.runs.stopAll();
    services.close();
    removeDir(dir);
  });

  it('pauses between steps with a checkpoint, resumes where it was, and stops with a final checkpoint', async () => {
    const steps: number[] = [];
    const statuses: string[] = [];
    const unsubscribe = services.bus.subscribe((name, payload) => {
      if (name === 'onDidRunMetrics' && (payload as RunMetrics).kind === 'step') steps.push((payload as RunMetrics).step);
      if (name === 'onDidRunStatus' && !(payload as { line?: string }).line) statuses.push((payload as { status: string }).status);
    });
    try {
      const { runId, done } = services.runs.start({
        dataset: 'noise', method: 'simclr', backbone: 'small', imageSize: 8, batchSize: 4, epochs: 50, backend: 'wasm', checkpointMinutes: 60,
      });
      expect(services.runs.isLive(runId)).toBe(true);
      expect(services.runs.store.get(runId).status).toBe('running');

      await until('two steps', () => steps.length >= 2);
      expect(services.runs.pause(runId)).toBe(true);
      await until('the paused status', () => services.runs.store.get(runId).status === 'paused');
      const pausedAt = steps.length;
      const ckptFile = services.runs.store.get(runId).checkpoint!;
      const meta = readCheckpoint<CheckpointMeta>(ckptFile).meta;
      // the pause checkpoint is the state after the last step streamed
      expect(meta.step).toBe(steps.at(-1));
      await new Promise((r) => setTimeout(r, 1500));
      expect(steps.length, 'no step trains while paused').toBe(pausedAt);

      services.runs.resume(runId);
      await until('steps after resume', () => steps.length >= pausedAt + 2);
      expect(services.runs.store.get(runId).status).toBe('running');
      expect(steps.slice(0, pausedAt + 2)).toEqual(Array.from({ length: pausedAt + 2 }, (_, i) => i + 1));

      expect(services.runs.stop(runId)).toBe(true);
      const outcome = await done;
      expect(outcome).toMatchObject({ runId, status: 'stopped', error: null });
      expect(outcome.summary!.steps).toBe(steps.at(-1));
      expect(outcome.summary!.steps).toBeLessThan(50 * 6);
      expect(services.runs.isLive(runId)).toBe(false);
      const run = services.runs.store.get(runId);
      expect(run).toMatchObject({ status: 'stopped', step: steps.at(-1) });
      expect(readCheckpoint<CheckpointMeta>(run.checkpoint!).meta.step).toBe(steps.at(-1));
      expect(statuses).toEqual(['running', 'paused', 'running', 'stopped']);
      // control calls on a run that is no longer live are refused, unknown ids are errors
      expect(services.runs.pause(runId)).toBe(false);
      expect(() => services.runs.stop(9999)).toThrow(/no run with id 9999/);

      // a stopped run resumes from its checkpoint in a new worker, at the next step
      const before = steps.length;
      const again = services.runs.resume(runId);
      await until('a step of the resumed worker', () => steps.length > before);
      expect(steps[before]).toBe(outcome.summary!.steps + 1);
      services.runs.stop(runId);
      expect((await again.done).status).toBe('stopped');
      expect(fs.existsSync(run.checkpoint!)).toBe(true);
    } finally {
      unsubscribe();
    }
  }, 400_000);

  it('rejects a bad config and an unknown dataset with clear errors, before any worker starts', () => {
    expect(() => services.runs.start({ dataset: 'noise', method: 'simclr', backbone: 'small', batchSize: 1 } as never)).toThrow(/bad run config: batchSize/);
    expect(() => services.runs.start({ dataset: 'nope', method: 'simclr', backbone: 'small' })).toThrow(/nope/);
    expect(() => services.runs.start({ dataset: 'noise', method: 'simclr', backbone: 'small', pipeline: 'fancy' })).toThrow(/unknown pipeline preset "fancy"/);
  });
});
