// kill -9 in the middle of `curio train`, then `curio train --resume`: the run shows as interrupted, continues
// from its checkpoint's step with the saved optimizer state, and ends with the planned number of steps.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../main/catalog/catalog.js';
import { readCheckpoint } from '../../main/train/runs/checkpoint.js';
import { CHECKPOINT_FILE, type CheckpointMeta } from '../../main/train/runs/protocol.js';
import { makeTempDir, removeDir, writeJpeg } from '../main/ingest/fixtures.js';
import { collect, lastJson, runCurio, spawnCurio } from '../main/cli/run-cli.js';

const IMAGES = 40;
const BATCH = 8;
const EPOCHS = 4;
// 40 images, no held-out monitor (10% of 40 is under the 10-image minimum): 5 steps per epoch
const PLANNED_STEPS = EPOCHS * Math.floor(IMAGES / BATCH);

interface MetricRow {
  step: number;
  kind: string;
  data: string;
}

describe('kill -9 during curio train, then --resume', () => {
  let dir: string;
  let db: string;

  beforeAll(async () => {
    dir = makeTempDir('train-resume');
    db = path.join(dir, 'catalog.sqlite');
    for (let i = 0; i < IMAGES; i++) await writeJpeg(path.join(dir, 'images', i % 2 ? 'odd' : 'even', `${i}.jpg`), 16, 16, i + 1);
    const r = await runCurio(['import', path.join(dir, 'images'), '--dataset', 'noise', '--labels-from-folders', '--db', db, '--json']);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(() => removeDir(dir));

  it('continues from the checkpoint step with the same optimizer state and ends at the planned step count', async () => {
    const args = ['--dataset', 'noise', '--method', 'simclr', '--backbone', 'small', '--image-size', '8', '--batch', String(BATCH), '--backend', 'wasm'];
    const child = spawnCurio(['train', ...args, '--epochs', String(EPOCHS), '--checkpoint-minutes', '0.02', '--db', db, '--json']);
    const output = collect(child);
    const ckptFile = path.join(dir, 'runs', '1', CHECKPOINT_FILE);

    // wait until a periodic checkpoint exists (step ≥ 2) while the run is still well short of its end
    let killedAt: CheckpointMeta | null = null;
    const deadline = Date.now() + 150_000;
    while (Date.now() < deadline && child.exitCode === null) {
      if (fs.existsSync(ckptFile)) {
        const meta = readCheckpoint<CheckpointMeta>(ckptFile).meta;
        if (meta.step >= 2 && meta.step < PLANNED_STEPS - 3) {
          child.kill('SIGKILL');
          killedAt = meta;
          break;
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const killed = await output;
    expect(killedAt, `the run ended or stalled before a mid-run checkpoint: ${killed.stderr}`).not.toBeNull();
    expect(killed.signal).toBe('SIGKILL');
    const killTime = new Date().toISOString();
    // the checkpoint on disk may be newer than the one we saw if one more landed before the kill took effect
    const ckpt = readCheckpoint<CheckpointMeta>(ckptFile).meta;
    expect(ckpt.step).toBeGreaterThanOrEqual(killedAt!.step);
    expect(ckpt.step).toBeLessThan(PLANNED_STEPS);
    const optimizerStepAtKill = (ckpt.optimizer as { step: number }).step;
    expect(optimizerStepAtKill).toBe(ckpt.step);

    const listed = await runCurio(['runs', '--db', db, '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(lastJson(listed)).toMatchObject([{ id: 1, status: 'interrupted' }]);

    await new Promise((r) => setTimeout(r, 20)); // metric times after the kill are strictly later
    const resumed = await runCurio(['train', '--resume', '1', '--db', db, '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`at step ${ckpt.step} (epoch ${ckpt.epoch}, batch ${ckpt.batchInEpoch})`);
    const result = lastJson(resumed);
    expect(result).toMatchObject({ runId: 1, status: 'done', steps: PLANNED_STEPS, epochs: EPOCHS, backend: 'wasm' });
    expect(typeof result['loss']).toBe('number');

    // the final checkpoint's optimizer has taken every step once: its state came from the checkpoint, not from zero
    const final = readCheckpoint<CheckpointMeta>(path.join(dir, 'runs', '1', CHECKPOINT_FILE)).meta;
    expect(final.step).toBe(PLANNED_STEPS);
    expect((final.optimizer as { step: number }).step).toBe(PLANNED_STEPS);

    const catalog = Catalog.open(db, { readonly: true });
    try {
      const rows = catalog.db.prepare("SELECT step, kind, data FROM run_metrics WHERE run_id = 1 AND kind = 'step' ORDER BY id").all() as MetricRow[];
      // one point per step, 1…planned: points the killed run logged after its checkpoint were replaced
      expect(rows.map((r) => r.step)).toEqual(Array.from({ length: PLANNED_STEPS }, (_, i) => i + 1));
      const times = rows.map((r) => (JSON.parse(r.data) as { time: string }).time);
      // steps up to the checkpoint are the killed run's; the first step after it (checkpoint + 1) is the resumed run's
      for (let i = 0; i < ckpt.step; i++) expect(times[i]! < killTime, `step ${i + 1}`).toBe(true);
      for (let i = ckpt.step; i < PLANNED_STEPS; i++) expect(times[i]! > killTime, `step ${i + 1}`).toBe(true);
      const run = catalog.db.prepare('SELECT status, step FROM runs WHERE id = 1').get();
      expect(run).toEqual({ status: 'done', step: PLANNED_STEPS });
    } finally {
      catalog.close();
    }

    const again = await runCurio(['train', '--resume', '1', '--db', db, '--json']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/run 1 has finished/);
  }, 300_000); // two CLI processes from TS sources, each starting decode and batch workers; its own wait allows 150 s
});
