// Packaging without rebuilding node_modules in place: npmRebuild is off, the beforePack hook makes the Electron
// build, and extraResources carries it into the app where the lookup reads it. The file sets are resolved with
// electron-builder's own matcher and macro code, for every platform and arch it would build. npmRebuild can only
// be off because every other native addon the app ships is N-API, which Electron loads as it is; that is checked
// in the binaries themselves.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addonAbi } from '../../../main/app/native/electron-sqlite.js';
import { BUILD_INFO_FILE, ELECTRON_NATIVE_DIR, PACKAGED_NATIVE_DIR, SQLITE_ADDON_FILE, electronBuildFolderName } from '../../../main/catalog/sqlite-binding.js';

const REPO = path.resolve(import.meta.dirname, '../../..');
const require = createRequire(path.join(REPO, 'package.json'));
const config = parse(fs.readFileSync(path.join(REPO, 'electron-builder.yml'), 'utf8')) as {
  files: string[];
  npmRebuild: boolean;
  beforePack: string;
  extraResources: { from: string; to: string; filter: string[] }[];
};
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
};

type Filter = (file: string, stat: fs.Stats) => boolean;
interface Matcher {
  from: string;
  to: string;
  patterns: string[];
  createFilter(): Filter;
}
const { FileMatcher, getFileMatchers } = require('app-builder-lib/out/fileMatcher') as {
  FileMatcher: new (from: string, to: string, expand: (s: string) => string, patterns: string[]) => Matcher;
  getFileMatchers(
    config: object,
    name: string,
    defaultDestination: string,
    options: { defaultSrc: string; macroExpander: (s: string) => string; customBuildOptions: object; globalOutDir: string },
  ): Matcher[] | null;
};
const { expandMacro } = require('app-builder-lib/out/util/macroExpander') as {
  expandMacro(pattern: string, arch: string | null, appInfo: object, extra: Record<string, string>): string;
};

