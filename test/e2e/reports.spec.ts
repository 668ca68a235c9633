import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, test, type Page } from '@playwright/test';
import sharp from 'sharp';
import { Catalog } from '../../main/catalog/catalog.js';
import { createBackbone } from '../../main/train/models/index.js';
import { writeCheckpoint } from '../../main/train/runs/checkpoint.js';
import type { RunConfig } from '../../shared/contract/train.js';
import type { CheckpointMeta } from '../../main/train/runs/protocol.js';
import { RunStore } from '../../main/train/runs/run-store.js';
import { chromiumPath, root, screenshotDir, startCurio, type CurioServer } from './curio-server.js';

test.skip(!fs.existsSync(chromiumPath), `no Chromium at ${chromiumPath}: install Debian's chromium package or set CURIO_CHROMIUM`);

const run = promisify(execFile);
const CLASSES = ['bar', 'circle', 'square', 'triangle'] as const;
const PER_CLASS = 30;

/**
 * 120 PNGs of 32 px: one shape per class on a random background, in a random colour and place, so the classes are
 * told apart by shape, not by colour. 120 images give the training run a held-out kNN monitor (10% ≥ 10 images).
 */
async function makeShapes(dir: string): Promise<void> {
  let seed = 7;
  const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const colour = () => `rgb(${Math.floor(rnd() * 255)},${Math.floor(rnd() * 255)},${Math.floor(rnd() * 255)})`;
  const draw: Record<(typeof CLASSES)[number], (x: number, y: number, r: number, c: string) => string> = {
    bar: (x, y, r, c) => `<rect x="${x - r}" y="${y - r / 3}" width="${2 * r}" height="${(2 * r) / 3}" fill="${c}"/>`,
    circle: (x, y, r, c) => `<circle cx="${x}" cy="${y}" r="${r}" fill="${c}"/>`,
    square: (x, y, r, c) => `<rect x="${x - r}" y="${y - r}" width="${2 * r}" height="${2 * r}" fill="${c}"/>`,
    triangle: (x, y, r, c) => `<polygon points="${x},${y - r} ${x - r},${y + r} ${x + r},${y + r}" fill="${c}"/>`,
  };
  for (const label of CLASSES) {
    fs.mkdirSync(path.join(dir, label), { recursive: true });
    for (let i = 0; i < PER_CLASS; i++) {
      const shape = draw[label](8 + rnd() * 16, 8 + rnd() * 16, 4 + rnd() * 5, colour());
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><rect width="32" height="32" fill="${colour()}"/>${shape}</svg>`;
      await sharp(Buffer.from(svg)).png().toFile(path.join(dir, label, `${label}-${i}.png`));
    }
  }
}

/** Runs the built CLI and returns the one JSON object it prints last on stdout. */
async function curio<T>(db: string, ...args: string[]): Promise<T> {
  const { stdout } = await run(process.execPath, [path.join(root, 'bin/curio.js'), ...args, '--db', db, '--json'], {
    cwd: root,
    env: { ...process.env, CURIO_FROM_SOURCE: '' },
    maxBuffer: 16 * 1024 * 1024,
  });
  const last = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as T;
}

interface EvalJson {
  reportId: number;
  linear: { top1: number; top5: number } | null;
  knn: { k10: number; k20: number; k100: number } | null;
  fractions: Record<string, { mean: number; std: number }>;
  html: string;
}

/**
 * A vit-tiny run of `dataset` with a checkpoint holding a random-init backbone, as a run leaves it on disk: the
 * real checkpoint → report → attention path, without the minutes a ViT needs to train on 2 cores.
 */
async function randomInitVitRun(db: string, dir: string, dataset: string, imageSize: number): Promise<number> {
  const catalog = Catalog.open(db);
  try {
    const store = new RunStore(catalog);
    const config = { dataset, method: 'dino', backbone: 'vit-tiny', imageSize, patchSize: 4, batchSize: 8, seed: 0, backend: 'auto', checkpointMinutes: 5, monitorSize: 0, pipeline: {} };
    const runId = store.create('dino-vit-tiny (random init)', catalog.datasetIdByName(dataset), config as unknown as RunConfig);
    const model = createBackbone('vit-tiny', { imageSize, seed: 5, patchSize: 4 });
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [name, t] of Object.entries(await model.getState())) tensors[`modules/backbone.${name}`] = t;
    model.dispose();
    const meta: CheckpointMeta = { runId, step: 1, epoch: 1, batchInEpoch: 0, totalSteps: 1, config: config as unknown as CheckpointMeta['config'], optimizer: {}, savedAt: new Date().toISOString() };
    const file = path.join(dir, 'vit-run', 'checkpoint.ckpt');
    writeCheckpoint(file, { meta, tensors });
    store.setCheckpoint(runId, file);
    store.setStatus(runId, 'done');
    return runId;
  } finally {
    catalog.close();
  }
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

async function openReport(page: Page, reportId: number): Promise<void> {
  await page.locator(`[data-testid=report-item][data-report-id="${reportId}"] button`).click();
  await expect(page.getByTestId('report-view')).toHaveAttribute('data-report-id', String(reportId));
}

test.describe('Reports page against curio serve', () => {
  let tmp: string;
  let db: string;
  let server: CurioServer;
  let trained: EvalJson;
  let baseline: EvalJson;

  test.beforeAll(async () => {
    // Training on wasm runs at a few images/s on 2 busy cores: one epoch of 3 steps at 8 px, beside the baseline.
    test.setTimeout(240_000);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-e2e-reports-'));
    db = path.join(tmp, 'catalog.sqlite');
    await makeShapes(path.join(tmp, 'shapes'));
    await curio(db, 'import', path.join(tmp, 'shapes'), '--dataset', 'shapes', '--labels-from-folders');
    await curio(db, 'split', '--dataset', 'shapes', '--into', 'shapes-train:0.75,shapes-test:0.25');
    [baseline, trained] = await Promise.all([
      // The baseline's kNN bank is the whole of `shapes`, which holds every test image: the report must flag the leak.
      curio<EvalJson>(db, 'eval', '--run', 'random', '--backbone', 'small', '--train-dataset', 'shapes', '--test-dataset', 'shapes-test', '--protocol', 'linear,knn', '--fractions', ''),
      (async () => {
        const r = await curio<{ runId: number }>(db, 'train', '--dataset', 'shapes', '--method', 'simclr', '--backbone', 'small', '--epochs', '1', '--batch', '36', '--image-size', '8', '--backend', 'wasm');
        return curio<EvalJson>(db, 'eval', '--run', String(r.runId), '--train-dataset', 'shapes-train', '--test-dataset', 'shapes-test', '--fractions', '0.1');
      })(),
    ]);
    server = await startCurio(db);
  });

  test.afterAll(async () => {
    await server?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('open a report, compare two, export HTML, JSON and PDF, start and cancel an evaluation', async ({ page }) => {
    test.setTimeout(150_000);
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(server.url);
    await expect(page.getByTestId('connection-status')).toHaveText(/connected/);
    await page.getByTestId('nav-reports').click();

    // Both reports are listed; the newest opens by itself.
    await expect(page.getByTestId('report-item')).toHaveCount(2);
    await expect(page.getByTestId('report-view')).toHaveAttribute('data-report-id', String(Math.max(trained.reportId, baseline.reportId)));

    // The trained run's report: its numbers are the ones curio eval printed.
    await openReport(page, trained.reportId);
    await expect(page.getByTestId('report-title')).toContainText('SimCLR · small (run 1)');
    await expect(page.getByTestId('headline-linear-top1')).toHaveText(pct(trained.linear!.top1));
    await expect(page.getByTestId('headline-knn-k20')).toHaveText(pct(trained.knn!.k20));
    await expect(page.getByTestId('headline-gain-random')).toHaveText(/^(\+|−|±)\d+\.\d pt$/);
    await expect(page.getByTestId('table-linear')).toContainText('random init · small');
    await expect(page.getByTestId('table-linear')).toContainText('raw pixels');
    await expect(page.getByTestId('table-knn')).toContainText(pct(trained.knn!.k100));
    await expect(page.locator('[data-testid=fraction-row][data-fraction="0.1"]')).toContainText(pct(trained.fractions['0.1']!.mean).replace('%', ''));
    // shapes-train and shapes-test are disjoint halves of one split: no leak (other warnings, e.g. k=100 above the
    // train size, may show).
    await expect(page.getByTestId('report-view')).not.toContainText('Leak:');
    // which runtime extracted the features (the report records it for each feature set)
    await expect(page.getByTestId('report-extraction')).toContainText(/Feature extraction: .+: (ONNX Runtime|tfjs)/);

    // Per-class bars and the confusion matrix: one bar per class, one cell per pair, counts adding up to the test set.
    await expect(page.getByTestId('class-bar')).toHaveCount(CLASSES.length);
    const cells = page.getByTestId('confusion-cell');
    await expect(cells).toHaveCount(CLASSES.length ** 2);
    const counts = await cells.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-count'))));
    expect(counts.reduce((s, v) => s + v, 0)).toBe(7 * CLASSES.length);
    const diagonal = counts.filter((_, i) => i % (CLASSES.length + 1) === 0).reduce((s, v) => s + v, 0);
    expect(diagonal / (7 * CLASSES.length)).toBeCloseTo(trained.linear!.top1, 6);
    for (const c of CLASSES) await expect(page.getByTestId('confusion-col-label').filter({ hasText: c })).toHaveCount(1);
    await page.locator('[data-testid=confusion-cell][data-row="1"][data-col="2"]').hover();
    await expect(page.getByTestId('confusion-readout')).toContainText('circle predicted as square');

    // Exports into a folder typed by hand (browser mode has no native picker).
    const out = path.join(tmp, 'exports');
    fs.mkdirSync(out);
    await page.getByTestId('export-folder').fill(out);
    await page.getByTestId('export-html').click();
    await expect(page.locator('[data-testid=export-file][data-format=html]')).toContainText(out);
    await page.getByTestId('export-json').click();
    await expect(page.locator('[data-testid=export-file][data-format=json]')).toContainText(out);
    await page.getByTestId('export-pdf').click();
    await expect(page.locator('[data-testid=export-file][data-format=pdf]')).toContainText(out, { timeout: 60_000 });
    const written = (format: string) => path.join(out, fs.readdirSync(out).find((f) => f.endsWith(`.${format}`)) ?? `missing.${format}`);
    const html = fs.readFileSync(written('html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain('shapes-test');
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)="https?:/i);
    expect((JSON.parse(fs.readFileSync(written('json'), 'utf8')) as { id: number }).id).toBe(trained.reportId);
    expect(fs.readFileSync(written('pdf')).subarray(0, 5).toString()).toBe('%PDF-');

    // The baseline's report shows its leak prominently.
    await openReport(page, baseline.reportId);
    await expect(page.getByTestId('report-title')).toContainText('random init · small');
    await expect(page.getByTestId('report-warnings')).toContainText(`Leak: ${7 * CLASSES.length} test images`);
    await expect(page.getByTestId('headline-gain-random')).toHaveCount(0);
    await expect(page.getByTestId('table-fractions')).toHaveCount(0);

    // Tick both and compare: a papers-style table, and the trained run's curves.
    const compare = page.getByTestId('compare-ticked');
    await expect(compare).toBeDisabled();
    for (const check of await page.getByTestId('report-compare-check').all()) await check.check();
    await compare.click();
    const rows = page.getByTestId('compare-row');
    await expect(rows).toHaveCount(2);
    const trainedRow = page.locator(`[data-testid=compare-row][data-report-id="${trained.reportId}"]`);
    await expect(trainedRow).toContainText('SimCLR');
    await expect(trainedRow).toContainText('small');
    await expect(trainedRow.getByTestId('compare-linear')).toHaveText(pct(trained.linear!.top1));
    await expect(trainedRow.getByTestId('compare-knn')).toHaveText(pct(trained.knn!.k20));
    const baselineRow = page.locator(`[data-testid=compare-row][data-report-id="${baseline.reportId}"]`);
    await expect(baselineRow).toContainText('Random init');
    await expect(baselineRow.getByTestId('compare-knn')).toHaveText(pct(baseline.knn!.k20));
    await expect(baselineRow.getByTestId('compare-leak')).toHaveText(`leak: ${7 * CLASSES.length}`);
    await expect(trainedRow.getByTestId('compare-leak')).toHaveCount(0);
    // The leaky baseline is never marked best, however high its inflated numbers are.
    await expect(baselineRow.locator('td.best')).toHaveCount(0);
    await expect(trainedRow.getByTestId('compare-linear')).toHaveClass(/best/);
    await expect(page.getByTestId('compare-loss')).toHaveAttribute('data-series', '1');
    await expect(page.getByTestId('compare-knn-curve')).toHaveAttribute('data-series', '1');
    await expect(page.getByTestId('compare-curves-note')).toContainText('random-init encoder, no training curve');
    await page.getByTestId('compare-loss').locator('svg').hover();
    await expect(page.getByTestId('compare-loss-readout')).toContainText('step');
    await page.screenshot({ path: path.join(screenshotDir, 'reports-compare.png') });

    // A new evaluation from the form: the contract's limits first, then progress, then cancel.
    await page.getByTestId('new-eval').click();
    const form = page.getByTestId('eval-form');
    await expect(form.getByTestId('eval-train')).toHaveValue('shapes-train');
    await expect(form.getByTestId('eval-test')).toHaveValue('shapes-test');
    await form.getByTestId('eval-fractions').fill('1, 100');
    await form.getByTestId('eval-start').click();
    await expect(form.getByTestId('eval-error-fractions')).toContainText('between 0 and 100%');
    await form.getByTestId('eval-fractions').fill('10, 25, 50');
    await form.getByTestId('eval-train').selectOption('shapes');
    await expect(form.getByTestId('eval-same-dataset')).toHaveCount(0);
    // A ResNet-18 has no cached features yet: its extraction runs in batches, between which main takes the cancel.
    await form.getByTestId('eval-backbone').selectOption('resnet18');
    await form.getByTestId('eval-start').click();
    const progress = page.getByTestId('eval-progress');
    await expect(progress).toHaveAttribute('data-state', 'running');
    await page.getByTestId('eval-cancel').click();
    await expect(progress).toHaveAttribute('data-state', 'cancelled', { timeout: 30_000 });
    await expect(page.getByTestId('report-item')).toHaveCount(2);

    // Back to the trained report for the screenshot.
    await openReport(page, trained.reportId);
    await expect(page.getByTestId('confusion-cell')).toHaveCount(CLASSES.length ** 2);
    await page.screenshot({ path: path.join(screenshotDir, 'reports.png') });
    expect(pageErrors).toEqual([]);
  });

  test('a ViT run\'s report shows per-head CLS attention maps computed by curio serve', async ({ page }) => {
    test.setTimeout(120_000);
    const runId = await randomInitVitRun(db, tmp, 'shapes-train', 16);
    const vit = await curio<EvalJson>(db, 'eval', '--run', String(runId), '--train-dataset', 'shapes-train', '--test-dataset', 'shapes-test', '--protocol', 'knn', '--fractions', '');
    await page.goto(server.url);
    await page.getByTestId('nav-reports').click();
    await openReport(page, vit.reportId);
    await expect(page.getByTestId('report-title')).toContainText('vit-tiny');
    const panel = page.getByTestId('attention');
    await panel.getByTestId('attention-count').fill('3');
    await panel.getByTestId('attention-load').click();
    // vit-tiny has 3 heads: "all 3" plus one entry per head; each image row shows the image and 3 overlays
    await expect(panel.getByTestId('attention-head').locator('option')).toHaveCount(4, { timeout: 60_000 });
    const rows = panel.getByTestId('attention-image');
    await expect(rows).toHaveCount(3);
    for (const row of await rows.all()) {
      const overlays = row.locator('img.overlay');
      await expect(overlays).toHaveCount(3);
      for (const src of await overlays.evaluateAll((els) => els.map((e) => (e as unknown as { src: string }).src))) expect(src).toMatch(/^data:image\/png;base64,/);
      // the maps were decoded by the browser at the run's 16 px
      await expect.poll(() => overlays.first().evaluate((e) => (e as unknown as { naturalWidth: number }).naturalWidth)).toBe(16);
    }
    await panel.getByTestId('attention-head').selectOption({ label: '2' });
    await expect(rows.first().locator('img.overlay')).toHaveCount(1);
    await expect(rows.first().locator('img.overlay')).toHaveAttribute('alt', /head 2 attention/);
    await page.screenshot({ path: path.join(screenshotDir, 'reports-attention.png') });
  });
});
