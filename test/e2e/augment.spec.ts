import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import sharp from 'sharp';
import { chromiumPath, screenshotDir, startCurio, type CurioServer } from './curio-server.js';

test.skip(!fs.existsSync(chromiumPath), `no Chromium at ${chromiumPath}: install Debian's chromium package or set CURIO_CHROMIUM`);

/** Colourful shapes, so colour jitter visibly changes them. */
async function makeShapes(dir: string, count = 10): Promise<void> {
  for (let i = 0; i < count; i++) {
    const hue = (i * 47) % 360;
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="96">
      <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
        <stop offset="0" stop-color="hsl(${hue},70%,35%)"/><stop offset="1" stop-color="hsl(${(hue + 120) % 360},80%,70%)"/>
      </linearGradient></defs>
      <rect width="120" height="96" fill="url(#g)"/>
      <circle cx="${20 + ((i * 13) % 80)}" cy="${25 + ((i * 7) % 40)}" r="${14 + (i % 4) * 4}" fill="hsl(${(hue + 200) % 360},90%,55%)"/>
      <rect x="${60 - (i % 5) * 8}" y="52" width="36" height="24" fill="white" opacity="0.7"/></svg>`;
    const label = i % 2 ? 'a' : 'b';
    fs.mkdirSync(path.join(dir, label), { recursive: true });
    await sharp(Buffer.from(svg)).png().toFile(path.join(dir, label, `${i}.png`));
  }
}

async function viewSources(page: Page): Promise<string[]> {
  return page.getByTestId('preview-view').evaluateAll((imgs) => imgs.map((i) => i.getAttribute('src') ?? ''));
}

/** The views once no preview is pending: the same twice, longer than the designer's debounce apart, and not busy. */
async function settledSources(page: Page): Promise<string[]> {
  const deadline = Date.now() + 30_000;
  let last = await viewSources(page);
  while (Date.now() < deadline) {
    await page.waitForTimeout(700);
    const busy = (await page.getByTestId('preview-grid').getAttribute('class'))?.includes('busy');
    const now = await viewSources(page);
    if (!busy && now.length > 0 && now.every((src, i) => src === last[i])) return now;
    last = now;
  }
  throw new Error('the preview did not settle within 30 s');
}

test.describe('Augmentations page against curio serve', () => {
  let tmp: string;
  let server: CurioServer;

  test.beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-e2e-augment-'));
    await makeShapes(path.join(tmp, 'shapes'));
    server = await startCurio(path.join(tmp, 'catalog.sqlite'));
  });

  test.afterAll(async () => {
    await server?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('SimCLR preset, stronger colour jitter changes the preview, save it, find it in the new-run form; BYOL per-view overrides are editable', async ({ page }) => {
    test.setTimeout(120_000);
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(server.url);
    await expect(page.getByTestId('connection-status')).toHaveText(/connected/);
    await page.getByTestId('import-path').fill(path.join(tmp, 'shapes'));
    await page.getByTestId('import-submit').click();
    await expect(page.getByTestId('import-progress')).toHaveAttribute('data-state', 'done', { timeout: 60_000 });

    await page.getByTestId('nav-augmentations').click();
    await expect(page.getByTestId('augment-dataset')).toContainText('shapes');
    await page.getByTestId('preset-simclr').click();
    await expect(page.getByTestId('augment-cites')).toContainText('SimCLR');
    // crops follow the dataset: 96 px is the shorter side of its images
    await expect(page.getByTestId('augment-image-size')).toHaveValue('96');
    await expect(page.getByTestId('field-0-size')).toHaveValue('96');
    await expect(page.getByTestId('preview-view')).toHaveCount(8 * 4, { timeout: 30_000 });
    await expect(page.getByTestId('strength-color_jitter')).toContainText('0.80');
    await expect(page.getByTestId('augment-warnings')).toHaveCount(0);
    const before = await viewSources(page);
    fs.mkdirSync(screenshotDir, { recursive: true });
    await page.screenshot({ path: path.join(screenshotDir, 'augment-simclr-before.png') });

    const jitter = page.locator('[data-op="color_jitter"]');
    // a bad value shows its field error and keeps the last good preview
    await jitter.locator('input[data-testid$="-p"]').fill('1.5');
    await expect(jitter.locator('[data-testid$="-p"].err, [data-testid^="error-"]')).toContainText('must be ≤ 1');
    await jitter.locator('input[data-testid$="-p"]').fill('0.8');
    await expect(page.getByTestId('augment-issues')).toHaveCount(0);

    await jitter.locator('input[data-testid$="-strength"]').fill('2');
    await expect(page.getByTestId('strength-color_jitter')).toContainText('1.60');
    await expect.poll(async () => (await viewSources(page)).filter((src, i) => src !== before[i]).length, { timeout: 30_000 }).toBeGreaterThan(8);
    await expect(page.getByTestId('preview-grid')).not.toHaveClass(/busy/);
    await page.screenshot({ path: path.join(screenshotDir, 'augment-simclr-strength2-after.png') });

    // Resample draws new views
    const strong = await viewSources(page);
    await page.getByTestId('augment-resample').click();
    await expect.poll(async () => (await viewSources(page)).filter((src, i) => src !== strong[i]).length, { timeout: 30_000 }).toBeGreaterThan(8);

    await page.getByTestId('pipeline-name').fill('simclr strong jitter');
    await page.getByTestId('pipeline-save').click();
    await expect(page.getByTestId('augment-message')).toContainText('saved “simclr strong jitter”');
    await expect(page.getByTestId('saved-pipelines')).toContainText('simclr strong jitter');

    // Removing colour jitter from a SimCLR pipeline earns the paper-cited warning
    await jitter.getByRole('button', { name: 'Remove' }).click();
    await expect(page.getByTestId('warning-no-color-jitter')).toContainText('SimCLR');

    // BYOL's asymmetric per-view overrides are editable, validated with the field named, and drive the preview
    await page.getByTestId('preset-byol').click();
    await expect(page.getByTestId('augment-cites')).toContainText('BYOL');
    const overrides = page.getByTestId('overrides');
    await expect(overrides.locator('li[data-op]')).toHaveCount(4);
    await expect(page.getByTestId('override-3-op')).toHaveValue('solarize');
    await expect(page.getByTestId('override-3-views')).toHaveValue('1');
    await expect(page.getByTestId('override-3-p')).toHaveValue('0.2');
    const byol = await settledSources(page);
    expect(byol).toHaveLength(8 * 4);
    await page.getByTestId('override-3-p').fill('1.5');
    await expect(page.getByTestId('override-error-3-p')).toContainText('must be ≤ 1');
    await expect(page.getByTestId('augment-issues')).toContainText('overrides[3].set.p');
    await page.getByTestId('override-3-p').fill('1');
    await expect(page.getByTestId('augment-issues')).toHaveCount(0);
    // solarize on every second view: columns 2 and 4 (view 1 of both draws) change, columns 1 and 3 do not
    await expect.poll(async () => (await viewSources(page)).filter((src, i) => src !== byol[i] && i % 2 === 1).length, { timeout: 30_000 }).toBeGreaterThan(8);
    expect((await viewSources(page)).filter((src, i) => src !== byol[i] && i % 2 === 0)).toEqual([]);
    await page.screenshot({ path: path.join(screenshotDir, 'augment-byol-override-solarize-view1.png') });
    // a new override on a view that does not exist is refused with its field named, and can be removed
    await page.getByTestId('add-override').click();
    await expect(overrides.locator('li[data-op]')).toHaveCount(5);
    await page.getByTestId('override-4-views').fill('0, 5');
    await page.getByTestId('override-4-views').press('Enter');
    await expect(page.getByTestId('override-error-4-views')).toContainText('view 5 does not exist (the pipeline makes 2 views)');
    await page.getByTestId('remove-override-4').click();
    await expect(overrides.locator('li[data-op]')).toHaveCount(4);
    await expect(page.getByTestId('augment-issues')).toHaveCount(0);

    // DINO shows its globals and locals apart
    await page.getByTestId('preset-dino').click();
    await expect(page.locator('[data-kind="local"]').first()).toBeVisible({ timeout: 30_000 });
    await page.screenshot({ path: path.join(screenshotDir, 'augment-dino.png') });

    await page.getByTestId('nav-runs').click();
    const select = page.getByTestId('run-pipeline');
    await expect(select.locator('option', { hasText: 'simclr strong jitter' })).toHaveCount(1);
    await select.selectOption({ label: 'simclr strong jitter (simclr)' });
    await expect(select).toHaveValue('saved:simclr strong jitter');
    expect(pageErrors).toEqual([]);
  });
});
