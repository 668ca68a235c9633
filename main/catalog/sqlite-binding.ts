/**
 * Which better-sqlite3 addon to load. Under plain Node (CLI, tests, `curio serve`) it is node_modules' own build.
 * Electron has another ABI, so the app loads a copy built for it, kept out of node_modules so the two never
 * replace each other: `.electron-native/<os>-<arch>/` in a checkout (made by main/app/native/ before `npm start`)
 * and `resources/native/better-sqlite3/` in a packaged app (electron-builder's extraResources). A copy is used
 * only when its build.json names this Electron, this better-sqlite3 and this platform.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ELECTRON_NATIVE_DIR = '.electron-native';
/** Relative to process.resourcesPath in a packaged app; electron-builder.yml's extraResources `to`. */
export const PACKAGED_NATIVE_DIR = 'native/better-sqlite3';
export const SQLITE_ADDON_FILE = 'better_sqlite3.node';
export const BUILD_INFO_FILE = 'build.json';

export interface ElectronSqliteBuild {
  electron: string;
  betterSqlite3: string;
  platform: string;
  arch: string;
  /** NODE_MODULE_VERSION found in the addon, null where it could not be read. */
  abi: number | null;
  sha256: string;
  via: 'prebuilt' | 'source';
}

const OS_KEYS: Record<string, string> = { darwin: 'mac', linux: 'linux', win32: 'win' };

/** `<os>-<arch>` with electron-builder's `${os}` names, so extraResources can name the folder with its macros. */
export function electronBuildFolderName(platform: string, arch: string): string {
  return `${OS_KEYS[platform] ?? platform}-${arch}`;
}

export function readBuildInfo(folder: string): ElectronSqliteBuild | null {
  try {
    const info = JSON.parse(fs.readFileSync(path.join(folder, BUILD_INFO_FILE), 'utf8')) as Partial<ElectronSqliteBuild>;
    if (typeof info.electron !== 'string' || typeof info.betterSqlite3 !== 'string') return null;
    if (typeof info.platform !== 'string' || typeof info.arch !== 'string' || typeof info.sha256 !== 'string') return null;
    return info as ElectronSqliteBuild;
  } catch {
    return null;
  }
}

export interface BindingEnvironment {
  versions: { readonly electron?: string | undefined };
  platform: string;
  arch: string;
  /** process.resourcesPath, which only Electron defines. */
  resourcesPath?: string | undefined;
  /** Where the search for a checkout's .electron-native/ starts, going up. */
  searchFrom: string;
  betterSqlite3Version: () => string;
}

function processEnvironment(): BindingEnvironment {
  return {
    versions: process.versions,
    platform: process.platform,
    arch: process.arch,
    resourcesPath: (process as { resourcesPath?: string }).resourcesPath,
    searchFrom: path.dirname(fileURLToPath(import.meta.url)),
    betterSqlite3Version: () => (createRequire(import.meta.url)('better-sqlite3/package.json') as { version: string }).version,
  };
}

/**
 * The addon path to hand better-sqlite3 as `nativeBinding`, or undefined for its default (node_modules' build).
 * Under Electron without a matching copy it is undefined too: a node_modules rebuilt for Electron still works.
 */
export function sqliteNativeBinding(env: BindingEnvironment = processEnvironment()): string | undefined {
  const electron = env.versions.electron;
  if (!electron) return undefined;
  const candidates: string[] = [];
  if (env.resourcesPath) candidates.push(path.join(env.resourcesPath, PACKAGED_NATIVE_DIR));
  const folderName = electronBuildFolderName(env.platform, env.arch);
  for (let dir = path.resolve(env.searchFrom); ; ) {
    candidates.push(path.join(dir, ELECTRON_NATIVE_DIR, folderName));
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  let version: string | undefined;
  for (const folder of candidates) {
    const info = readBuildInfo(folder);
    if (!info || info.electron !== electron || info.platform !== env.platform || info.arch !== env.arch) continue;
    version ??= env.betterSqlite3Version();
    const addon = path.join(folder, SQLITE_ADDON_FILE);
    if (info.betterSqlite3 === version && fs.existsSync(addon)) return addon;
  }
  return undefined;
}
