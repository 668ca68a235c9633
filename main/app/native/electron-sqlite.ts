/**
 * Builds better-sqlite3 for Electron's ABI into `.electron-native/<os>-<arch>/`, beside node_modules rather than in
 * it: node_modules keeps the Node build that the CLI, the tests and `curio serve` load. The package is copied to a
 * staging folder and built there, with a prebuilt binary from better-sqlite3's releases (prebuild-install) or
 * else node-gyp against Electron's headers, so an interrupted or failed build cannot touch node_modules. The
 * result is checked (its NODE_MODULE_VERSION, and a real load in Electron when its binary is downloaded) and
 * installed by a rename. main/catalog/sqlite-binding.ts is the reader.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import {
  BUILD_INFO_FILE,
  ELECTRON_NATIVE_DIR,
  SQLITE_ADDON_FILE,
  electronBuildFolderName,
  readBuildInfo,
  type ElectronSqliteBuild,
} from '../../catalog/sqlite-binding.js';

export const ELECTRON_HEADERS_URL = 'https://electronjs.org/headers';

export class NativeBuildError extends Error {
  override readonly name = 'NativeBuildError';
}

export interface EnsureOptions {
  /** The project root, holding node_modules. */
  repo: string;
  /** Default: `<repo>/.electron-native`. */
  outRoot?: string;
  /** Default: the installed electron package's version. */
  electronVersion?: string;
  platform?: string;
  arch?: string;
  /** Rebuild even when a matching build is installed. */
  force?: boolean;
  /** Try a prebuilt binary before compiling (default true). */
  prebuilt?: boolean;
  /** prebuild-install's --download URL (default: better-sqlite3's GitHub release asset). */
  prebuiltUrl?: string;
  /** node-gyp's --dist-url for the Electron headers. */
  headersUrl?: string;
  /** node-gyp's --devdir, where it caches headers (default: its own cache folder). */
  headersDir?: string;
  log?: (line: string) => void;
}

export interface EnsureResult {
  folder: string;
  addon: string;
  /** false: an installed build already matched and nothing ran. */
  built: boolean;
  info: ElectronSqliteBuild;
}

interface Tool {
  ok: boolean;
  output: string;
}

/** The NODE_MODULE_VERSION an addon registers under (`node_register_module_v<abi>`), or null for N-API/unknown. */
export function addonAbi(addon: Buffer): number | null {
  const marker = Buffer.from('node_register_module_v');
  for (let at = addon.indexOf(marker); at >= 0; at = addon.indexOf(marker, at + 1)) {
    let end = at + marker.length;
    while (end < addon.length && addon[end]! >= 0x30 && addon[end]! <= 0x39) end++;
    if (end > at + marker.length) return Number(addon.subarray(at + marker.length, end).toString('latin1'));
  }
  return null;
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Electron's NODE_MODULE_VERSION: the electron package ships it; node-abi knows other versions. */
function electronAbi(repo: string, electronVersion: string): number | null {
  const pkgDir = path.join(repo, 'node_modules', 'electron');
  try {
    if (readJson<{ version: string }>(path.join(pkgDir, 'package.json')).version === electronVersion) {
      return Number(fs.readFileSync(path.join(pkgDir, 'abi_version'), 'utf8').trim());
    }
  } catch {
    // No electron package or no abi_version in it: ask node-abi below.
  }
  try {
    const nodeAbi = createRequire(path.join(repo, 'package.json'))('node-abi') as { getAbi(target: string, runtime: string): string };
    return Number(nodeAbi.getAbi(electronVersion, 'electron'));
  } catch {
    return null;
  }
}

/** The downloaded Electron executable, or null: resolving it through the electron package would download it. */
function electronBinary(repo: string): string | null {
  const pkgDir = path.join(repo, 'node_modules', 'electron');
  try {
    const bin = path.join(pkgDir, 'dist', fs.readFileSync(path.join(pkgDir, 'path.txt'), 'utf8').trim());
    return fs.existsSync(bin) ? bin : null;
  } catch {
    return null;
  }
}

const running = new Set<ChildProcess>();

function killTree(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  // node-gyp runs make or MSBuild, which run the compilers: stop the whole tree, not just node-gyp.
  if (process.platform === 'win32') spawnSync('taskkill', ['/pid', String(child.pid), '/T', '/F'], { stdio: 'ignore' });
  else {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      child.kill('SIGTERM');
    }
  }
}

