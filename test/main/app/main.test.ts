// The Electron shell's wiring, run under plain Node with a recording fake of the `electron` module (the real
// binary is not needed): the window's security settings, blocked navigation and windows, the IPC gate, pushed
// events, the media scheme, the folder dialog and the menu's import, and a clean shutdown.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { IPC_CHANNEL, IPC_EVENT_CHANNEL, type EventFrame, type Reply } from '../../../shared/wire.js';

type Listener = (...args: unknown[]) => unknown;

const fake = vi.hoisted(() => {
  const appListeners = new Map<string, ((...args: unknown[]) => unknown)[]>();
  const state = {
    appListeners,
    name: '',
    paths: {} as Record<string, string>,
    schemes: [] as unknown[],
    protocolHandlers: new Map<string, (req: Request) => Promise<Response>>(),
    ipcHandlers: new Map<string, (...args: unknown[]) => unknown>(),
    windows: [] as FakeWindow[],
    menuTemplate: null as unknown[] | null,
    dialogResult: { canceled: false, filePaths: [] as string[] },
    dialogCalls: [] as unknown[][],
    errorBoxes: [] as string[][],
    permissionRequest: null as null | ((wc: unknown, permission: string, cb: (ok: boolean) => void) => void),
    permissionCheck: null as null | ((wc: unknown, permission: string) => boolean),
    headersListener: null as null | ((details: { responseHeaders?: Record<string, string[]> }, cb: (r: unknown) => void) => void),
    exitCode: null as number | null,
  };
  class FakeWebContents {
    sent: unknown[][] = [];
    mainFrame = { processId: 7, routingId: 1, url: '' };
    send(channel: string, ...args: unknown[]) {
      this.sent.push([channel, ...args]);
    }
  }
  class FakeWindow {
    webContents = new FakeWebContents();
    loaded: string | null = null;
    destroyed = false;
    listeners = new Map<string, ((...a: unknown[]) => unknown)[]>();
    constructor(readonly options: { webPreferences: Record<string, unknown> }) {
      state.windows.push(this);
    }
    once(event: string, fn: (...a: unknown[]) => unknown) {
      this.on(event, fn);
    }
    on(event: string, fn: (...a: unknown[]) => unknown) {
      this.listeners.set(event, [...(this.listeners.get(event) ?? []), fn]);
    }
    loadFile(file: string) {
      this.loaded = file;
      this.webContents.mainFrame.url = `file://${file}`;
      return Promise.resolve();
    }
    isDestroyed() {
      return this.destroyed;
    }
    isMinimized() {
      return false;
    }
    show() {}
    focus() {}
    restore() {}
    static getAllWindows() {
      return state.windows.filter((w) => !w.destroyed);
    }
  }
  const electron = {
    app: {
      get name() {
        return state.name;
      },
      isPackaged: false,
      setName: (n: string) => {
        state.name = n;
      },
      setPath: (k: string, v: string) => {
        state.paths[k] = v;
      },
      getPath: (k: string) => state.paths[k] ?? '',
      requestSingleInstanceLock: () => true,
      on: (event: string, fn: (...args: unknown[]) => unknown) => {
        appListeners.set(event, [...(appListeners.get(event) ?? []), fn]);
      },
      whenReady: () => Promise.resolve(),
      quit: () => {},
      exit: (code: number) => {
        state.exitCode = code;
      },
    },
    BrowserWindow: FakeWindow,
    dialog: {
      showOpenDialog: (...args: unknown[]) => {
        state.dialogCalls.push(args);
        return Promise.resolve(state.dialogResult);
      },
      showErrorBox: (title: string, body: string) => state.errorBoxes.push([title, body]),
    },
    ipcMain: {
      handle: (channel: string, fn: (...args: unknown[]) => unknown) => state.ipcHandlers.set(channel, fn),
      removeHandler: (channel: string) => state.ipcHandlers.delete(channel),
    },
    Menu: {
      buildFromTemplate: (template: unknown[]) => ({ template }),
      setApplicationMenu: (menu: { template: unknown[] }) => {
        state.menuTemplate = menu.template;
      },
    },
    protocol: {
      registerSchemesAsPrivileged: (schemes: unknown[]) => state.schemes.push(...schemes),
      handle: (scheme: string, fn: (req: Request) => Promise<Response>) => state.protocolHandlers.set(scheme, fn),
    },
    session: {
      defaultSession: {
        setPermissionRequestHandler: (fn: typeof state.permissionRequest) => {
          state.permissionRequest = fn;
        },
        setPermissionCheckHandler: (fn: typeof state.permissionCheck) => {
          state.permissionCheck = fn;
        },
        webRequest: {
          onHeadersReceived: (fn: typeof state.headersListener) => {
            state.headersListener = fn;
          },
        },
      },
    },
  };
  return { state, electron, FakeWindow };
});

