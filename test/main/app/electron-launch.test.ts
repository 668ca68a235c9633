// Launches the real desktop app when the Electron binary is installed, and skips with the reason when it is not.
// The binary is found without require('electron'): that call starts a download when the binary is missing,
// which hangs or fails offline (Electron 45 fetches it on the first `electron` run of a connected machine).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = path.resolve(import.meta.dirname, '../../..');

export function findElectronBinary(): { binary: string } | { missing: string } {
  const pkgDir = path.join(REPO, 'node_modules', 'electron');
  const pathFile = path.join(pkgDir, 'path.txt');
  if (!fs.existsSync(pkgDir)) return { missing: 'the electron package is not installed (npm ci)' };
  if (!fs.existsSync(pathFile)) {
    return { missing: 'the Electron binary was never downloaded (node_modules/electron/path.txt is absent); `npm start` downloads it on a connected machine' };
  }
  const relative = fs.readFileSync(pathFile, 'utf8').trim();
  const distDir = process.env.ELECTRON_OVERRIDE_DIST_PATH ?? path.join(pkgDir, 'dist');
  const binary = path.join(distDir, relative);
  if (!fs.existsSync(binary)) return { missing: `the Electron binary is missing at ${binary}` };
  return { binary };
}

function whyNotLaunchable(): string | null {
  const found = findElectronBinary();
  if ('missing' in found) return found.missing;
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    return 'no display (DISPLAY/WAYLAND_DISPLAY unset); run the tests under xvfb-run to launch Electron';
  }
  for (const built of ['dist/main/app/main.js', 'dist/main/app/preload.cjs', 'dist/renderer/index.html']) {
    if (!fs.existsSync(path.join(REPO, built))) return `${built} is not built; run \`npm run build\` first`;
  }
  return null;
}

const skipReason = whyNotLaunchable();
if (skipReason) console.warn(`SKIP Electron launch tests: ${skipReason}`);

describe.skipIf(skipReason !== null)(`Electron app${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('opens the window on the renderer with window.curio and no Node in the page', async () => {
    const { _electron } = await import('@playwright/test');
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-electron-'));
    const found = findElectronBinary() as { binary: string };
    const app = await _electron.launch({
      executablePath: found.binary,
      args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), REPO],
      env: { ...process.env, CURIO_HOME: home },
      timeout: 60_000,
    });
    try {
      const win = await app.firstWindow();
      await win.waitForLoadState('domcontentloaded');
      expect(await win.title()).toBe('Curio');
      expect(win.url()).toMatch(/^file:\/\/.*\/dist\/renderer\/index\.html/);
      expect(await win.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
      expect(await win.evaluate(() => typeof (globalThis as { process?: unknown }).process)).toBe('undefined');
      const info = await win.evaluate(() => (globalThis as unknown as { curio: { invoke(m: string, p: unknown): Promise<unknown> } }).curio.invoke('app.info', {}));
      expect(info).toMatchObject({ ok: true, result: { mode: 'electron', dbPath: path.join(home, 'catalog.sqlite') } });
      const windows = await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().length);
      expect(windows).toBe(1);
    } finally {
      await app.close();
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