/** Stops the downloads and compilers under way (the CLI calls this on Ctrl-C); the build then fails and cleans up. */
export function stopBuilds(): void {
  for (const child of running) killTree(child);
}

/**
 * npm hands its config to scripts as npm_config_*, and node-gyp and prebuild-install read any of them as options:
 * a `nodedir` from an npmrc would compile against Node's headers whatever --target says. Only the network,
 * cache and toolchain settings pass; the arguments given here decide what is built.
 */
function toolEnv(): NodeJS.ProcessEnv {
  const passes = /^npm_config_(.*proxy|cafile|ca|strict_ssl|cache|python|msvs_version|local_address|better_sqlite3_binary_host(_mirror)?)$/i;
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k) || passes.test(k)));
}

function run(command: string, args: string[], cwd: string, log: (line: string) => void): Promise<Tool> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env: toolEnv(), stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true, detached: process.platform !== 'win32' });
    running.add(child);
    let output = '';
    const take = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 200_000) output = output.slice(-100_000);
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    const ticker = setInterval(() => log(`  …still building (${path.basename(args[0] ?? command)})`), 30_000);
    const done = (ok: boolean, extra = '') => {
      clearInterval(ticker);
      running.delete(child);
      resolve({ ok, output: output + extra });
    };
    child.on('error', (err) => done(false, `\n${err.message}`));
    child.on('close', (code, signal) => done(code === 0, signal ? `\nstopped by ${signal}` : ''));
  });
}

/** The reason a download failed, from a tool's log, or null when the failure was something else. */
export function networkFailure(output: string): { url: string | null; reason: string } | null {
  const reason =
    /\b(getaddrinfo \w+ [\w.-]+|connect E\w+ [\d.:]+|E(?:CONNREFUSED|CONNRESET|TIMEDOUT|AI_AGAIN|NOTFOUND|NETUNREACH|HOSTUNREACH)\b[^\n]*|bad port|socket hang up|fetch failed|[45]\d\d (?:status|response)[^\n]*)/i.exec(output)?.[1] ??
    // node-gyp swaps ENOTFOUND for a paragraph about proxies.
    (/related to network connectivity/.test(output) ? 'host not found (ENOTFOUND)' : /install got an error/.test(output) ? 'download failed' : null);
  if (!reason) return null;
  const url = /(?:gyp http GET|http request GET|request to)\s+(\S+)/.exec(output)?.[1] ?? null;
  return { url, reason: reason.trim() };
}

function lastErrorLine(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const errors = lines.filter((l) => /error|ERR!|fatal/i.test(l) && !/^gyp ERR! (cwd|node -v|node-gyp -v|System|command|not ok)/.test(l));
  return (errors.at(-1) ?? lines.at(-1) ?? 'no output').slice(0, 300);
}

function removeStale(outRoot: string): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(outRoot);
  } catch {
    return;
  }
  for (const name of entries) {
    const pid = /^\.(?:staging|install)-(\d+)-/.exec(name)?.[1];
    if (!pid) continue;
    let alive = true;
    try {
      process.kill(Number(pid), 0);
    } catch {
      alive = false;
    }
    if (!alive) fs.rmSync(path.join(outRoot, name), { recursive: true, force: true });
  }
}

