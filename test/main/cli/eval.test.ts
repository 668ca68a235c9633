import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeDir } from '../ingest/fixtures.js';
import { importFolder, tintedCatalog, writeTintedImages } from '../evaluate/report-fixtures.js';
import { lastJson, lines, runCurio, runCurioInProcess } from './run-cli.js';

let dir: string;
let db: string;

beforeAll(async () => {
  dir = makeTempDir('cli-eval');
  process.env.CURIO_HOME = path.join(dir, 'home');
  const catalog = await tintedCatalog(dir, 20);
  await writeTintedImages(path.join(dir, 'plain'), 2, 16, 77);
  await importFolder(catalog, path.join(dir, 'plain'), 'plain', false);
  db = catalog.path;
  catalog.close();
});
afterAll(() => removeDir(dir));

const isAccuracy = (x: unknown) => typeof x === 'number' && x >= 0 && x <= 1;

describe('curio eval', () => {
  it('--json: the last line is one object in the documented shape, and the HTML report exists', async () => {
    const r = await runCurio(['eval', '--db', db, '--run', 'random', '--train-dataset', 'train', '--test-dataset', 'test', '--json'], {
      CURIO_HOME: path.join(dir, 'home'),
    });
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout)).toHaveLength(1);
    const out = lastJson(r);
    expect(Object.keys(out).sort()).toEqual(['baselines', 'fractions', 'html', 'knn', 'linear', 'reportId'].sort());
    expect(Number.isInteger(out.reportId)).toBe(true);
    const linear = out.linear as Record<string, unknown>;
    expect(Object.keys(linear).sort()).toEqual(['top1', 'top5']);
    const knn = out.knn as Record<string, unknown>;
    expect(Object.keys(knn).sort()).toEqual(['k10', 'k100', 'k20']);
    const fractions = out.fractions as Record<string, Record<string, unknown>>;
    expect(Object.keys(fractions).sort()).toEqual(['0.01', '0.1']);
    for (const f of Object.values(fractions)) {
      expect(Object.keys(f).sort()).toEqual(['mean', 'std']);
      expect(isAccuracy(f.mean)).toBe(true);
      expect(f.std as number).toBeGreaterThanOrEqual(0);
    }
    const baselines = out.baselines as { random: { linear: { top1: unknown }; knn: { k20: unknown } }; pixels: { linear: { top1: unknown } } };
    expect(Object.keys(baselines).sort()).toEqual(['pixels', 'random']);
    expect(Object.keys(baselines.random).sort()).toEqual(['knn', 'linear']);
    expect(Object.keys(baselines.random.linear)).toEqual(['top1']);
    expect(Object.keys(baselines.random.knn)).toEqual(['k20']);
    expect(Object.keys(baselines.pixels)).toEqual(['linear']);
    expect(Object.keys(baselines.pixels.linear)).toEqual(['top1']);
    for (const x of [linear.top1, linear.top5, knn.k10, knn.k20, knn.k100, baselines.random.linear.top1, baselines.random.knn.k20, baselines.pixels.linear.top1]) {
      expect(isAccuracy(x), String(x)).toBe(true);
    }
    // tinted classes: the raw-pixel probe separates them; the numbers are real, not placeholders
    expect(baselines.pixels.linear.top1 as number).toBeGreaterThan(0.9);
    const html = out.html as string;
    expect(path.isAbsolute(html)).toBe(true);
    expect(path.dirname(html)).toBe(path.join(dir, 'reports'));
    const page = fs.readFileSync(html, 'utf8');
    expect(page).toContain(`${(100 * (linear.top1 as number)).toFixed(1)}%`);
    expect(page).not.toMatch(/https?:\/\//);
    expect(r.stderr).toMatch(/^evaluating a random-init small at 16 px: train train \(42 images\), test test \(18 images\)/m);
  });

  it('without --json prints the headline table and the HTML path', async () => {
    const r = await runCurioInProcess(['eval', '--db', db, '--run', 'random', '--train-dataset', 'train', '--test-dataset', 'test', '--protocol', 'knn', '--fractions', '0.5']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/protocol\s+encoder\s+random-init\s+raw pixels/);
    expect(r.stdout).toMatch(/kNN k=20\s+\d+\.\d%/);
    // which runtime extracted the features, and why not ONNX Runtime where it fell back
    expect(r.stdout).toMatch(/^ {2}features .+: (ONNX Runtime|tfjs)/m);
    expect(r.stdout).toMatch(/HTML report: .*report-\d+-train-vs-test\.html/);
  });

  it('a test dataset without labels is a one-line error naming it', async () => {
    const r = await runCurioInProcess(['eval', '--db', db, '--run', 'random', '--train-dataset', 'train', '--test-dataset', 'plain', '--json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr).at(-1)).toMatch(/^curio eval: error: test dataset "plain" has no labels/);
  });

  it('bad flags are usage errors', async () => {
    const cases: [string[], RegExp][] = [
      [['--train-dataset', 'train', '--test-dataset', 'test'], /missing --run/],
      [['--run', 'abc', '--train-dataset', 'train', '--test-dataset', 'test'], /--run must be a run id/],
      [['--run', 'random', '--backbone', 'vgg', '--train-dataset', 'train', '--test-dataset', 'test'], /--backbone must be one of/],
      [['--run', 'random', '--train-dataset', 'train', '--test-dataset', 'test', '--protocol', 'svm'], /unknown protocol "svm"/],
      [['--run', 'random', '--train-dataset', 'train', '--test-dataset', 'test', '--fractions', '0.1,2'], /fraction must be a number in \(0, 1\)/],
      [['--run', 'random', '--train-dataset', 'train'], /missing --test-dataset/],
    ];
    for (const [args, message] of cases) {
      const r = await runCurioInProcess(['eval', '--db', db, ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    const noRun = await runCurioInProcess(['eval', '--db', db, '--run', '999', '--train-dataset', 'train', '--test-dataset', 'test']);
    expect(noRun.code).toBe(1);
    expect(noRun.stderr).toMatch(/no run with id 999/);
  });
});
