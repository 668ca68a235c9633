import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import sharp from 'sharp';
import { chromiumPath, screenshotDir, startCurio, type CurioServer } from './curio-server.js';

test.skip(!fs.existsSync(chromiumPath), `no Chromium at ${chromiumPath}: install Debian's chromium package or set CURIO_CHROMIUM`);

const CLASSES = { cat: { hue: [220, 120, 60], format: 'png' }, dog: { hue: [60, 140, 220], format: 'jpeg' } } as const;
const PER_CLASS = 6;

/** Real images in class folders, plus a truncated JPEG and a text file named .png that must fail with a reason. */
async function makeImageFolder(dir: string): Promise<void> {
  for (const [label, { hue, format }] of Object.entries(CLASSES)) {
    fs.mkdirSync(path.join(dir, label), { recursive: true });
    for (let i = 0; i < PER_CLASS; i++) {
      const [r, g, b] = hue.map((c) => Math.min(255, c + i * 14)) as [number, number, number];
      const svg = Buffer.from(
        `<svg xmlns="http://www.w3.org/2000/svg" width="160" height="120">
           <rect width="160" height="120" fill="rgb(${r},${g},${b})"/>
           <circle cx="${30 + i * 20}" cy="${40 + (i % 3) * 20}" r="${18 + i * 3}" fill="rgb(${255 - r},${255 - g},${255 - b})"/>
           <rect x="${100 - i * 10}" y="70" width="40" height="30" fill="white" opacity="0.6"/>
         </svg>`,
      );
      const img = sharp(svg);
      const file = path.join(dir, label, `${label}-${i}.${format === 'png' ? 'png' : 'jpg'}`);
      await (format === 'png' ? img.png() : img.jpeg({ quality: 85 })).toFile(file);
    }
  }
  const jpeg = fs.readFileSync(path.join(dir, 'dog', 'dog-0.jpg'));
  fs.writeFileSync(path.join(dir, 'dog', 'broken.jpg'), jpeg.subarray(0, Math.floor(jpeg.length * 0.4)));
  fs.writeFileSync(path.join(dir, 'cat', 'notes.png'), 'these are notes, not an image\n');
}

/** The slice of an <img> the checks read (the Node-side tsconfig has no DOM library). */
interface LoadedImage {
  complete: boolean;
  naturalWidth: number;
}

/**
 * Enough large PNGs (decoding each one takes real time) that an import is still running when the test presses
 * Cancel, on any core count. Hard links: one file's bytes on disk, many paths for the scanner.
 */
