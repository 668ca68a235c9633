/**
 * The Electron shell: one hardened window on the built renderer, the contract on one IPC channel, media on the
 * `curio:` scheme and the native folder dialog. This folder is the only place that imports `electron`; the
 * services it hosts are the same ones the CLI and the headless server run under plain Node.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, Menu, protocol, session, type IpcMainInvokeEvent } from 'electron';
import { IPC_CHANNEL, IPC_EVENT_CHANNEL, type EventFrame } from '../../shared/wire.js';
import { errorMessage } from '../common/errors.js';
import { APP_NAME, userDataDir } from '../common/paths.js';
import { createServiceDispatcher } from '../rpc/handlers.js';
import { createServices, type Services } from '../services.js';
import { importPickedFolders } from './add-folders.js';
import { createIpcHandler } from './ipc.js';
import { MEDIA_SCHEME, mediaResponse } from './media.js';
import { buildAppMenu } from './menu.js';
import { ELECTRON_CSP, isAppPageUrl, secureWebPreferences } from './security.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const rendererIndex = path.resolve(here, '../../renderer/index.html');
const appPageUrl = pathToFileURL(rendererIndex).toString();
const preloadPath = path.join(here, 'preload.cjs');

// The app, the CLI and `curio serve` share one catalog folder; Chromium's own state goes in a subfolder of it.
app.setName(APP_NAME);
app.setPath('userData', userDataDir());
app.setPath('sessionData', path.join(userDataDir(), 'electron'));
protocol.registerSchemesAsPrivileged([
  { scheme: MEDIA_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } },
]);

let mainWindow: BrowserWindow | null = null;

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (mainWindow) {
      if (mainWindow.isMinimized()) mainWindow.restore();
      mainWindow.focus();
    }
  });
  app.whenReady().then(start, (err: unknown) => fatal(err));
}

function fatal(err: unknown): void {
  dialog.showErrorBox('Curio could not start', errorMessage(err));
  app.exit(1);
}

function start(): void {
  if (!fs.existsSync(rendererIndex)) {
    return fatal(new Error(`the renderer is not built (${rendererIndex} is missing). Run \`npm run build\` first.`));
  }
  let services: Services;
  try {
    services = createServices({ mode: 'electron' });
  } catch (err) {
    return fatal(err);
  }

  hardenSessions();

  protocol.handle(MEDIA_SCHEME, async (request) => {
    try {
      return await mediaResponse(services, request.url, request.method);
    } catch (err) {
      services.bus.log('error', 'media', `${request.url}: ${errorMessage(err)}`);
      return new Response('internal error', { status: 500, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
    }
  });

  const pickFolders = async (): Promise<string[]> => {
    const options = { title: 'Add image folders', properties: ['openDirectory', 'multiSelections'] as Array<'openDirectory' | 'multiSelections'> };
    const result = mainWindow ? await dialog.showOpenDialog(mainWindow, options) : await dialog.showOpenDialog(options);
    return result.canceled ? [] : result.filePaths;
  };

  const pickModelFile = async (): Promise<string | null> => {
    const options = {
      title: 'Choose an encoder model',
      properties: ['openFile'] as Array<'openFile'>,
      filters: [{ name: 'Encoder models (.onnx, model.json)', extensions: ['onnx', 'json'] }],
    };
    const result = mainWindow ? await dialog.showOpenDialog(mainWindow, options) : await dialog.showOpenDialog(options);
    return result.canceled ? null : (result.filePaths[0] ?? null);
  };

  const dispatch = createServiceDispatcher(services, {
    'app.pickFolders': async () => ({ supported: true, paths: await pickFolders() }),
    'app.pickModelFile': async () => ({ supported: true, path: await pickModelFile() }),
  });

  const isTrustedSender = (event: IpcMainInvokeEvent): boolean => {
    const win = mainWindow;
    const frame = event.senderFrame;
    if (!win || win.isDestroyed() || !frame || event.sender !== win.webContents) return false;
    const main = win.webContents.mainFrame;
    return frame.processId === main.processId && frame.routingId === main.routingId && isAppPageUrl(frame.url, appPageUrl);
  };
  ipcMain.handle(IPC_CHANNEL, createIpcHandler(dispatch, isTrustedSender));

  const unsubscribe = services.bus.subscribe((name, payload) => {
    const win = mainWindow;
    if (!win || win.isDestroyed()) return;
    const frame: EventFrame = { type: 'event', name, payload };
    win.webContents.send(IPC_EVENT_CHANNEL, frame);
  });

  const addFolders = (labelsFromFolders: boolean) => {
    void (async () => {
      const reply = await importPickedFolders(dispatch, await pickFolders(), labelsFromFolders);
      if (reply && !reply.ok) dialog.showErrorBox('Could not add the folders', reply.error.message);
    })().catch((err: unknown) => dialog.showErrorBox('Could not add the folders', errorMessage(err)));
  };
  Menu.setApplicationMenu(buildAppMenu({ addFolders }, { dev: !app.isPackaged }));

  createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('will-quit', () => {
    unsubscribe();
    ipcMain.removeHandler(IPC_CHANNEL);
    services.close();
  });
}

function createWindow(): void {
  const win = new BrowserWindow({
    width: 1280,
    height: 820,
    minWidth: 800,
    minHeight: 560,
    title: APP_NAME,
    show: false,
    backgroundColor: '#15171b',
    webPreferences: secureWebPreferences(preloadPath),
  });
  mainWindow = win;
  win.once('ready-to-show', () => win.show());
  win.on('closed', () => {
    if (mainWindow === win) mainWindow = null;
  });
  void win.loadFile(rendererIndex);
}

/** Every webContents (the window and anything it might try to open) is kept on the one app page. */
function hardenSessions(): void {
  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-navigate', (event) => event.preventDefault());
    contents.on('will-redirect', (event) => event.preventDefault());
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_contents, permission, callback) => callback(permission === 'clipboard-sanitized-write'));
  ses.setPermissionCheckHandler((_contents, permission) => permission === 'clipboard-sanitized-write');
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [ELECTRON_CSP] } });
  });
}
