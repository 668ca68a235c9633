import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import sharp from 'sharp';
import { chromiumPath, freePort, startCurio, type CurioServer } from './curio-server.js';

test.skip(!fs.existsSync(chromiumPath), `no Chromium at ${chromiumPath}: install Debian's chromium package or set CURIO_CHROMIUM`);

/**
 * The renderer's Electron branch without Electron: an init script puts a stand-in for the preload on
 * `window.curio` (the PreloadApi shape of shared/wire.ts) before the app starts. It carries the same frames over a
 * WebSocket, answers 'app.pickFolders' like the native dialog would, and maps a dropped File's name to a path
 * like webUtils.getPathForFile. What the renderer must do with them is what is under test.
 */
async function installFakePreload(page: Page, options: { pickable: string[] | null; dropPaths: Record<string, string> }): Promise<void> {
  await page.addInitScript((opts) => {
    type Listener = (name: string, payload: unknown) => void;
    const g = globalThis as unknown as {
      location: { host: string; search: string };
      WebSocket: new (url: string) => { readyState: number; send(s: string): void; onopen: () => void; onmessage: (e: { data: string }) => void };
      curio?: unknown;
      __preloadCalls: string[];
    };
    const token = new URLSearchParams(g.location.search).get('token') ?? '';
    const ws = new g.WebSocket(`ws://${g.location.host}/rpc?token=${token}`);
    const opened = new Promise<void>((resolve) => (ws.onopen = () => resolve()));
    const waiting = new Map<number, (reply: unknown) => void>();
    const listeners = new Set<Listener>();
    let nextId = 1;
    g.__preloadCalls = [];
    ws.onmessage = (e) => {
      const frame = JSON.parse(e.data) as { type: string; id: number; name: string; payload: unknown; ok: boolean; result: unknown; error: unknown };
      if (frame.type === 'event') for (const l of listeners) l(frame.name, frame.payload);
      else waiting.get(frame.id)?.(frame.ok ? { ok: true, result: frame.result } : { ok: false, error: frame.error });
    };
    g.curio = {
      mediaBase: '/',
      async invoke(method: string, params: unknown) {
        g.__preloadCalls.push(method);
        if (method === 'app.pickFolders') {
          return { ok: true, result: opts.pickable === null ? { supported: false, paths: [] } : { supported: true, paths: opts.pickable } };
        }
        await opened;
        const id = nextId++;
        return new Promise((resolve) => {
          waiting.set(id, resolve);
          ws.send(JSON.stringify({ type: 'request', id, method, params }));
        });
      },
      onEvent(listener: Listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      getPathForFile(file: { name: string }) {
        return opts.dropPaths[file.name] ?? '';
      },
    };
  }, options);
}

async function dropFile(page: Page, name: string, uriList = ''): Promise<void> {
  await page.getByTestId('drop-zone').evaluate((zone, { fileName, uriList }) => {
    const g = globalThis as unknown as {
      DataTransfer: new () => { items: { add(f: unknown): void }; setData(type: string, data: string): void };
      File: new (parts: string[], name: string) => unknown;
      DragEvent: new (type: string, init: { dataTransfer: unknown; bubbles: boolean; cancelable: boolean }) => unknown;
    };
    const dt = new g.DataTransfer();
    dt.items.add(new g.File([''], fileName));
    if (uriList) dt.setData('text/uri-list', uriList);
    (zone as unknown as { dispatchEvent(e: unknown): void }).dispatchEvent(new g.DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, { fileName: name, uriList });
}

test.describe('renderer on the preload transport (window.curio)', () => {
  let tmp: string;
  let server: CurioServer;
  let folder: string;

  test.beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-e2e-preload-'));
    folder = path.join(tmp, 'shapes');
    fs.mkdirSync(path.join(folder, 'red'), { recursive: true });
    for (let i = 0; i < 3; i++) {
      await sharp({ create: { width: 64 + i * 8, height: 48, channels: 3, background: { r: 200, g: 40 + i * 60, b: 40 } } })
        .png()
        .toFile(path.join(folder, 'red', `r${i}.png`));
    }
    server = await startCurio(path.join(tmp, 'catalog.sqlite'));
  });

  test.afterAll(async () => {
    await server?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('Add folder… and a dropped folder fill the form through the preload; the import runs over it', async ({ page }) => {
    await installFakePreload(page, { pickable: [folder], dropPaths: { other: path.join(tmp, 'other') } });
    await page.goto(server.url);
    await expect(page.getByTestId('dataset-list')).toContainText('No datasets yet');

    await page.getByTestId('add-folder').click();
    await expect(page.getByTestId('import-path')).toHaveValue(folder);
    await expect(page.getByTestId('import-name')).toHaveValue('shapes');

    await dropFile(page, 'other');
    await expect(page.getByTestId('import-path')).toHaveValue(`${folder}\n${path.join(tmp, 'other')}`);
    await page.getByTestId('import-path').fill(folder);

    await page.getByTestId('import-submit').click();
    await expect(page.getByTestId('import-progress')).toHaveAttribute('data-state', 'done');
    await expect(page.getByTestId('image-grid')).toHaveAttribute('data-total', '3');
    await expect
      .poll(() => page.getByTestId('thumbnail').evaluateAll((imgs) => imgs.filter((i) => (i as unknown as { naturalWidth: number }).naturalWidth > 0).length))
      .toBe(3);
    const calls = await page.evaluate(() => (globalThis as unknown as { __preloadCalls: string[] }).__preloadCalls);
    expect(calls).toContain('app.pickFolders');
    expect(calls).toContain('datasets.import');
    expect(calls).toContain('images.list');
  });

  test('Add folder… goes away when the platform has no dialog; a drop without a path says so', async ({ page }) => {
    await installFakePreload(page, { pickable: null, dropPaths: {} });
    await page.goto(server.url);
    await page.getByTestId('add-folder').click();
    await expect(page.getByTestId('add-folder')).toHaveCount(0);
    await dropFile(page, 'mystery');
    await expect(page.getByTestId('drop-zone').locator('xpath=..')).toContainText('does not reveal where “mystery” is');
    await expect(page.getByTestId('import-path')).toHaveValue('');
  });
});

test.describe('browser transport', () => {
  test('a folder dropped from a file manager (file:// URI) fills the path field', async ({ page }) => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-e2e-drop-'));
    const server = await startCurio(path.join(tmp, 'catalog.sqlite'));
    try {
      await page.goto(server.url);
      await expect(page.getByTestId('add-folder')).toHaveCount(0);
      await dropFile(page, 'my photos', 'file:///data/my%20photos\r\n');
      await expect(page.getByTestId('import-path')).toHaveValue('/data/my photos');
      await expect(page.getByTestId('import-name')).toHaveValue('my photos');
    } finally {
      await server.stop();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('reconnects when curio serve comes back', async ({ page }) => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-e2e-reconnect-'));
    const db = path.join(tmp, 'catalog.sqlite');
    const options = { port: await freePort(), token: 'e2e-reconnect-token' };
    let server = await startCurio(db, options);
    try {
      await page.goto(server.url);
      await expect(page.getByTestId('connection-status')).toHaveText(/connected/);
      await server.stop();
      await expect(page.getByTestId('connection-status')).toHaveText(/offline|connecting/);
      await expect(page.getByTestId('connection-banner')).toContainText('Lost the connection');

      server = await startCurio(db, options);
      await expect(page.getByTestId('connection-status')).toHaveText(/connected/, { timeout: 20_000 });
      await expect(page.getByTestId('connection-banner')).toHaveCount(0);
      // A request after the reconnect gets its answer: main's error for a folder that is not there.
      await page.getByTestId('import-path').fill(path.join(tmp, 'absent'));
      await page.getByTestId('import-submit').click();
      await expect(page.getByTestId('import-error')).toContainText('folder does not exist');
    } finally {
      await server.stop();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
