import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunConfig, RunMetrics } from '../../../../shared/contract/train.js';
import { Catalog } from '../../../../main/catalog/catalog.js';
import { RunStore } from '../../../../main/train/runs/run-store.js';
import { makeTempDir, removeDir } from '../../ingest/fixtures.js';

const config = { dataset: 'd', method: 'simclr', backbone: 'small', batchSize: 8, seed: 0, backend: 'cpu', checkpointMinutes: 5, monitorSize: 0 } as RunConfig;

function step(runId: number, s: number): RunMetrics {
  return { runId, kind: 'step', step: s, epoch: Math.floor(s / 10), loss: 10 - s / 100, lr: 0.1, imagesPerSecond: 5, memoryBytes: 1, numTensors: 3, dataWait: 0, time: 't' };
}
function epoch(runId: number, s: number): RunMetrics {
  return { runId, kind: 'epoch', step: s, epoch: s / 10, knnTop1: 0.5, embeddingStd: 0.1, time: 't' };
}

describe('RunStore', () => {
  let dir: string;
  let catalog: Catalog;
  let store: RunStore;
  let datasetId: number;
  beforeEach(() => {
    dir = makeTempDir('runstore');
    catalog = Catalog.open(path.join(dir, 'c.sqlite'));
    store = new RunStore(catalog);
    datasetId = catalog.createDataset('d', 'import');
  });
  afterEach(() => {
    catalog.close();
    removeDir(dir);
  });

  it('thins a long step curve evenly to at most maxPoints, keeps its last point and every epoch point, in step order', () => {
    const id = store.create('r', datasetId, config);
    for (let s = 1; s <= 1000; s++) {
      store.addMetrics(step(id, s));
      if (s % 10 === 0) store.addMetrics(epoch(id, s));
    }
    const all = store.metrics(id, 100_000);
    expect(all.filter((m) => m.kind === 'step')).toHaveLength(1000);
    expect(all.filter((m) => m.kind === 'epoch')).toHaveLength(100);

    const thin = store.metrics(id, 50);
    const steps = thin.filter((m) => m.kind === 'step').map((m) => m.step);
    const epochs = thin.filter((m) => m.kind === 'epoch').map((m) => m.step);
    expect(epochs).toEqual(Array.from({ length: 100 }, (_, i) => (i + 1) * 10));
    // an even stride from the first point, plus the last point: never more than maxPoints
    expect(steps.length).toBeLessThanOrEqual(50);
    expect(steps.length).toBeGreaterThanOrEqual(45);
    expect(steps[0]).toBe(1);
    expect(steps.at(-1)).toBe(1000);
    const gaps = new Set(steps.slice(1, -1).map((s, i) => s - steps[i]!));
    expect(gaps.size).toBe(1);
    // sorted by step; a step point comes before the epoch point of the same step
    for (let i = 1; i < thin.length; i++) expect(thin[i]!.step).toBeGreaterThanOrEqual(thin[i - 1]!.step);
    const at = thin.findIndex((m) => m.step === 1000);
    expect(thin.slice(at).map((m) => m.kind)).toEqual(['step', 'epoch']);

    // a short curve comes back whole
    const id2 = store.create('r2', datasetId, config);
    for (let s = 1; s <= 5; s++) store.addMetrics(step(id2, s));
    expect(store.metrics(id2, 50).map((m) => m.step)).toEqual([1, 2, 3, 4, 5]);
  });

  it('a step point updates the run row; truncateMetricsAfter drops only the later points of that run', () => {
    const a = store.create('a', datasetId, config);
    const b = store.create('b', datasetId, config);
    for (let s = 1; s <= 20; s++) {
      store.addMetrics(step(a, s));
      store.addMetrics(step(b, s));
    }
    expect(store.get(a)).toMatchObject({ step: 20, epoch: 2, loss: 10 - 20 / 100 });
    store.truncateMetricsAfter(a, 12);
    expect(store.metrics(a, 1000).map((m) => m.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(store.metrics(b, 1000)).toHaveLength(20);
  });

  it('marks interrupted only active runs whose owner process is dead', async () => {
    // a pid that surely belonged to a process that has exited: spawn one and wait for it to end
    const dead = await new Promise<number>((resolve, reject) => {
      const p = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
      p.on('error', reject);
      p.on('exit', () => resolve(p.pid!));
    });
    const mk = (status: 'running' | 'paused' | 'queued' | 'done' | 'failed' | 'stopped', owner: number | null) => {
      const id = store.create(`${status}-${owner}`, datasetId, config);
      store.setStatus(id, status);
      if (owner !== null) store.setOwner(id, owner);
      return id;
    };
    const liveRunning = mk('running', process.pid);
    const livePaused = mk('paused', process.pid);
    const deadRunning = mk('running', dead);
    const deadPaused = mk('paused', dead);
    const noOwnerQueued = mk('queued', null);
    const deadDone = mk('done', dead);
    const deadFailed = mk('failed', dead);
    const deadStopped = mk('stopped', dead);

    expect(store.markInterrupted()).toBe(3);
    const status = (id: number) => store.get(id).status;
    expect(status(liveRunning)).toBe('running');
    expect(status(livePaused)).toBe('paused');
    expect(status(deadRunning)).toBe('interrupted');
    expect(status(deadPaused)).toBe('interrupted');
    expect(status(noOwnerQueued)).toBe('interrupted');
    expect(status(deadDone)).toBe('done');
    expect(status(deadFailed)).toBe('failed');
    expect(status(deadStopped)).toBe('stopped');
    // idempotent
    expect(store.markInterrupted()).toBe(0);
  });

  it('keeps logs in order and returns the newest `limit` lines', () => {
    const id = store.create('r', datasetId, config);
    for (let i = 0; i < 10; i++) store.log(id, `line ${i}`);
    expect(store.logs(id, 3)).toEqual(['line 7', 'line 8', 'line 9']);
    expect(() => store.get(9999)).toThrow(/no run with id 9999/);
  });
});
