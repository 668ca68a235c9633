// The Electron build of better-sqlite3 is made beside node_modules, never in it. Here (no internet) the real
// command must fail with one clear line and leave node_modules' Node build byte-for-byte and mtime-for-mtime as it
// was. The whole prebuilt path (download, unpack, ABI check, install, reuse, lookup, load) runs against a local
// server, with a stand-in Electron whose ABI is this Node's so the result can be loaded here. Compiling with
// node-gyp against served headers takes minutes on 2 cores, so it runs only with CURIO_NATIVE_COMPILE_TEST=1.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addonAbi, ensureElectronSqlite, networkFailure } from '../../../main/app/native/electron-sqlite.js';
import { beforePack } from '../../../main/app/native/before-pack.js';
import { ELECTRON_NATIVE_DIR, electronBuildFolderName, sqliteNativeBinding } from '../../../main/catalog/sqlite-binding.js';

const REPO = path.resolve(import.meta.dirname, '../../..');
const PKG = path.join(REPO, 'node_modules/better-sqlite3');
const NODE_ADDON = path.join(PKG, 'build/Release/better_sqlite3.node');
const BSQ_VERSION = (JSON.parse(fs.readFileSync(path.join(PKG, 'package.json'), 'utf8')) as { version: string }).version;
const HOST = electronBuildFolderName(process.platform, process.arch);

interface Snapshot {
  sha256: string;
  mtimeMs: number;
  release: string[];
  top: string[];
}
/** node_modules' Node build of better-sqlite3, as the CLI and the tests load it. */
function snapshot(): Snapshot {
  return {
    sha256: crypto.createHash('sha256').update(fs.readFileSync(NODE_ADDON)).digest('hex'),
    mtimeMs: fs.statSync(NODE_ADDON).mtimeMs,
    release: fs.readdirSync(path.dirname(NODE_ADDON)).sort(),
    top: fs.readdirSync(PKG).sort(),
  };
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let tmp: string;
let before: Snapshot;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-native-build-'));
  before = snapshot();
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  expect(snapshot(), "node_modules' better-sqlite3 is untouched").toEqual(before);
});

/** Runs the command as `npm start` does (with npm's environment, nodedir included); SIGTERM after 50 s. */
function runCli(args: string[], env: NodeJS.ProcessEnv, onStderr?: (text: string, child: ChildProcess) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'main/app/native/ensure-electron-sqlite.ts'), ...args], {
      cwd: REPO,
      env: { ...process.env, npm_config_nodedir: path.dirname(path.dirname(process.execPath)), ...env },
      timeout: 50_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr, child);
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A project whose node_modules links the real packages, as pnpm or npm link would. */
function fakeRepo(electronAbi: string): string {
  const root = path.join(tmp, 'project');
  fs.mkdirSync(path.join(root, 'node_modules/electron'), { recursive: true });
  fs.writeFileSync(path.join(root, 'package.json'), '{"name":"fake","private":true}');
  fs.writeFileSync(path.join(root, 'node_modules/electron/package.json'), '{"name":"electron","version":"45.5.0"}');
  fs.writeFileSync(path.join(root, 'node_modules/electron/abi_version'), electronAbi);
  for (const name of ['better-sqlite3', 'prebuild-install', 'node-gyp']) {
    fs.symlinkSync(path.join(REPO, 'node_modules', name), path.join(root, 'node_modules', name), 'junction');
  }
  return root;
}