/** Makes sure an Electron build of better-sqlite3 for this Electron and platform is installed; builds it if not. */
export async function ensureElectronSqlite(options: EnsureOptions): Promise<EnsureResult> {
  const repo = path.resolve(options.repo);
  const log = options.log ?? (() => {});
  const outRoot = path.resolve(options.outRoot ?? path.join(repo, ELECTRON_NATIVE_DIR));
  const installedDir = path.join(repo, 'node_modules', 'better-sqlite3');
  if (!fs.existsSync(path.join(installedDir, 'package.json'))) throw new NativeBuildError(`better-sqlite3 is not installed in ${path.dirname(installedDir)}; run npm ci first`);
  // Linked installs (pnpm, npm link) make it a symlink; the copy below must be of the real files, never of the link.
  const packageDir = fs.realpathSync(installedDir);
  const betterSqlite3 = readJson<{ version: string }>(path.join(packageDir, 'package.json')).version;
  let electron = options.electronVersion;
  if (!electron) {
    try {
      electron = readJson<{ version: string }>(path.join(repo, 'node_modules', 'electron', 'package.json')).version;
    } catch {
      throw new NativeBuildError('electron is not installed in node_modules; run npm ci first, or pass --electron VERSION');
    }
  }
  if (!/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(electron)) throw new NativeBuildError(`not an Electron version: ${electron}`);
  const platform = options.platform ?? process.platform;
  const arch = options.arch ?? process.arch;
  const folder = path.join(outRoot, electronBuildFolderName(platform, arch));
  const addon = path.join(folder, SQLITE_ADDON_FILE);

  const installed = readBuildInfo(folder);
  if (
    !options.force &&
    installed &&
    installed.electron === electron &&
    installed.betterSqlite3 === betterSqlite3 &&
    installed.platform === platform &&
    installed.arch === arch &&
    fs.existsSync(addon) &&
    sha256(addon) === installed.sha256
  ) {
    return { folder, addon, built: false, info: installed };
  }

  const label = `better-sqlite3 ${betterSqlite3} for Electron ${electron} (${platform}-${arch})`;
  fs.mkdirSync(outRoot, { recursive: true });
  removeStale(outRoot);
  const staging = fs.mkdtempSync(path.join(outRoot, `.staging-${process.pid}-`));
  try {
    // A copy without node_modules' Node build, so nothing from it can end up in the Electron folder.
    const work = path.join(staging, 'better-sqlite3');
    fs.cpSync(packageDir, work, { recursive: true, dereference: true, filter: (src) => path.relative(packageDir, src).split(path.sep)[0] !== 'build' });
    if (!fs.lstatSync(work).isDirectory()) throw new NativeBuildError(`${label}: the staging copy is not a plain folder`);
    const built = path.join(work, 'build', 'Release', SQLITE_ADDON_FILE);
    const pkgRequire = createRequire(path.join(packageDir, 'package.json'));
    const repoRequire = createRequire(path.join(repo, 'package.json'));
    const started = Date.now();

    let via: ElectronSqliteBuild['via'] | null = null;
    let prebuiltFailure: string | null = null;
    if (options.prebuilt !== false) {
      log(`${label}: looking for a prebuilt binary`);
      const args = [pkgRequire.resolve('prebuild-install/bin.js'), '--runtime', 'electron', '--target', electron, '--platform', platform, '--arch', arch, '--verbose'];
      if (options.prebuiltUrl) args.push('--download', options.prebuiltUrl);
      const result = await run(process.execPath, args, work, log);
      if (result.ok && fs.existsSync(built)) via = 'prebuilt';
      else prebuiltFailure = networkFailure(result.output)?.reason ?? lastErrorLine(result.output);
    }

    if (!via) {
      if (platform !== process.platform || arch !== process.arch) {
        throw new NativeBuildError(
          `${label}: no prebuilt binary could be downloaded (${prebuiltFailure ?? 'not tried'}), and node-gyp only compiles for this machine (${process.platform}-${process.arch}); run this on a ${platform}-${arch} machine`,
        );
      }
      let nodeGyp: string | undefined;
      try {
        nodeGyp = repoRequire.resolve('node-gyp/bin/node-gyp.js');
      } catch {
        nodeGyp = process.env.npm_config_node_gyp;
      }
      if (!nodeGyp) throw new NativeBuildError(`${label}: node-gyp was not found (node_modules/node-gyp, or npm's own)`);
      const headersUrl = options.headersUrl ?? ELECTRON_HEADERS_URL;
      log(`${label}: compiling with node-gyp against Electron's headers (a few minutes)`);
      const args = [nodeGyp, 'rebuild', '--release', `--target=${electron}`, `--arch=${arch}`, `--dist-url=${headersUrl}`, '--jobs=max'];
      if (options.headersDir) args.push(`--devdir=${options.headersDir}`);
      const result = await run(process.execPath, args, work, log);
      if (!result.ok || !fs.existsSync(built)) {
        const net = networkFailure(result.output);
        if (net && /gyp http GET/.test(result.output)) {
          throw new NativeBuildError(
            `${label} needs network once to fetch Electron headers (${net.url ?? `${headersUrl}/v${electron}/`}: ${net.reason}); ` +
              (prebuiltFailure ? `no prebuilt binary could be downloaded either (${prebuiltFailure}). ` : '') +
              'Connect and run it again; what it fetches is cached afterwards. node_modules was not touched.',
          );
        }
        throw new NativeBuildError(`${label}: node-gyp failed: ${lastErrorLine(result.output)} (a C++ toolchain and Python are needed). node_modules was not touched.`);
      }
      via = 'source';
    }

    const abi = addonAbi(fs.readFileSync(built));
    const expected = electronAbi(repo, electron);
    if (expected !== null && abi !== null && abi !== expected) {
      throw new NativeBuildError(`${label}: the ${via} binary registers NODE_MODULE_VERSION ${abi}, but Electron ${electron} needs ${expected}`);
    }
    const electronBin = platform === process.platform && arch === process.arch ? electronBinary(repo) : null;
    if (electronBin) {
      // ELECTRON_RUN_AS_NODE runs Electron's own Node, with Electron's ABI: the check the app itself will make.
      const probe = `const D=require(${JSON.stringify(path.join(work, 'lib', 'index.js'))});` + `const db=new D(':memory:',{nativeBinding:${JSON.stringify(built)}});` + `process.stdout.write(db.prepare('select sqlite_version() v').get().v)`;
      const loaded = spawnSync(electronBin, ['-e', probe], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, encoding: 'utf8', timeout: 60_000 });
      if (loaded.status !== 0) throw new NativeBuildError(`${label}: Electron could not load the ${via} binary: ${lastErrorLine(`${loaded.stderr ?? ''}${loaded.error?.message ?? ''}`)}`);
      log(`${label}: loads in Electron (SQLite ${loaded.stdout})`);
    } else {
      log(`${label}: NODE_MODULE_VERSION ${abi ?? 'unknown'}${expected !== null ? ` (Electron needs ${expected})` : ''}; the Electron binary is not downloaded, so it was not loaded`);
    }

    const info: ElectronSqliteBuild = { electron, betterSqlite3, platform, arch, abi, sha256: sha256(built), via };
    const fresh = fs.mkdtempSync(path.join(outRoot, `.install-${process.pid}-`));
    fs.copyFileSync(built, path.join(fresh, SQLITE_ADDON_FILE));
    fs.writeFileSync(path.join(fresh, BUILD_INFO_FILE), `${JSON.stringify(info, null, 2)}\n`);
    fs.rmSync(folder, { recursive: true, force: true });
    fs.renameSync(fresh, folder);
    log(`${label}: ${via === 'prebuilt' ? 'downloaded' : 'compiled'} in ${((Date.now() - started) / 1000).toFixed(1)} s into ${path.relative(repo, folder) || folder}`);
    return { folder, addon, built: true, info };
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}
