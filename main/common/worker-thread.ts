import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread on the module `moduleUrl` names by its built name (`x.js`, beside the caller). From dist/
 * that file exists and runs as it is. From the TypeScript sources (tsx, vitest, CURIO_FROM_SOURCE) only `x.ts`
 * exists: a one-line boot script registers tsx's ESM loader inside the new thread first, because Node 20 does not
 * pass its parent's loader hooks (nor `--import tsx` in execArgv) to a worker. Throws when the worker cannot be
 * created; the caller decides whether to fall back to its own thread.
 */
export function spawnWorker(moduleUrl: URL, options: WorkerOptions = {}): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(moduleUrl, options);
  const entry = moduleUrl.href.replace(/\.js$/, '.ts');
  const boot = `import(${JSON.stringify(tsxEsmApi())}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { ...options, eval: true });
}

/** tsx's ESM register API (require.resolve gives its CommonJS build, whose register cannot load ESM hooks). */
function tsxEsmApi(): string {
  const pkgJson = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(path.join(path.dirname(pkgJson), pkg.exports['./esm/api']!.import.default)).href;
}