async function makeSlowFolder(dir: string): Promise<number> {
  const count = Math.max(80, 40 * os.availableParallelism());
  const w = 2400;
  const h = 1600;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
    <defs><linearGradient id="g"><stop offset="0" stop-color="#335"/><stop offset="1" stop-color="#c84"/></linearGradient></defs>
    <rect width="${w}" height="${h}" fill="url(#g)"/><circle cx="1200" cy="800" r="560" fill="#9cf" opacity="0.7"/></svg>`;
  fs.mkdirSync(path.join(dir, 'big'), { recursive: true });
  const first = path.join(dir, 'big', 'big-0000.png');
  await sharp(Buffer.from(svg)).png().toFile(first);
  for (let i = 1; i < count; i++) fs.linkSync(first, path.join(dir, 'big', `big-${String(i).padStart(4, '0')}.png`));
  return count;
}

async function allThumbnailsLoaded(page: Page): Promise<number[]> {
  return page.locator('[data-testid="thumbnail"]').evaluateAll((imgs) =>
    imgs.map((img) => ((img as unknown as LoadedImage).complete ? (img as unknown as LoadedImage).naturalWidth : 0)),
  );
}

test.describe('Datasets page against curio serve', () => {
  let tmp: string;
  let server: CurioServer;

  test.beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-e2e-'));
    await makeImageFolder(path.join(tmp, 'pets'));
    server = await startCurio(path.join(tmp, 'catalog.sqlite'));
  });

  test.afterAll(async () => {
    await server?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('import a folder by path: progress finishes, thumbnails load, failures list their reasons', async ({ page }) => {
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // CSP violations and failed media loads show up only as console errors.
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    page.on('response', (r) => {
      if (r.status() >= 400) pageErrors.push(`${r.status()} ${new URL(r.url()).pathname}`);
    });
    await page.goto(server.url);
    await expect(page.getByTestId('connection-status')).toHaveText(/connected/);
    await expect(page.getByTestId('dataset-list')).toContainText('No datasets yet');

    // Every page of the shell opens, and none is a placeholder any more.
    for (const [id, content] of [['curation', 'curation-page'], ['augmentations', 'augment-page'], ['runs', 'run-list'], ['reports', 'report-list']]) {
      await page.getByTestId(`nav-${id}`).click();
      await expect(page.getByTestId(`nav-${id}`)).toHaveAttribute('aria-current', 'page');
      await expect(page.getByTestId(content!)).toBeVisible();
    }
    await page.getByTestId('nav-datasets').click();

    // A folder that does not exist gets main's error, shown to the user.
    await page.getByTestId('import-path').fill(path.join(tmp, 'no-such-folder'));
    await page.getByTestId('import-submit').click();
    await expect(page.getByTestId('import-error')).toContainText('no-such-folder');

    const folder = path.join(tmp, 'pets');
    await page.getByTestId('import-path').fill(folder);
    await expect(page.getByTestId('import-name')).toHaveValue('pets');
    await page.getByTestId('import-labels').check();
    await page.getByTestId('import-submit').click();

    const progress = page.getByTestId('import-progress');
    await expect(progress).toBeVisible();
    await expect(progress).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
    await expect(page.getByTestId('import-summary')).toContainText(`${2 * PER_CLASS} imported`);
    await expect(page.getByTestId('import-summary')).toContainText('2 failed');

    await expect(page.getByTestId('dataset-item').filter({ hasText: 'pets' })).toContainText('14');
    await expect(page.getByTestId('dataset-title')).toHaveText('pets');
    await expect(page.getByTestId('image-grid')).toHaveAttribute('data-total', '14');
    await expect(page.locator('[data-testid="grid-cell"]')).toHaveCount(14);
    await expect(page.locator('[data-testid="grid-cell"][data-status="failed"]')).toHaveCount(2);
    await expect(page.getByTestId('thumbnail')).toHaveCount(2 * PER_CLASS);
    await expect.poll(async () => (await allThumbnailsLoaded(page)).filter((w) => w > 0).length, { timeout: 15_000 }).toBe(2 * PER_CLASS);

    // Label filter: the class folders became labels.
    await page.getByTestId('filter-label').selectOption('cat');
    await expect(page.getByTestId('image-grid')).toHaveAttribute('data-total', String(PER_CLASS + 1));
    await page.getByTestId('filter-status').selectOption('ok');
    await expect(page.getByTestId('image-grid')).toHaveAttribute('data-total', String(PER_CLASS));
    await page.getByTestId('filter-label').selectOption('*');
    await expect(page.getByTestId('image-grid')).toHaveAttribute('data-total', String(2 * PER_CLASS));
    await page.getByTestId('filter-status').selectOption('*');

    // Detail view of one image, with its hashes and the original.
    await page.locator('[data-testid="grid-cell"][data-status="ok"]').first().click();
    const detail = page.getByTestId('image-detail');
    await expect(detail.getByTestId('detail-sha256')).toHaveText(/^[0-9a-f]{64}$/);
    await expect(detail.getByTestId('detail-phash')).toHaveText(/^[0-9a-f]{16}$/);
    await expect(detail.getByTestId('detail-size')).toHaveText('160 × 120 px');
    await expect(detail.getByTestId('detail-label')).toHaveText(/^(cat|dog)$/);
    await expect(detail.getByTestId('detail-path')).toContainText(folder);
    await expect.poll(() => detail.getByTestId('detail-image').evaluate((img) => (img as unknown as LoadedImage).naturalWidth)).toBe(160);
    await page.screenshot({ path: path.join(screenshotDir, 'datasets.png') });

    // The failed files with their reasons.
    await page.getByTestId('detail-close').click();
    await page.getByTestId('tab-failures').click();
    const rows = page.getByTestId('failure-row');
    await expect(rows).toHaveCount(2);
    const failed = await rows.evaluateAll((trs) =>
      trs.map((tr) => ({ path: tr.querySelector('td')!.textContent!.trim(), reason: tr.querySelector('[data-testid="failure-reason"]')!.textContent!.trim() })),
    );
    expect(failed.map((f) => path.basename(f.path)).sort()).toEqual(['broken.jpg', 'notes.png']);
    for (const f of failed) expect(f.reason.length).toBeGreaterThan(3);
    await rows.first().click();
    await expect(page.getByTestId('detail-error')).not.toBeEmpty();
    await page.screenshot({ path: path.join(screenshotDir, 'datasets-failures.png') });

    // Removing the dataset drops its catalog rows and never the files.
    page.once('dialog', (d) => void d.accept());
    await page.getByTestId('dataset-remove').click();
    await expect(page.getByTestId('dataset-item').filter({ hasText: 'pets' })).toHaveCount(0);
    expect(fs.existsSync(path.join(folder, 'cat', 'cat-0.png'))).toBe(true);

    expect(pageErrors).toEqual([]);
  });

  test('live progress with counts and ETA; Cancel keeps what was done and a re-import completes it', async ({ page }) => {
    const folder = path.join(tmp, 'slow');
    const count = await makeSlowFolder(folder);
    await page.goto(server.url);
    await expect(page.getByTestId('connection-status')).toHaveText(/connected/);
    await page.getByTestId('import-path').fill(folder);
    await page.getByTestId('import-name').fill('slow');
    await page.getByTestId('import-submit').click();

    const job = page.locator('[data-testid="import-progress"][data-state="running"]');
    await expect(job.getByTestId('progress-counts')).toContainText(`/ ${count}`);
    await expect(job.getByTestId('progress-eta')).toContainText('ETA');
    await job.getByTestId('import-cancel').click();

    const ended = page.getByTestId('import-progress').first();
    await expect(ended).toHaveAttribute('data-state', 'cancelled', { timeout: 60_000 });
    const kept = Number(/([\d,]+) imported/.exec((await ended.getByTestId('import-summary').textContent()) ?? '')![1]!.replace(/,/g, ''));
    expect(kept).toBeLessThan(count);
    await expect(page.getByTestId('dataset-title')).toHaveText('slow');
    await expect(page.getByTestId('image-grid')).toHaveAttribute('data-total', String(kept));

    // The same folder again: what the cancelled run stored is skipped, the rest lands.
    await ended.getByRole('button', { name: 'Dismiss' }).click();
    await page.getByTestId('import-path').fill(folder);
    await page.getByTestId('import-name').fill('slow');
    await page.getByTestId('import-submit').click();
    const done = page.getByTestId('import-progress').first();
    await expect(done).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
    await expect(done.getByTestId('import-summary')).toContainText(`${count - kept} imported · ${kept} unchanged`);
    await expect(page.getByTestId('image-grid')).toHaveAttribute('data-total', String(count));
  });

  test('a thumbnail gone from the cache shows a placeholder, not a broken image', async ({ page, browser }) => {
    const folder = path.join(tmp, 'two');
    fs.mkdirSync(folder, { recursive: true });
    for (const [i, color] of [{ r: 250, g: 80, b: 40 }, { r: 40, g: 90, b: 250 }].entries()) {
      await sharp({ create: { width: 80, height: 60, channels: 3, background: color } }).png().toFile(path.join(folder, `c${i}.png`));
    }
    await page.goto(server.url);
    await page.getByTestId('import-path').fill(folder);
    await page.getByTestId('import-submit').click();
    await expect(page.getByTestId('import-progress').first()).toHaveAttribute('data-state', 'done');
    await expect(page.getByTestId('thumbnail')).toHaveCount(2);

    // The cache sits next to the catalog, one <sha256>.webp per content hash.
    const sha = await page.getByTestId('thumbnail').first().evaluate((img) => /([0-9a-f]{64})\.webp/.exec((img as unknown as { src: string }).src)![1]!);
    fs.rmSync(path.join(tmp, 'thumbnails', sha.slice(0, 2), `${sha}.webp`));
    // A fresh context: thumbnails are immutable by hash, so this page's HTTP cache would still hold it.
    const fresh = await browser.newContext();
    try {
      const other = await fresh.newPage();
      await other.goto(server.url);
      await other.getByTestId('dataset-item').filter({ hasText: 'two' }).click();
      await expect(other.locator('[data-testid="grid-cell"][data-status="ok"]')).toHaveCount(2);
      await expect(other.getByTestId('thumbnail')).toHaveCount(1);
      await expect(other.getByTestId('image-grid')).toContainText('no thumbnail');
    } finally {
      await fresh.close();
    }
  });

  test('a wrong token gets no page, no media and no WebSocket', async ({ page, playwright }) => {
    const anonymous = await playwright.request.newContext();
    try {
      const pageResponse = await anonymous.get(`${server.origin}/?token=not-the-token`);
      expect(pageResponse.status()).toBe(401);
      expect(await pageResponse.text()).not.toContain('<script');
      expect((await anonymous.get(`${server.origin}/`)).status()).toBe(401);
      expect((await anonymous.get(`${server.origin}/images/1?token=not-the-token`)).status()).toBe(401);
      // The right token does get the page: the 401s above are about the token, not a broken server.
      expect((await anonymous.get(server.url)).status()).toBe(200);
    } finally {
      await anonymous.dispose();
    }

    await page.goto(server.url);
    await expect(page.getByTestId('connection-status')).toHaveText(/connected/);
    const host = new URL(server.origin).host;
    const outcome = (token: string) =>
      page.evaluate(
        ({ t, host }) =>
          new Promise<string>((resolve) => {
            const ws = new WebSocket(`ws://${host}/rpc?token=${t}`);
            ws.onopen = () => ws.send(JSON.stringify({ type: 'request', id: 1, method: 'datasets.list', params: {} }));
            ws.onmessage = (e) => {
              ws.close();
              resolve(`data:${String(e.data).slice(0, 200)}`);
            };
            ws.onclose = () => resolve('closed without data');
          }),
        { t: token, host },
      );
    expect(await outcome('not-the-token')).toBe('closed without data');
    expect(await outcome(server.token)).toMatch(/^data:\{"type":"response","id":1,"ok":true/);
  });
});