/** The extraResources matchers electron-builder makes for one target (platformPackager's getExtraFileMatchers). */
function extraResourceMatchers(projectDir: string, buildKey: string, arch: string, resourcesDir: string): Matcher[] {
  const macroExpander = (s: string) => expandMacro(s, arch, {}, { os: buildKey, '/*': '{,/**/*}' });
  return getFileMatchers(config, 'extraResources', resourcesDir, { defaultSrc: projectDir, macroExpander, customBuildOptions: {}, globalOutDir: path.join(projectDir, 'release') }) ?? [];
}

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-native-config-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('electron-builder.yml and the Electron build of better-sqlite3', () => {
  it('never rebuilds node_modules in place, and builds through the compiled beforePack hook instead', async () => {
    expect(config.npmRebuild).toBe(false);
    expect(config.beforePack).toBe('./dist/main/app/native/before-pack.js');
    // tsconfig.build.json compiles main/**/*.ts to dist/ with the same relative path.
    const source = path.join(REPO, config.beforePack.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'));
    const hook = (await import(source)) as { beforePack?: unknown; default?: unknown };
    expect(typeof hook.beforePack).toBe('function');
    expect(hook.default).toBe(hook.beforePack);
  });

  it.each([
    ['linux', 'linux', 'x64'],
    ['linux', 'linux', 'arm64'],
    ['darwin', 'mac', 'x64'],
    ['darwin', 'mac', 'arm64'],
    ['win32', 'win', 'x64'],
    ['win32', 'win', 'arm64'],
  ])('copies .electron-native/%s-%s (electron-builder ${os}=%s) into resources/native for the lookup', (platform, buildKey, arch) => {
    const resources = path.join(tmp, 'app', 'resources');
    const matchers = extraResourceMatchers(tmp, buildKey, arch, resources);
    expect(matchers).toHaveLength(1);
    const m = matchers[0]!;
    expect(m.from).toBe(path.join(tmp, ELECTRON_NATIVE_DIR, electronBuildFolderName(platform, arch)));
    expect(m.to).toBe(path.join(resources, ...PACKAGED_NATIVE_DIR.split('/')));

    // Only the addon and its build.json go in, not whatever else sits in the folder.
    fs.mkdirSync(m.from, { recursive: true });
    for (const name of [SQLITE_ADDON_FILE, BUILD_INFO_FILE, 'notes.txt']) fs.writeFileSync(path.join(m.from, name), 'x');
    const filter = m.createFilter();
    const copied = fs.readdirSync(m.from).filter((name) => filter(path.join(m.from, name), fs.statSync(path.join(m.from, name))));
    expect(copied.sort()).toEqual([SQLITE_ADDON_FILE, BUILD_INFO_FILE].sort());
  });

  it("keeps better-sqlite3's JavaScript in the app but not its Node build, sources or the build-time hook", () => {
    const filter = new FileMatcher(REPO, REPO, (s) => s, config.files).createFilter();
    const fileStat = { isDirectory: () => false, isFile: () => true, isSymbolicLink: () => false } as fs.Stats;
    const packed = (rel: string) => filter(path.join(REPO, rel), fileStat);
    expect(packed('node_modules/better-sqlite3/lib/index.js')).toBe(true);
    expect(packed('node_modules/better-sqlite3/package.json')).toBe(true);
    expect(packed('node_modules/better-sqlite3/build/Release/better_sqlite3.node')).toBe(false);
    expect(packed('node_modules/better-sqlite3/deps/sqlite3/sqlite3.c')).toBe(false);
    expect(packed('node_modules/better-sqlite3/src/better_sqlite3.cpp')).toBe(false);
    expect(packed('dist/main/app/native/before-pack.js')).toBe(false);
    expect(packed('dist/main/catalog/sqlite-binding.js'), 'the lookup ships').toBe(true);
    expect(packed('node_modules/sharp/lib/index.js')).toBe(true);
  });

  it('runs the Electron build before `electron .` in npm start, from the compiled script', () => {
    expect(pkg.scripts.start).toBe('npm run build && node dist/main/app/native/ensure-electron-sqlite.js && electron .');
    expect(fs.existsSync(path.join(REPO, 'main/app/native/ensure-electron-sqlite.ts'))).toBe(true);
    expect(pkg.scripts.dist).not.toMatch(/electron-rebuild|npm rebuild/);
    expect(fs.readFileSync(path.join(REPO, '.gitignore'), 'utf8').split('\n')).toContain(`${ELECTRON_NATIVE_DIR}/`);
  });

  it('ships no Node-ABI addon besides better-sqlite3: sharp, onnxruntime-node, usearch and webgpu are N-API', () => {
    const addons = new Map<string, number | 'n-api'>();
    const seen = new Set<string>();
    const queue: [string, string][] = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies }).map((n) => [n, REPO]);
    while (queue.length) {
      const [name, from] = queue.shift()!;
      let dir: string | null = null;
      for (let d = from; d.startsWith(REPO); d = path.dirname(d)) {
        if (fs.existsSync(path.join(d, 'node_modules', name, 'package.json'))) {
          dir = path.join(d, 'node_modules', name);
          break;
        }
        if (d === path.dirname(d)) break;
      }
      if (!dir || seen.has(dir)) continue;
      seen.add(dir);
      const walk = (d: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          const full = path.join(d, e.name);
          if (e.isDirectory() && e.name !== 'node_modules') walk(full);
          else if (e.isFile() && e.name.endsWith('.node')) {
            const bytes = fs.readFileSync(full);
            addons.set(path.relative(REPO, full), bytes.includes('napi_register_module_v1') ? 'n-api' : (addonAbi(bytes) ?? -1));
          }
        }
      };
      walk(dir);
      const meta = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { dependencies?: object; optionalDependencies?: object };
      for (const dep of Object.keys({ ...meta.dependencies, ...meta.optionalDependencies })) queue.push([dep, dir]);
    }
    const nodeAbi = [...addons].filter(([, kind]) => kind !== 'n-api').map(([file, abi]) => `${file} (${abi})`);
    expect(nodeAbi.filter((f) => !f.startsWith(`node_modules${path.sep}better-sqlite3${path.sep}`))).toEqual([]);
    expect(nodeAbi.some((f) => f.includes('better_sqlite3.node')), 'the scan sees a Node-ABI addon when there is one').toBe(true);
    for (const native of ['sharp-', 'onnxruntime-node', 'usearch', 'webgpu']) {
      expect([...addons.keys()].some((f) => f.includes(native)), native).toBe(true);
    }
    console.info(`${addons.size} native addons in production packages; Node-ABI: ${nodeAbi.join(', ')}`);
  });
});
