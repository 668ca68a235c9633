/**
 * `npm start` runs this before `electron .`: it makes sure `.electron-native/` holds better-sqlite3 built for the
 * installed Electron (nothing runs when it already does). Exit 0 when ready, 1 with one line on stderr if not.
 *   node dist/main/app/native/ensure-electron-sqlite.js [--electron V] [--platform P] [--arch A] [--force]
 *     [--from-source] [--out DIR] [--headers-url URL] [--headers-dir DIR] [--prebuilt-url URL]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureElectronSqlite, NativeBuildError, stopBuilds, type EnsureOptions } from './electron-sqlite.js';

const VALUE_FLAGS: Record<string, keyof EnsureOptions> = {
  '--electron': 'electronVersion',
  '--platform': 'platform',
  '--arch': 'arch',
  '--out': 'outRoot',
  '--headers-url': 'headersUrl',
  '--headers-dir': 'headersDir',
  '--prebuilt-url': 'prebuiltUrl',
};

export function parseArgs(argv: string[], repo: string): EnsureOptions {
  const options: EnsureOptions = { repo };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--force') options.force = true;
    else if (arg === '--from-source') options.prebuilt = false;
    else if (arg in VALUE_FLAGS) {
      const value = argv[++i];
      if (value === undefined || value.startsWith('--')) throw new NativeBuildError(`${arg} needs a value`);
      (options as unknown as Record<string, string>)[VALUE_FLAGS[arg]!] = value;
    } else throw new NativeBuildError(`unknown option ${arg}`);
  }
  return options;
}

async function main(): Promise<number> {
  // main/app/native in the sources, dist/main/app/native when built: the project root holds package.json.
  let repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  if (!fs.existsSync(path.join(repo, 'package.json'))) repo = path.dirname(repo);
  // The compilers run in their own process group, so Ctrl-C reaches them through here; the build then fails,
  // its staging folder is removed, and nothing is installed.
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      stopBuilds();
    });
  }
  try {
    const result = await ensureElectronSqlite({ ...parseArgs(process.argv.slice(2), repo), log: (line) => process.stderr.write(`${line}\n`) });
    if (!result.built) process.stderr.write(`better-sqlite3 for Electron ${result.info.electron}: ${path.relative(repo, result.addon)} is up to date\n`);
    return 0;
  } catch (err) {
    if (interrupted) {
      process.stderr.write('error: interrupted; nothing was installed and node_modules was not touched\n');
      return 130;
    }
    const message = err instanceof NativeBuildError ? err.message : (err as Error).stack ?? String(err);
    process.stderr.write(`error: ${message}\n`);
    return 1;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
