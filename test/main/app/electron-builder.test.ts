// electron-builder cannot download what it needs here, so the packaging config is checked instead: the targets
// the issue asks for, and that every native file in node_modules comes out of app.asar, matched by
// electron-builder's own pattern code.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const REPO = path.resolve(import.meta.dirname, '../../..');
const config = parse(fs.readFileSync(path.join(REPO, 'electron-builder.yml'), 'utf8')) as {
  appId: string;
  productName: string;
  files: string[];
  asar: boolean;
  asarUnpack: string[];
  linux: { target: string[]; maintainer?: string };
  mac: { target: string[] };
  win: { target: string[] };
};
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
  main: string;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
};

/** electron-builder's own matcher (app-builder-lib's FileMatcher), as it is applied to asarUnpack. */
function unpackFilter(patterns: string[]): (file: string) => boolean {
  const require = createRequire(path.join(REPO, 'package.json'));
  const { FileMatcher } = require('app-builder-lib/out/fileMatcher') as {
    FileMatcher: new (from: string, to: string, expand: (s: string) => string, patterns: string[]) => {
      createFilter(): (file: string, stat: fs.Stats) => boolean;
    };
  };
  const filter = new FileMatcher(REPO, REPO, (s) => s, patterns).createFilter();
  return (file) => filter(file, fs.statSync(file));
}

function walk(dir: string, visit: (file: string) => void): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) walk(full, visit);
    else if (e.isFile()) visit(full);
  }
}

/** Where each package of the production dependency tree lives, found the way Node resolves them. */
function productionPackages(): Map<string, string> {
  const found = new Map<string, string>();
  const queue: [string, string][] = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies }).map((n) => [n, REPO]);
  while (queue.length) {
    const [name, from] = queue.shift()!;
    let dir = from;
    let pkgDir: string | null = null;
    for (;;) {
      const candidate = path.join(dir, 'node_modules', name);
      if (fs.existsSync(path.join(candidate, 'package.json'))) {
        pkgDir = candidate;
        break;
      }
      const up = path.dirname(dir);
      if (up === dir || !up.startsWith(REPO)) break;
      dir = up;
    }
    if (!pkgDir || found.has(pkgDir)) continue;
    found.set(pkgDir, name);
    const meta = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { dependencies?: object; optionalDependencies?: object };
    for (const dep of Object.keys({ ...meta.dependencies, ...meta.optionalDependencies })) queue.push([dep, pkgDir]);
  }
  return found;
}

describe('electron-builder.yml', () => {
  it('names the app and builds AppImage + deb, dmg and nsis', () => {
    expect(config.productName).toBe('Curio');
    expect(config.appId).toMatch(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/);
    expect(config.linux.target).toEqual(expect.arrayContaining(['AppImage', 'deb']));
    expect(config.linux.maintainer, 'a deb needs a maintainer').toBeTruthy();
    expect(config.mac.target).toContain('dmg');
    expect(config.win.target).toContain('nsis');
    expect(pkg.scripts.dist).toContain('electron-builder --config electron-builder.yml');
  });

  it('packs the build, package.json and the production node_modules', () => {
    expect(config.files).toEqual(expect.arrayContaining(['dist/**/*', 'package.json', 'node_modules/**/*']));
    expect(pkg.main).toBe('dist/main/app/main.js');
    expect(config.asar).toBe(true);
  });

  it('unpacks every native addon in node_modules from app.asar', () => {
    const unpacked = unpackFilter(config.asarUnpack);
    const addons: string[] = [];
    walk(path.join(REPO, 'node_modules'), (f) => {
      if (f.endsWith('.node')) addons.push(f);
    });
    expect(addons.length, 'node_modules holds native addons (better-sqlite3 at least)').toBeGreaterThan(0);
    expect(addons.filter((f) => !unpacked(f)).map((f) => path.relative(REPO, f))).toEqual([]);
    for (const native of ['better-sqlite3', 'sharp', '@img', 'onnxruntime-node', 'usearch', 'webgpu']) {
      expect(config.asarUnpack.some((p) => p.startsWith(`node_modules/${native}/`)), native).toBe(true);
    }
  });

  it("packs and unpacks Curio's own native CPU kernels where the main code looks for them", () => {
    const unpacked = unpackFilter(config.asarUnpack);
    const addon = path.join(REPO, 'dist', 'native', 'curio_cpu.node');
    expect(unpacked(addon), 'dist/native/curio_cpu.node must come out of app.asar to be dlopen-able').toBe(true);
    expect(config.files.some((p) => p === 'dist/**/*'), 'dist/ is packed').toBe(true);
    // main/compute/native.ts redirects app.asar/ to app.asar.unpacked/ for this exact path
    expect(fs.readFileSync(path.join(REPO, 'main', 'compute', 'native.ts'), 'utf8')).toContain("'dist', 'native', 'curio_cpu.node'");
  });

  it('unpacks the whole of every production package that ships native code (its shared libraries too)', () => {
    const unpacked = unpackFilter(config.asarUnpack);
    const nativePackages: string[] = [];
    const packed: string[] = [];
    for (const dir of productionPackages().keys()) {
      const files: string[] = [];
      walk(dir, (f) => {
        if (!path.relative(dir, f).split(path.sep).includes('node_modules')) files.push(f);
      });
      if (!files.some((f) => /\.(node|so(\.\d+)*|dylib|dll)$/.test(f))) continue;
      nativePackages.push(path.relative(REPO, dir));
      packed.push(...files.filter((f) => !unpacked(f)).map((f) => path.relative(REPO, f)));
    }
    expect(nativePackages).toEqual(expect.arrayContaining(['node_modules/better-sqlite3', 'node_modules/onnxruntime-node', 'node_modules/usearch', 'node_modules/webgpu']));
    expect(nativePackages.some((p) => p.startsWith('node_modules/@img/sharp-')), nativePackages.join(', ')).toBe(true);
    console.info(`native production packages: ${nativePackages.join(', ')}`);
    expect(packed.slice(0, 20)).toEqual([]);
  });

  it('is checked by a matcher that can fail: a pattern list without the native entries leaves addons packed', () => {
    const unpacked = unpackFilter(['node_modules/sharp/**/*']);
    const sqlite = path.join(REPO, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');
    expect(fs.existsSync(sqlite)).toBe(true);
    expect(unpacked(sqlite)).toBe(false);
    expect(unpacked(path.join(REPO, 'node_modules/sharp/package.json'))).toBe(true);
  });
});
