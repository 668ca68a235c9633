import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from '@playwright/test';
import sharp from 'sharp';
import { chromiumPath, root, screenshotDir, startCurio, type CurioServer } from './curio-server.js';
import { Catalog } from '../../main/catalog/catalog.js';
import { createBackbone } from '../../main/train/models/index.js';
import { writeCheckpoint } from '../../main/train/runs/checkpoint.js';
import type { CheckpointMeta } from '../../main/train/runs/protocol.js';
import { RunStore } from '../../main/train/runs/run-store.js';
import type { RunConfig } from '../../shared/contract/train.js';

test.skip(!fs.existsSync(chromiumPath), `no Chromium at ${chromiumPath}: install Debian's chromium package or set CURIO_CHROMIUM`);

const run = promisify(execFile);
const SIZE = 64;
const ORIGINALS = 10;

/** A random smooth colour field with a few discs on it: images that differ in layout, not just in hue. */
function pattern(seed: number): Buffer {
  let s = seed * 7919 + 13;
  const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const discs = Array.from({ length: 4 }, () => ({ x: rnd() * SIZE, y: rnd() * SIZE, r: 6 + rnd() * 14, c: [rnd() * 255, rnd() * 255, rnd() * 255] }));
  const fx = 1 + rnd() * 4;
  const fy = 1 + rnd() * 4;
  const px = Buffer.alloc(SIZE * SIZE * 3);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      let c = [128 + 100 * Math.sin((x * fx) / 10), 128 + 100 * Math.cos((y * fy) / 10), 128 + 80 * Math.sin(((x + y) * fx) / 15)];
      for (const d of discs) if ((x - d.x) ** 2 + (y - d.y) ** 2 < d.r ** 2) c = d.c;
      px.set(c.map((v) => Math.max(0, Math.min(255, Math.round(v)))), (y * SIZE + x) * 3);
    }
  }
  return px;
}

/**
 * 10 distinct PNGs, plus near-duplicates of three of them: a byte copy, a resized JPEG and a low-quality
 * re-encode. Ground truth: 3 groups, 4 copies to remove (original 0 has two copies, 1 and 2 one each).
 */
async function makeFolder(dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < ORIGINALS; i++) {
    await sharp(pattern(i), { raw: { width: SIZE, height: SIZE, channels: 3 } }).png().toFile(path.join(dir, `img-${i}.png`));
  }
  fs.copyFileSync(path.join(dir, 'img-0.png'), path.join(dir, 'copy-0-bytes.png'));
  await sharp(path.join(dir, 'img-0.png')).resize(48, 48).jpeg({ quality: 80 }).toFile(path.join(dir, 'copy-0-small.jpg'));
  await sharp(path.join(dir, 'img-1.png')).jpeg({ quality: 35 }).toFile(path.join(dir, 'copy-1-q35.jpg'));
  await sharp(path.join(dir, 'img-2.png')).resize(96, 96).jpeg({ quality: 70 }).toFile(path.join(dir, 'copy-2-large.jpg'));
}

/**
 * A finished vit-tiny run whose checkpoint holds a random-init backbone: what the encoder select lists, without the
 * minutes a ViT needs to train on 2 cores. Curation embeds it on ONNX Runtime (main/onnx/vit.ts).
 */