describe('ensure-electron-sqlite without network', () => {
  it('fails with one clear line, leaves no partial build and does not touch node_modules', async () => {
    const port = await closedPort();
    const out = path.join(tmp, 'out');
    const started = Date.now();
    const result = await runCli(
      ['--out', out, '--headers-url', `http://127.0.0.1:${port}/headers`, '--prebuilt-url', `http://127.0.0.1:${port}/bsq.tar.gz`, '--headers-dir', path.join(tmp, 'gyp')],
      { npm_config_cache: path.join(tmp, 'npm-cache') },
    );
    expect(result.code).toBe(1);
    const errors = result.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors, result.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(/^error: better-sqlite3 [\d.]+ for Electron 45\.5\.0 \(.+\) needs network once to fetch Electron headers \(http:\/\/127\.0\.0\.1:\d+\/headers\/v45\.5\.0\/node-v45\.5\.0-headers\.tar\.gz: .*ECONNREFUSED.*\)/);
    expect(errors[0]).toContain('no prebuilt binary could be downloaded either');
    expect(errors[0]).toContain('node_modules was not touched');
    expect(result.stderr).not.toMatch(/gyp ERR!|\n\s+at /);
    expect(fs.readdirSync(out), 'no build folder, no staging left').toEqual([]);
    expect(fs.existsSync(path.join(tmp, 'gyp', '45.5.0', 'include')), 'no half-downloaded headers').toBe(false);
    console.info(`offline failure after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 60_000);

  it('stops the compiler on Ctrl-C, exits 130 and leaves nothing behind', async () => {
    // A headers server that never answers keeps node-gyp busy until the interrupt.
    const sockets = new Set<net.Socket>();
    const server = http.createServer(() => {});
    server.on('connection', (s) => sockets.add(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const out = path.join(tmp, 'out');
    let sent = false;
    try {
      const result = await runCli(['--out', out, '--from-source', '--headers-url', `http://127.0.0.1:${port}/headers`, '--headers-dir', path.join(tmp, 'gyp')], {}, (text, child) => {
        if (!sent && text.includes('compiling with node-gyp')) {
          sent = true;
          setTimeout(() => child.kill('SIGINT'), 1500);
        }
      });
      expect(sent, result.stderr).toBe(true);
      expect(result.code).toBe(130);
      expect(result.stderr).toContain('error: interrupted; nothing was installed and node_modules was not touched');
      expect(fs.readdirSync(out)).toEqual([]);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }, 60_000);

  it('rejects an unknown option before doing anything', async () => {
    const result = await runCli(['--out', path.join(tmp, 'out'), '--frobnicate'], {});
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('error: unknown option --frobnicate');
    expect(fs.existsSync(path.join(tmp, 'out'))).toBe(false);
  }, 30_000);
});

describe('networkFailure', () => {
  it("reads the reason from node-gyp's and prebuild-install's logs, and nothing from a compile error", () => {
    expect(networkFailure('gyp http GET https://electronjs.org/headers/v45.5.0/node-v45.5.0-headers.tar.gz\ngyp WARN install got an error, rolling back install\ngyp ERR! stack is related to network connectivity.')).toEqual({
      url: 'https://electronjs.org/headers/v45.5.0/node-v45.5.0-headers.tar.gz',
      reason: 'host not found (ENOTFOUND)',
    });
    expect(networkFailure('prebuild-install http request GET https://github.com/x.tar.gz\nprebuild-install warn install getaddrinfo ENOTFOUND github.com')?.reason).toBe('getaddrinfo ENOTFOUND github.com');
    expect(networkFailure("../src/better_sqlite3.cpp:1:10: fatal error: node.h: No such file or directory")).toBeNull();
  });
});

describe('addonAbi', () => {
  it("reads node_modules' build as this Node's NODE_MODULE_VERSION, and N-API addons as none", () => {
    expect(addonAbi(fs.readFileSync(NODE_ADDON))).toBe(Number(process.versions.modules));
    expect(addonAbi(Buffer.from('xx napi_register_module_v1 yy'))).toBeNull();
    expect(addonAbi(Buffer.from('node_register_module_vX node_register_module_v150\0'))).toBe(150);
  });
});

