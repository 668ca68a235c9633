// Which better-sqlite3 addon the catalog loads: node_modules' build under plain Node, the Electron copy under
// Electron (a packaged app's resources first, then a checkout's .electron-native/), and only a copy whose build.json
// names this very Electron, better-sqlite3 and platform. Electron is simulated with an injected versions object.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BUILD_INFO_FILE,
  ELECTRON_NATIVE_DIR,
  PACKAGED_NATIVE_DIR,
  SQLITE_ADDON_FILE,
  electronBuildFolderName,
  sqliteNativeBinding,
  type BindingEnvironment,
  type ElectronSqliteBuild,
} from '../../../main/catalog/sqlite-binding.js';

const REPO = path.resolve(import.meta.dirname, '../../..');
const NODE_ADDON = path.join(REPO, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');
const BSQ_VERSION = (JSON.parse(fs.readFileSync(path.join(REPO, 'node_modules/better-sqlite3/package.json'), 'utf8')) as { version: string }).version;

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-native-binding-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A build folder as the builder leaves it; the addon is node_modules' Node build so that Node can load it here. */
function install(folder: string, info: Partial<ElectronSqliteBuild> = {}): string {
  fs.mkdirSync(folder, { recursive: true });
  const addon = path.join(folder, SQLITE_ADDON_FILE);
  fs.copyFileSync(NODE_ADDON, addon);
  const full: ElectronSqliteBuild = { electron: '45.5.0', betterSqlite3: BSQ_VERSION, platform: 'linux', arch: 'x64', abi: 140, sha256: 'x', via: 'source', ...info };
  fs.writeFileSync(path.join(folder, BUILD_INFO_FILE), JSON.stringify(full));
  return addon;
}

function env(over: Partial<BindingEnvironment> = {}): BindingEnvironment {
  return {
    versions: { electron: '45.5.0' },
    platform: 'linux',
    arch: 'x64',
    resourcesPath: undefined,
    searchFrom: path.join(tmp, 'checkout', 'dist', 'main', 'catalog'),
    betterSqlite3Version: () => BSQ_VERSION,
    ...over,
  };
}

describe('electronBuildFolderName', () => {
  it("uses electron-builder's ${os} names so extraResources can find the folder", () => {
    expect(electronBuildFolderName('linux', 'x64')).toBe('linux-x64');
    expect(electronBuildFolderName('darwin', 'arm64')).toBe('mac-arm64');
    expect(electronBuildFolderName('win32', 'x64')).toBe('win-x64');
  });
});

describe('sqliteNativeBinding', () => {
  it('leaves plain Node on the default build, even with an Electron build beside it', () => {
    install(path.join(tmp, 'checkout', ELECTRON_NATIVE_DIR, 'linux-x64'));
    let asked = false;
    expect(sqliteNativeBinding(env({ versions: { node: '20.20.2' } as { electron?: string }, betterSqlite3Version: () => ((asked = true), BSQ_VERSION) }))).toBeUndefined();
    expect(asked, 'no work under Node').toBe(false);
    // The real process is plain Node here.
    expect(process.versions.electron).toBeUndefined();
    expect(sqliteNativeBinding()).toBeUndefined();
  });

  it("finds a checkout's .electron-native build under Electron, from dist/ or from the sources", () => {
    const addon = install(path.join(tmp, 'checkout', ELECTRON_NATIVE_DIR, 'linux-x64'));
    expect(sqliteNativeBinding(env())).toBe(addon);
    expect(sqliteNativeBinding(env({ searchFrom: path.join(tmp, 'checkout', 'main', 'catalog') }))).toBe(addon);
  });

  it('prefers the packaged copy in resources/ over any checkout', () => {
    install(path.join(tmp, 'checkout', ELECTRON_NATIVE_DIR, 'linux-x64'));
    const resources = path.join(tmp, 'Curio', 'resources');
    const packaged = install(path.join(resources, PACKAGED_NATIVE_DIR));
    expect(sqliteNativeBinding(env({ resourcesPath: resources, searchFrom: path.join(resources, 'app.asar', 'dist', 'main', 'catalog') }))).toBe(packaged);
    expect(sqliteNativeBinding(env({ resourcesPath: resources }))).toBe(packaged);
  });

  it('skips a build for another Electron, better-sqlite3, platform or arch, or one without its addon', () => {
    const folder = path.join(tmp, 'checkout', ELECTRON_NATIVE_DIR, 'linux-x64');
    for (const stale of [{ electron: '44.0.0' }, { betterSqlite3: '11.0.0' }, { arch: 'arm64' }, { platform: 'darwin' }]) {
      install(folder, stale);
      expect(sqliteNativeBinding(env()), JSON.stringify(stale)).toBeUndefined();
    }
    install(folder);
    expect(sqliteNativeBinding(env({ arch: 'arm64' })), 'another arch looks in its own folder').toBeUndefined();
    expect(sqliteNativeBinding(env({ versions: { electron: '46.0.0' } }))).toBeUndefined();
    fs.rmSync(path.join(folder, SQLITE_ADDON_FILE));
    expect(sqliteNativeBinding(env())).toBeUndefined();
    fs.writeFileSync(path.join(folder, BUILD_INFO_FILE), '{not json');
    expect(sqliteNativeBinding(env())).toBeUndefined();
  });

  it('hands better-sqlite3 a path it loads as nativeBinding', () => {
    const addon = install(path.join(tmp, 'checkout', ELECTRON_NATIVE_DIR, 'linux-x64'));
    expect(sqliteNativeBinding(env())).toBe(addon);
    const db = new BetterSqlite3(':memory:', { nativeBinding: addon });
    expect((db.prepare('select 41 + 1 as n').get() as { n: number }).n).toBe(42);
    db.close();
    expect(() => new BetterSqlite3(':memory:', { nativeBinding: path.join(tmp, 'missing.node') })).toThrow(/Cannot find module/);
  });
});
