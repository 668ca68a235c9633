import os from 'node:os';
import path from 'node:path';

export const APP_NAME = 'Curio';

/**
 * The per-user data folder, the same one Electron's app.getPath('userData') gives for this app name, so the CLI,
 * the headless server and the desktop app share one catalog. CURIO_HOME overrides it (tests, portable installs).
 */
export function userDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.CURIO_HOME) return path.resolve(env.CURIO_HOME);
  const home = os.homedir();
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', APP_NAME);
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), APP_NAME);
  return path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), APP_NAME);
}

export function defaultDbPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(userDataDir(env), 'catalog.sqlite');
}

/** Thumbnails live beside the catalog, keyed by content hash, so two catalogs in one folder share them. */
export function thumbnailDirFor(dbPath: string): string {
  return path.join(path.dirname(path.resolve(dbPath)), 'thumbnails');
}
