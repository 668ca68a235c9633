import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presetFor } from '../../../shared/contract/augment.js';
import { lastJson, runCurio, runCurioInProcess } from '../cli/run-cli.js';
import { previewFixture, type PreviewFixture } from './preview-fixtures.js';

let fx: PreviewFixture;
beforeAll(async () => {
  fx = await previewFixture(10);
  fx.services.close(); // the CLI opens the catalog itself
}, 60_000);
afterAll(() => fx?.cleanup());

/** A failure: non-zero, nothing on stdout, the error first on stderr naming what was wrong. */
function expectError(r: { code: number | null; stdout: string; stderr: string }, message: RegExp): void {
  expect(r.code, r.stderr).not.toBe(0);
  expect(r.stdout).toBe('');
  expect(r.stderr.split('\n')[0]).toMatch(message);
}

describe('curio augment preview', () => {
  it('writes the grid PNG (creating DIR) with the JSON summary last on stdout', async () => {
    const out = path.join(fx.dir, 'out', 'nested');
    const r = await runCurio(['augment', 'preview', '--db', fx.dbPath, '--dataset', 'shapes', '--pipeline', 'dino', '--out', out, '--k', '3', '--m', '4', '--size', '32', '--seed', '5', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const summary = lastJson(r) as { grid: string; k: number; m: number; imageSize: number; views: { kind: string; size: number }[]; warnings: unknown[] };
    expect(summary).toMatchObject({ k: 3, m: 4, imageSize: 32, warnings: [] });
    expect(summary.views.map((v) => v.kind)).toEqual(['global', 'global', 'local', 'local']);
    const meta = await sharp(summary.grid).metadata();
    // 3 rows and 1 + 4 columns of 32 px cells with 2 px gaps
    expect([meta.width, meta.height]).toEqual([5 * 32 + 6 * 2, 3 * 32 + 4 * 2]);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'pipeline.json'), 'utf8'))).toEqual(presetFor('dino', 32));
  }, 90_000);

  it('reads a spec file, and prints the warnings it earns', async () => {
    const simclr = presetFor('simclr', 32);
    const file = path.join(fx.dir, 'no-jitter.json');
    fs.writeFileSync(file, JSON.stringify({ ...simclr, ops: simclr.ops.filter((o) => o.op !== 'color_jitter') }));
    const r = await runCurioInProcess(['augment', 'preview', '--db', fx.dbPath, '--dataset', 'shapes', '--pipeline', file, '--out', path.join(fx.dir, 'o2'), '--k', '2', '--m', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const summary = lastJson(r) as { imageSize: number; warnings: { code: string }[]; method: string };
    expect(summary.method).toBe('simclr');
    expect(summary.warnings.map((w) => w.code)).toEqual(['no-color-jitter']);
    expect(r.stderr).toMatch(/warning: colour jitter is off.*SimCLR/);
    expect(fs.existsSync(path.join(fx.dir, 'o2', 'preview.png'))).toBe(true);
  }, 60_000);

  it('refuses bad input with one line naming the field, and writes nothing', async () => {
    const args = (...extra: string[]) => ['augment', 'preview', '--db', fx.dbPath, '--out', path.join(fx.dir, 'never'), ...extra];
    const bad = path.join(fx.dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ ops: [{ op: 'random_resized_crop', size: 32 }, { op: 'solarize', threshold: 3 }] }));
    const unknownOp = path.join(fx.dir, 'unknown.json');
    fs.writeFileSync(unknownOp, JSON.stringify({ ops: [{ op: 'sharpen', amount: 1 }] }));
    const malformed = path.join(fx.dir, 'malformed.json');
    fs.writeFileSync(malformed, '{"ops": [');
    expectError(await runCurioInProcess(args('--dataset', 'shapes', '--pipeline', bad)), /--pipeline: invalid augmentation pipeline: ops\[1\]\.threshold: /);
    expectError(await runCurioInProcess(args('--dataset', 'shapes', '--pipeline', unknownOp)), /ops\[0\]\.op/);
    expectError(await runCurioInProcess(args('--dataset', 'shapes', '--pipeline', malformed)), /--pipeline .*malformed\.json is not valid JSON/);
    expectError(await runCurioInProcess(args('--dataset', 'shapes', '--pipeline', 'simclrr')), /--pipeline: "simclrr" is neither a preset/);
    expectError(await runCurioInProcess(args('--dataset', 'empty', '--pipeline', 'simclr')), /--dataset: dataset "empty" has no usable images/);
    expectError(await runCurioInProcess(args('--dataset', 'nope', '--pipeline', 'simclr')), /no dataset named "nope"/);
    expectError(await runCurioInProcess(args('--dataset', 'shapes', '--pipeline', 'simclr', '--k', '0')), /--k must be an integer ≥ 1/);
    expectError(await runCurioInProcess(args('--dataset', 'shapes', '--pipeline', 'simclr', '--m', '99')), /^curio augment: error: m: must be ≤ 16$/);
    expectError(await runCurioInProcess(args('--dataset', 'shapes', '--pipeline', 'simclr', '--size', '4')), /--size must be an integer ≥ 8/);
    expectError(await runCurioInProcess(args('--pipeline', 'simclr')), /missing --dataset/);
    expectError(await runCurioInProcess(['augment', 'show']), /unknown subcommand "show"/);
    expect(fs.existsSync(path.join(fx.dir, 'never'))).toBe(false);
  }, 60_000);
});