vi.mock('electron', () => ({ ...fake.electron, default: fake.electron }));

const REPO = path.resolve(import.meta.dirname, '../../..');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-electron-main-'));
const folder = path.join(home, 'pictures', 'holiday');

async function invoke(event: unknown, method: unknown, params: unknown): Promise<Reply> {
  const handler = fake.state.ipcHandlers.get(IPC_CHANNEL)!;
  return (await handler(event, method, params)) as Reply;
}

function trustedEvent() {
  const win = fake.state.windows[0]!;
  return { sender: win.webContents, senderFrame: { ...win.webContents.mainFrame } };
}

async function until<T>(fn: () => T | undefined | null | false, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Electron main process (fake electron module)', () => {
  const savedHome = process.env.CURIO_HOME;

  beforeAll(async () => {
    process.env.CURIO_HOME = home;
    for (let i = 0; i < 3; i++) {
      fs.mkdirSync(folder, { recursive: true });
      await sharp({ create: { width: 20 + i, height: 12, channels: 3, background: { r: 40 * i, g: 90, b: 200 } } })
        .png()
        .toFile(path.join(folder, `p${i}.png`));
    }
    await import('../../../main/app/main.js');
    await until(() => fake.state.windows.length > 0, 'the window');
  });

  afterAll(() => {
    for (const fn of fake.state.appListeners.get('will-quit') ?? []) fn();
    if (savedHome === undefined) delete process.env.CURIO_HOME;
    else process.env.CURIO_HOME = savedHome;
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('names the app Curio and keeps its data in the same folder as the CLI and the server', () => {
    expect(fake.state.name).toBe('Curio');
    expect(fake.state.paths.userData).toBe(home);
    expect(fake.state.paths.sessionData).toBe(path.join(home, 'electron'));
    expect(fake.state.exitCode).toBeNull();
    expect(fake.state.errorBoxes).toEqual([]);
    expect(fs.existsSync(path.join(home, 'catalog.sqlite'))).toBe(true);
  });

  it('opens one isolated, sandboxed window on the built renderer with the CommonJS preload', () => {
    expect(fake.state.windows).toHaveLength(1);
    const win = fake.state.windows[0]!;
    const prefs = win.options.webPreferences;
    expect(prefs).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, allowRunningInsecureContent: false, webviewTag: false });
    expect(prefs.preload).toBe(path.join(REPO, 'main/app/preload.cjs'));
    expect(win.loaded).toBe(path.join(REPO, 'renderer/index.html'));
  });

  it('blocks navigation, new windows and webviews in every webContents', () => {
    const handlers = new Map<string, Listener>();
    let openHandler: Listener | null = null;
    const contents = {
      on: (event: string, fn: Listener) => handlers.set(event, fn),
      setWindowOpenHandler: (fn: Listener) => {
        openHandler = fn;
      },
    };
    for (const fn of fake.state.appListeners.get('web-contents-created') ?? []) fn({}, contents);
    for (const event of ['will-navigate', 'will-redirect', 'will-attach-webview']) {
      const prevent = vi.fn();
      handlers.get(event)!({ preventDefault: prevent }, 'https://evil.example/');
      expect(prevent, event).toHaveBeenCalled();
    }
    expect(openHandler!({ url: 'https://evil.example/' })).toEqual({ action: 'deny' });
    expect(openHandler!({ url: 'file:///etc/passwd' })).toEqual({ action: 'deny' });
  });

  it('denies permission requests and sends a strict CSP', () => {
    const answers: boolean[] = [];
    for (const p of ['media', 'geolocation', 'notifications', 'openExternal', 'fileSystem']) fake.state.permissionRequest!({}, p, (ok) => answers.push(ok));
    expect(answers).toEqual([false, false, false, false, false]);
    expect(fake.state.permissionCheck!({}, 'media')).toBe(false);
    let headers: Record<string, string[]> = {};
    fake.state.headersListener!({ responseHeaders: { 'X-Other': ['1'] } }, (r) => {
      headers = (r as { responseHeaders: Record<string, string[]> }).responseHeaders;
    });
    expect(headers['X-Other']).toEqual(['1']);
    expect(headers['Content-Security-Policy']![0]).toMatch(/script-src 'self'(;|$)/);
    expect(headers['Content-Security-Policy']![0]).toContain("object-src 'none'");
  });

  it('registers the curio: scheme as privileged before the app is ready', () => {
    expect(fake.state.schemes).toEqual([{ scheme: 'curio', privileges: expect.objectContaining({ standard: true, secure: true }) }]);
  });

  it('answers IPC only from the window\'s main frame on the app page', async () => {
    const ok = await invoke(trustedEvent(), 'app.info', {});
    expect(ok).toMatchObject({ ok: true, result: { mode: 'electron', dbPath: path.join(home, 'catalog.sqlite') } });
    const t = trustedEvent();
    const refused = [
      { ...t, senderFrame: null },
      { ...t, senderFrame: { ...t.senderFrame, routingId: 2 } },
      { ...t, senderFrame: { ...t.senderFrame, processId: 99 } },
      { ...t, senderFrame: { ...t.senderFrame, url: 'https://evil.example/' } },
      { ...t, senderFrame: { ...t.senderFrame, url: pathToFileURL('/tmp/other.html').toString() } },
      { ...t, sender: {} },
    ];
    for (const event of refused) {
      const reply = await invoke(event, 'app.info', {});
      expect(reply.ok).toBe(false);
      expect(!reply.ok && reply.error.message).toMatch(/did not come from the Curio window/);
    }
  });

  it('validates IPC payloads through the shared dispatcher', async () => {
    const reply = await invoke(trustedEvent(), 'datasets.get', { datasetId: 'one' });
    expect(reply).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
    expect(await invoke(trustedEvent(), 'no.such.request', {})).toMatchObject({ ok: false, error: { code: 'unknown-request' } });
  });

  it('picks folders with the native dialog (directories, several at once)', async () => {
    fake.state.dialogResult = { canceled: false, filePaths: [folder] };
    const reply = await invoke(trustedEvent(), 'app.pickFolders', {});
    expect(reply).toEqual({ ok: true, result: { supported: true, paths: [folder] } });
    const options = fake.state.dialogCalls.at(-1)!.at(-1) as { properties: string[] };
    expect(options.properties).toEqual(expect.arrayContaining(['openDirectory', 'multiSelections']));
    fake.state.dialogResult = { canceled: true, filePaths: [] };
    expect(await invoke(trustedEvent(), 'app.pickFolders', {})).toEqual({ ok: true, result: { supported: true, paths: [] } });
  });

  it('picks one encoder model file with the native dialog (.onnx or model.json); cancel gives no path', async () => {
    const model = path.join(folder, 'model.onnx');
    fake.state.dialogResult = { canceled: false, filePaths: [model] };
    expect(await invoke(trustedEvent(), 'app.pickModelFile', {})).toEqual({ ok: true, result: { supported: true, path: model } });
    const options = fake.state.dialogCalls.at(-1)!.at(-1) as { properties: string[]; filters: { extensions: string[] }[] };
    expect(options.properties).toEqual(['openFile']);
    expect(options.filters.flatMap((f) => f.extensions)).toEqual(['onnx', 'json']);
    fake.state.dialogResult = { canceled: true, filePaths: [] };
    expect(await invoke(trustedEvent(), 'app.pickModelFile', {})).toEqual({ ok: true, result: { supported: true, path: null } });
  });

  it('imports from the menu\'s "Add Folder…", pushes progress events to the window, and serves the thumbnails on curio:', async () => {
    const fileMenu = (fake.state.menuTemplate as { label?: string; submenu?: { label?: string; click?: () => void }[] }[]).find((m) => m.label === 'File')!;
    const add = fileMenu.submenu!.find((i) => i.label === 'Add Folder…')!;
    fake.state.dialogResult = { canceled: false, filePaths: [folder] };
    add.click!();

    const win = fake.state.windows[0]!;
    const done = await until(
      () => win.webContents.sent.find(([ch, f]) => ch === IPC_EVENT_CHANNEL && (f as EventFrame).name === 'onDidProgress' && ((f as EventFrame).payload as { state: string }).state === 'done'),
      'a finished import event',
    );
    expect(done[0]).toBe(IPC_EVENT_CHANNEL);
    const list = await invoke(trustedEvent(), 'datasets.list', {});
    const dataset = (list as { result: { id: number; name: string; okCount: number }[] }).result.find((d) => d.name === 'holiday');
    expect(dataset).toMatchObject({ okCount: 3 });

    const page = (await invoke(trustedEvent(), 'images.list', { datasetId: dataset!.id })) as { result: { items: { id: number; sha256: string; path: string }[] } };
    const image = page.result.items[0]!;
    const handle = fake.state.protocolHandlers.get('curio')!;
    const thumb = await handle(new Request(`curio://media/thumbs/${image.sha256}.webp`));
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    expect((await sharp(Buffer.from(await thumb.arrayBuffer())).metadata()).format).toBe('webp');
    const original = await handle(new Request(`curio://media/images/${image.id}`));
    expect(Buffer.from(await original.arrayBuffer()).equals(fs.readFileSync(image.path))).toBe(true);
    expect((await handle(new Request('curio://media/thumbs/../../catalog.sqlite'))).status).toBeGreaterThanOrEqual(400);
    expect((await handle(new Request('curio://media/images/999999'))).status).toBe(404);
  });

  it('shows an error instead of failing silently when the menu import cannot start', async () => {
    fake.state.dialogResult = { canceled: false, filePaths: [path.join(home, 'gone')] };
    const fileMenu = (fake.state.menuTemplate as { label?: string; submenu?: { label?: string; click?: () => void }[] }[]).find((m) => m.label === 'File')!;
    fileMenu.submenu!.find((i) => i.label === 'Add Folder…')!.click!();
    const box = await until(() => fake.state.errorBoxes.at(-1), 'an error box');
    expect(box[1]).toMatch(/folder does not exist/);
  });

  it('offers Reload only in development and a Quit item', () => {
    const json = JSON.stringify(fake.state.menuTemplate);
    expect(json).toContain('"role":"reload"');
    expect(json).toMatch(/"role":"(quit|close)"/);
  });

  it('stops serving IPC and closes the catalog on quit', async () => {
    expect(fs.existsSync(path.join(home, 'catalog.sqlite-wal'))).toBe(true);
    for (const fn of fake.state.appListeners.get('will-quit') ?? []) fn();
    expect(fake.state.ipcHandlers.has(IPC_CHANNEL)).toBe(false);
    fake.state.appListeners.delete('will-quit');
    // The catalog file is closed: its WAL was checkpointed away by the last connection.
    expect(fs.existsSync(path.join(home, 'catalog.sqlite-wal'))).toBe(false);
  });
});
