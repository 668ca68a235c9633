/**
 * The Electron window's security settings as plain data, so tests can check them without the Electron binary.
 * Nothing here imports `electron`; main.ts applies it.
 */

/** webPreferences for the one app window: an isolated, sandboxed renderer that only reaches main through the preload. */
export function secureWebPreferences(preloadPath: string) {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    experimentalFeatures: false,
    navigateOnDragDrop: false,
    spellcheck: false,
  } as const;
}

/**
 * The policy sent with every response the window receives. The renderer is bundled, so scripts come only from the
 * app itself; images may also come from the media scheme (`curio:`). The same policy is in the meta tag of
 * renderer/index.html, which is what applies to the file:// page itself.
 */
export const ELECTRON_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob: curio:",
  "media-src 'self' curio:",
  "connect-src 'self'",
  "font-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-src 'none'",
  "worker-src 'self'",
].join('; ');

/** Whether a request frame's URL is the app page (the built renderer, loaded from disk). */
export function isAppPageUrl(frameUrl: string, appPageUrl: string): boolean {
  try {
    const a = new URL(frameUrl);
    const b = new URL(appPageUrl);
    return a.protocol === 'file:' && a.protocol === b.protocol && a.host === b.host && a.pathname === b.pathname;
  } catch {
    return false;
  }
}