async function randomInitVitRun(db: string, dir: string, dataset: string): Promise<number> {
  const catalog = Catalog.open(db);
  try {
    const store = new RunStore(catalog);
    const config = { dataset, method: 'dino', backbone: 'vit-tiny', imageSize: 16, patchSize: 4, batchSize: 8, seed: 0, backend: 'auto', checkpointMinutes: 5, monitorSize: 0, pipeline: {} };
    const runId = store.create('dino-vit-tiny (random init)', catalog.datasetIdByName(dataset), config as unknown as RunConfig);
    const model = createBackbone('vit-tiny', { imageSize: 16, seed: 5, patchSize: 4 });
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

test.describe('Curation page against curio serve', () => {
  let tmp: string;
  let server: CurioServer;
  let vitRun: number;
  /** the ViT run's encoder as `curio export-encoder --format onnx` writes it */
  let exportedOnnx: string;

  test.beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-e2e-curation-'));
    const db = path.join(tmp, 'catalog.sqlite');
    await makeFolder(path.join(tmp, 'pics'));
    await run(process.execPath, [path.join(root, 'bin/curio.js'), 'import', path.join(tmp, 'pics'), '--dataset', 'pics', '--db', db, '--json'], {
      cwd: root,
      env: { ...process.env, CURIO_FROM_SOURCE: '' },
    });
    vitRun = await randomInitVitRun(db, tmp, 'pics');
    const exported = await run(
      process.execPath,
      [path.join(root, 'bin/curio.js'), 'export-encoder', '--run', String(vitRun), '--format', 'onnx', '--out', path.join(tmp, 'exported'), '--db', db, '--json'],
      { cwd: root, env: { ...process.env, CURIO_FROM_SOURCE: '' } },
    );
    exportedOnnx = (JSON.parse(exported.stdout.trim().split('\n').at(-1)!) as { files: string[] }).files.find((f) => f.endsWith('.onnx'))!;
    fs.writeFileSync(path.join(tmp, 'not-a-model.onnx'), 'these bytes are not an ONNX graph');
    server = await startCurio(db);
  });

  test.afterAll(async () => {
    await server?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('dedup a folder, preview a threshold, review groups with the keyboard, apply and see the new count', async ({ page }) => {
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(server.url);
    await expect(page.getByTestId('connection-status')).toHaveText(/connected/);
    await page.getByTestId('nav-curation').click();
    await expect(page.getByTestId('dedup-dataset')).toHaveValue('pics');
    await expect(page.getByTestId('strategy-embedding')).toBeChecked();

    await page.getByTestId('dedup-run').click();
    const summary = page.getByTestId('dedup-summary');
    await expect(summary).toContainText('proposed for removal', { timeout: 60_000 });
    await expect(summary).toContainText('4 of 14 images');
    const groups = page.getByTestId('dup-group');
    await expect(groups).toHaveCount(3);
    // the group with two copies comes first, its byte copy scored 1
    await expect(groups.nth(0).getByTestId('dup-similarity')).toHaveCount(2);
    await expect(groups.nth(0)).toContainText('identical bytes');

    // The review job's histogram: the slider recounts without a new job.
    await expect(page.getByTestId('nn-histogram')).toBeVisible({ timeout: 60_000 });
    const preview = page.getByTestId('threshold-preview');
    await page.getByTestId('threshold-slider').fill('0.999');
    const strict = Number((await preview.locator('b').textContent()) ?? 'NaN');
    await page.getByTestId('threshold-slider').fill('0.5');
    const loose = Number((await preview.locator('b').textContent()) ?? 'NaN');
    expect(loose).toBeGreaterThanOrEqual(strict);
    expect(loose).toBeGreaterThanOrEqual(1);
    await expect(page.getByTestId('threshold-value')).toHaveText('0.500');

    // The map draws every image and shows a thumbnail on hover.
    const map = page.getByTestId('embedding-map');
    await expect(map.locator('circle')).toHaveCount(14);
    await expect(page.getByTestId('map-projection')).toHaveText('UMAP');
    const dot = await map.locator('circle').first().boundingBox();
    await page.mouse.move(dot!.x + dot!.width / 2, dot!.y + dot!.height / 2);
    await expect(page.getByTestId('map-tooltip')).toBeVisible();

    // Keyboard review: r rejects the focused (first) group and moves on, a accepts the second, j skips nothing else.
    await page.locator('body').click({ position: { x: 700, y: 880 } });
    await page.keyboard.press('r');
    await page.keyboard.press('a');
    await expect(groups.nth(0)).toHaveAttribute('data-decision', 'rejected');
    await expect(groups.nth(1)).toHaveAttribute('data-decision', 'accepted');
    await expect(groups.nth(2)).toHaveAttribute('data-decision', 'undecided');
    await page.keyboard.press('k');
    await expect(groups.nth(1)).toHaveClass(/focused/);
    // Rejecting the two-copy group keeps both copies: 2 of the 4 are removed.
    await expect(page.getByTestId('apply-remove-count')).toHaveText('2');

    await page.getByTestId('apply-name').fill('pics-curated');
    await page.getByTestId('apply-run').click();
    await expect(page.getByTestId('applied-count')).toHaveText('12');
    await expect(page.getByTestId('dedup-dataset').locator('option', { hasText: 'pics-curated (12)' })).toHaveCount(1);
    await expect(page.getByTestId('dedup-dataset').locator('option', { hasText: 'pics (14)' })).toHaveCount(1);

    fs.mkdirSync(screenshotDir, { recursive: true });
    await page.mouse.move(dot!.x + dot!.width / 2, dot!.y + dot!.height / 2);
    await page.screenshot({ path: path.join(screenshotDir, 'curation.png') });
    expect(pageErrors).toEqual([]);
  });

  test('the encoder select runs dedup with a run\'s encoder (a ViT, on ONNX Runtime) and the summary names it', async ({ page }) => {
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(server.url);
    await expect(page.getByTestId('connection-status')).toHaveText(/connected/);
    await page.getByTestId('nav-curation').click();
    await page.getByTestId('dedup-dataset').selectOption('pics');
    const select = page.getByTestId('dedup-encoder');
    await expect(select.locator('option')).toHaveText(['Built-in descriptor', new RegExp(`^Run ${vitRun}: dino-vit-tiny \\(random init\\) \\(vit-tiny, step \\d+\\)$`), 'Model file…']);
    await select.selectOption(String(vitRun));
    await page.getByTestId('dedup-run').click();
    const summary = page.getByTestId('dedup-summary');
    await expect(summary).toContainText(`run ${vitRun} (vit-tiny, step 1) on onnxruntime`, { timeout: 60_000 });
    await expect(summary).toContainText('of 14 images');
    await expect(summary).not.toContainText('not embedded');
    expect(pageErrors).toEqual([]);
  });

  test('"Model file…" runs dedup with an exported .onnx encoder and names it; a bad path shows main\'s one-line error', async ({ page }) => {
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(server.url);
    await expect(page.getByTestId('connection-status')).toHaveText(/connected/);
    await page.getByTestId('nav-curation').click();
    await page.getByTestId('dedup-dataset').selectOption('pics');
    await page.getByTestId('dedup-encoder').selectOption('file');
    const field = page.getByTestId('dedup-encoder-path');
    const hint = page.getByTestId('dedup-encoder-path-hint');
    const runButton = page.getByTestId('dedup-run');
    // browser mode has no file dialog: the path field is the way in
    await expect(page.getByTestId('dedup-encoder-browse')).toHaveCount(0);
    await expect(runButton).toBeDisabled();
    await field.fill('exported/model.onnx');
    await expect(hint).toHaveText(/full path/);
    await expect(runButton).toBeDisabled();

    // a file that is not a model: the job fails and the page shows main's error on one line
    await field.fill(path.join(tmp, 'not-a-model.onnx'));
    await expect(runButton).toBeEnabled();
    await runButton.click();
    const error = page.getByTestId('curation-error');
    await expect(error).toContainText(`cannot load ONNX encoder ${path.join(tmp, 'not-a-model.onnx')}`, { timeout: 30_000 });
    expect((await error.innerText()).includes('\n')).toBe(false);
    // a path that is not there: refused before a job starts
    await field.fill(path.join(tmp, 'missing', 'model.onnx'));
    await runButton.click();
    await expect(error).toHaveText(`encoder ${path.join(tmp, 'missing', 'model.onnx')} does not exist`);

    await field.fill(exportedOnnx);
    await runButton.click();
    const summary = page.getByTestId('dedup-summary');
    await expect(summary).toContainText(`${exportedOnnx} on onnxruntime`, { timeout: 60_000 });
    await expect(summary).toContainText('of 14 images');
    await expect(summary).not.toContainText('not embedded');
    await expect(error).toHaveCount(0);
    expect(pageErrors).toEqual([]);
  });
});