describe('the prebuilt path, end to end, with a stand-in Electron of this Node ABI', () => {
  let server: http.Server;
  let url = '';
  let requests = 0;
  let tarball = '';
  let tarRoot = '';

  beforeAll(async () => {
    if (spawnSync('tar', ['--version']).status !== 0) return;
    tarRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-native-prebuilt-'));
    // A prebuild is build/Release/<addon>.node in a .tar.gz; node_modules' Node build stands in for Electron's.
    fs.mkdirSync(path.join(tarRoot, 'pkg/build/Release'), { recursive: true });
    fs.copyFileSync(NODE_ADDON, path.join(tarRoot, 'pkg/build/Release/better_sqlite3.node'));
    tarball = path.join(tarRoot, 'bsq.tar.gz');
    expect(spawnSync('tar', ['-czf', tarball, '-C', path.join(tarRoot, 'pkg'), 'build']).status).toBe(0);
    server = http.createServer((req, res) => {
      requests++;
      res.writeHead(200, { 'Content-Type': 'application/gzip' });
      fs.createReadStream(tarball).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/bsq.tar.gz`;
  });
  afterAll(async () => {
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (tarRoot) fs.rmSync(tarRoot, { recursive: true, force: true });
  });

  it('downloads, checks, installs and reuses the build; the lookup finds it and better-sqlite3 loads it', async (ctx) => {
    if (!tarball) return ctx.skip('no tar command to make a prebuild tarball');
    const fake = fakeRepo(process.versions.modules);
    const env = { npm_config_cache: path.join(tmp, 'npm-cache') };
    Object.assign(process.env, env);
    try {
      const lines: string[] = [];
      const first = await ensureElectronSqlite({ repo: fake, prebuiltUrl: url, log: (l) => lines.push(l) });
      expect(first.built).toBe(true);
      expect(first.info).toMatchObject({ electron: '45.5.0', betterSqlite3: BSQ_VERSION, platform: process.platform, arch: process.arch, via: 'prebuilt', abi: Number(process.versions.modules) });
      expect(first.folder).toBe(path.join(fake, ELECTRON_NATIVE_DIR, HOST));
      expect(fs.readdirSync(path.join(fake, ELECTRON_NATIVE_DIR)), 'only the build folder, no staging').toEqual([HOST]);
      expect(lines.join('\n')).toMatch(/not downloaded, so it was not loaded/);
      expect(requests).toBe(1);

      const again = await ensureElectronSqlite({ repo: fake, prebuiltUrl: url });
      expect(again.built, 'an installed matching build is reused').toBe(false);
      expect(requests, 'and nothing is fetched').toBe(1);

      const addon = sqliteNativeBinding({
        versions: { electron: '45.5.0' },
        platform: process.platform,
        arch: process.arch,
        searchFrom: path.join(fake, 'dist/main/catalog'),
        betterSqlite3Version: () => BSQ_VERSION,
      });
      expect(addon).toBe(first.addon);
      const db = new BetterSqlite3(':memory:', { nativeBinding: addon });
      expect((db.prepare('select sqlite_version() as v').get() as { v: string }).v).toMatch(/^3\./);
      db.close();

      fs.appendFileSync(first.addon, 'x');
      const repaired = await ensureElectronSqlite({ repo: fake, prebuiltUrl: url });
      expect(repaired.built, 'a damaged build is made again (from prebuild-install\'s cache)').toBe(true);
      expect(fs.readFileSync(repaired.addon).equals(fs.readFileSync(NODE_ADDON))).toBe(true);

      // An Electron of another ABI refuses this binary and keeps the installed build as it was.
      fs.writeFileSync(path.join(fake, 'node_modules/electron/abi_version'), '150');
      const installed = fs.readFileSync(first.addon);
      await expect(ensureElectronSqlite({ repo: fake, prebuiltUrl: url, force: true })).rejects.toThrow(
        new RegExp(`the prebuilt binary registers NODE_MODULE_VERSION ${process.versions.modules}, but Electron 45\\.5\\.0 needs 150`),
      );
      expect(fs.readFileSync(first.addon).equals(installed)).toBe(true);
      expect(fs.readdirSync(path.join(fake, ELECTRON_NATIVE_DIR))).toEqual([HOST]);
    } finally {
      delete process.env.npm_config_cache;
    }
  }, 60_000);
});

describe('beforePack (electron-builder hook)', () => {
  it('makes the build for the target platform, and a target it cannot compile for fails with the reason', async () => {
    const port = await closedPort();
    const other = process.platform === 'win32' ? 'linux' : 'win32';
    process.env.npm_config_cache = path.join(tmp, 'npm-cache');
    // prebuild-install's mirror setting: the download is refused here and on a connected machine alike.
    process.env.npm_config_better_sqlite3_binary_host = `http://127.0.0.1:${port}`;
    try {
      // The hook reads the repo and the Electron version from electron-builder's packager; `x64` is Arch 1.
      const context = { electronPlatformName: other, arch: 1, packager: { projectDir: tmp, info: { framework: { version: '45.5.0' } } } };
      fs.mkdirSync(path.join(tmp, 'node_modules'));
      fs.symlinkSync(PKG, path.join(tmp, 'node_modules/better-sqlite3'), 'junction');
      fs.writeFileSync(path.join(tmp, 'package.json'), '{"name":"fake"}');
      await expect(beforePack(context)).rejects.toThrow(new RegExp(`for Electron 45\\.5\\.0 \\(${other}-x64\\): no prebuilt binary could be downloaded .*node-gyp only compiles for this machine`));
      await expect(beforePack({ ...context, arch: 4 })).rejects.toThrow(/universal is not supported/);
      expect(fs.readdirSync(path.join(tmp, ELECTRON_NATIVE_DIR))).toEqual([]);
    } finally {
      delete process.env.npm_config_cache;
      delete process.env.npm_config_better_sqlite3_binary_host;
    }
  }, 60_000);
});

describe('compiling with node-gyp, end to end (CURIO_NATIVE_COMPILE_TEST=1)', () => {
  it("compiles a staging copy against served headers, checks and installs it, and node_modules stays as it was", async (ctx) => {
    if (process.env.CURIO_NATIVE_COMPILE_TEST !== '1') return ctx.skip('compiling SQLite takes minutes on 2 cores; set CURIO_NATIVE_COMPILE_TEST=1 to run it');
    const include = path.join(path.dirname(path.dirname(process.execPath)), 'include', 'node');
    if (!fs.existsSync(path.join(include, 'node.h'))) return ctx.skip(`no Node headers at ${include}`);
    if (process.platform === 'win32' || spawnSync('tar', ['--version']).status !== 0) return ctx.skip('needs tar and a POSIX toolchain');
    // This Node's headers, served the way electronjs.org/headers serves Electron's.
    const served = path.join(tmp, 'served', 'v45.5.0');
    fs.mkdirSync(path.join(tmp, 'h', 'node-v45.5.0', 'include'), { recursive: true });
    fs.cpSync(include, path.join(tmp, 'h', 'node-v45.5.0', 'include', 'node'), { recursive: true, dereference: true });
    fs.mkdirSync(served, { recursive: true });
    const tarball = path.join(served, 'node-v45.5.0-headers.tar.gz');
    expect(spawnSync('tar', ['-czf', tarball, '-C', path.join(tmp, 'h'), 'node-v45.5.0']).status).toBe(0);
    const digest = crypto.createHash('sha256').update(fs.readFileSync(tarball)).digest('hex');
    fs.writeFileSync(path.join(served, 'SHASUMS256.txt'), `${digest}  node-v45.5.0-headers.tar.gz\n`);
    const server = http.createServer((req, res) => {
      const file = path.join(tmp, 'served', path.normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^[/\\]+headers/, ''));
      if (!file.startsWith(path.join(tmp, 'served')) || !fs.existsSync(file)) return void res.writeHead(404).end();
      res.writeHead(200);
      fs.createReadStream(file).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const headersUrl = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/headers`;
    const nodedir = process.env.npm_config_nodedir;
    process.env.npm_config_nodedir = path.dirname(path.dirname(process.execPath)); // as npm would pass it; must be ignored
    try {
      const fake = fakeRepo(process.versions.modules);
      const started = Date.now();
      const result = await ensureElectronSqlite({ repo: fake, prebuilt: false, headersUrl, headersDir: path.join(tmp, 'gyp') });
      console.info(`compiled better-sqlite3 from a staging copy in ${((Date.now() - started) / 1000).toFixed(0)} s`);
      expect(result.info).toMatchObject({ via: 'source', abi: Number(process.versions.modules), electron: '45.5.0' });
      expect(fs.existsSync(path.join(tmp, 'gyp', '45.5.0', 'include', 'node', 'node.h')), 'headers came from the served URL').toBe(true);
      const db = new BetterSqlite3(':memory:', { nativeBinding: result.addon });
      expect((db.prepare('select sqlite_version() as v').get() as { v: string }).v).toMatch(/^3\./);
      db.close();
      expect(fs.readdirSync(path.join(fake, ELECTRON_NATIVE_DIR))).toEqual([HOST]);
    } finally {
      if (nodedir === undefined) delete process.env.npm_config_nodedir;
      else process.env.npm_config_nodedir = nodedir;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }, 900_000);
});
