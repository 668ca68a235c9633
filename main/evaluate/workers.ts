import { createRequire } from 'node:module';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * Starts a worker thread on a module that sits beside the caller, given by its built name (`x.js`).
 * From the built app that file exists and runs as it is. When the caller runs from TypeScript sources (tests,
 * tsx, CURIO_FROM_SOURCE) only `x.ts` exists, so the worker first registers tsx's loader, then imports it.
 */
export function spawnModuleWorker(jsUrl: URL, workerData: unknown): Worker {
  const tsUrl = new URL(jsUrl.href.replace(/\.js$/, '.ts'));
  const fromSource = import.meta.url.endsWith('.ts');
  if (!fromSource) return new Worker(jsUrl, { workerData });
  const require = createRequire(import.meta.url);
  // tsx's ESM API (`tsx/esm/api`, import condition); require.resolve gives the CommonJS twin beside it.
  const api = pathToFileURL(require.resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(tsUrl.href)}); });`;
  return new Worker(code, { eval: true, workerData });
}

/**
 * Threads worth starting for `work` multiply-adds: one below `perThreadMinimum` (a worker costs tens of
 * milliseconds to start, more from sources), else up to the machine's parallelism, at most 8.
 */
export function defaultThreads(work: number, perThreadMinimum: number): number {
  return Math.max(1, Math.min(os.availableParallelism(), 8, Math.floor(work / perThreadMinimum)));
}
