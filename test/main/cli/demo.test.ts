// `npm run demo` is the README's first command: the whole pipeline on data from the npm registry. This runs it small
// (10 digits per class, a few seconds of training) and checks every stage reports what it did.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lastJson, runCurio } from './run-cli.js';

describe('curio demo', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-demo-test-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('imports MNIST digits, dedups the planted copies, pretrains, evaluates and writes the HTML report', async () => {
    const r = await runCurio(['demo', '--dir', dir, '--per-class', '10', '--train-minutes', '0.05', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = lastJson(r) as {
      written: number;
      import: { imported: number; failed: number };
      dedup: { removed: number; reasons: Record<string, number>; curated: { imageCount: number } | null };
      training: { runId: number; steps: number; loss: number | null } | null;
      evaluation: { reportId: number; html: string; linear: { top1: number } };
    };
    expect(out.written).toBe(100);
    // 100 digits + 10 planted near-copies, all decodable
    expect(out.import.imported).toBe(110);
    expect(out.import.failed).toBe(0);
    // the planted copies are found; the removal count and its reasons add up
    expect(out.dedup.removed).toBeGreaterThanOrEqual(10);
    expect(out.dedup.removed).toBeLessThanOrEqual(12);
    expect(Object.values(out.dedup.reasons).reduce((a, b) => a + b, 0)).toBe(out.dedup.removed);
    expect(out.dedup.curated?.imageCount).toBe(110 - out.dedup.removed);
    expect(out.training?.steps).toBeGreaterThanOrEqual(1);
    expect(Number.isFinite(out.training?.loss)).toBe(true);
    expect(out.evaluation.linear.top1).toBeGreaterThanOrEqual(0);
    expect(out.evaluation.linear.top1).toBeLessThanOrEqual(1);
    expect(fs.existsSync(out.evaluation.html)).toBe(true);
  });
});
