// The window's security settings as data, the page's own CSP, the IPC gate and the menu import's dataset name.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { datasetNameForFolders, importPickedFolders } from '../../../main/app/add-folders.js';
import { createIpcHandler } from '../../../main/app/ipc.js';
import { ELECTRON_CSP, isAppPageUrl, secureWebPreferences } from '../../../main/app/security.js';
import { DatasetName } from '../../../shared/contract/common.js';

const REPO = path.resolve(import.meta.dirname, '../../..');

function parseCsp(policy: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of policy.split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) out.set(name.toLowerCase(), values);
  }
  return out;
}

/** The checks any policy for the app page must pass: no inline or eval'd script, no plugins, no foreign origins. */
function cspProblems(policy: string): string[] {
  const csp = parseCsp(policy);
  const problems: string[] = [];
  if (csp.get('default-src')?.join(' ') !== "'self'") problems.push("default-src is not 'self'");
  const script = csp.get('script-src') ?? csp.get('default-src') ?? [];
  for (const bad of ["'unsafe-inline'", "'unsafe-eval'", '*', 'http:', 'https:', 'data:', 'blob:']) if (script.includes(bad)) problems.push(`script-src allows ${bad}`);
  if (csp.get('object-src')?.join(' ') !== "'none'") problems.push("object-src is not 'none'");
  if (csp.get('base-uri')?.join(' ') !== "'none'") problems.push("base-uri is not 'none'");
  for (const [name, values] of csp) if (values.some((v) => v === '*' || /^https?:\/\//.test(v))) problems.push(`${name} allows a remote origin`);
  return problems;
}

describe('Electron window security', () => {
  it('isolates and sandboxes the renderer', () => {
    const prefs = secureWebPreferences('/app/preload.cjs');
    expect(prefs).toMatchObject({ preload: '/app/preload.cjs', contextIsolation: true, sandbox: true, nodeIntegration: false, nodeIntegrationInWorker: false, nodeIntegrationInSubFrames: false, webSecurity: true, allowRunningInsecureContent: false, webviewTag: false, navigateOnDragDrop: false });
  });

  it('sends a strict CSP header, and the page carries a strict CSP meta tag that allows curio: images', () => {
    expect(cspProblems(ELECTRON_CSP)).toEqual([]);
    const html = fs.readFileSync(path.join(REPO, 'renderer/index.html'), 'utf8');
    const meta = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]+)"/i.exec(html);
    expect(meta, 'renderer/index.html has a CSP meta tag (it is what applies to the file:// page)').not.toBeNull();
    expect(cspProblems(meta![1]!)).toEqual([]);
    expect(parseCsp(meta![1]!).get('img-src')).toContain('curio:');
    expect(parseCsp(ELECTRON_CSP).get('img-src')).toContain('curio:');
  });

  it('recognizes only the app page as a trusted frame URL', () => {
    const page = 'file:///opt/Curio/resources/app.asar/dist/renderer/index.html';
    expect(isAppPageUrl(page, page)).toBe(true);
    expect(isAppPageUrl(`${page}#/datasets`, page)).toBe(true);
    expect(isAppPageUrl('file:///opt/Curio/resources/app.asar/dist/renderer/other.html', page)).toBe(false);
    expect(isAppPageUrl('file://evil-host/opt/Curio/resources/app.asar/dist/renderer/index.html', page)).toBe(false);
    expect(isAppPageUrl('https://evil.example/dist/renderer/index.html', page)).toBe(false);
    expect(isAppPageUrl('', page)).toBe(false);
  });

  it('dispatches IPC only for trusted senders', async () => {
    const dispatch = vi.fn(async () => ({ ok: true as const, result: 'done' }));
    const handler = createIpcHandler(dispatch, (e: { senderFrame: { url: string } | null; trusted: boolean }) => e.trusted);
    expect(await handler({ senderFrame: { url: 'x' }, trusted: true }, 'app.info', {})).toEqual({ ok: true, result: 'done' });
    expect(dispatch).toHaveBeenCalledWith('app.info', {});
    const refused = await handler({ senderFrame: null, trusted: false }, 'datasets.delete', { datasetId: 1 });
    expect(refused).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
    expect(dispatch).toHaveBeenCalledTimes(1);
  });

  it('names a menu import after the first folder, always as a valid dataset name', async () => {
    expect(datasetNameForFolders(['/data/cifar10/train'])).toBe('train');
    expect(datasetNameForFolders(['/data/cifar10/train/', '/other'])).toBe('train');
    expect(datasetNameForFolders(['/'])).toBe('Imported folders');
    expect(datasetNameForFolders([])).not.toBe('');
    for (const name of [datasetNameForFolders(['/x/a\u0001b']), datasetNameForFolders([`/x/${'y'.repeat(300)}`]), datasetNameForFolders(['C:\\\\photos\\\\cats'])]) {
      expect(DatasetName.safeParse(name).success, name).toBe(true);
    }
    const dispatch = vi.fn(async () => ({ ok: true as const, result: { jobId: 'j' } }));
    expect(await importPickedFolders(dispatch, [], true)).toBeNull();
    expect(dispatch).not.toHaveBeenCalled();
    await importPickedFolders(dispatch, ['/data/cats'], true);
    expect(dispatch).toHaveBeenCalledWith('datasets.import', { paths: ['/data/cats'], dataset: 'cats', labelsFromFolders: true });
  });
});
