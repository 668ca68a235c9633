import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A worker thread running `name` (a module beside this one, without extension): the .js file in a build, the .ts
 * file from the sources (tests, CURIO_FROM_SOURCE), where the worker registers tsx's loader first because Node 20
 * does not pass its parent's loader hooks to a worker. Throws when the worker cannot be created.
 */
export function startWorker(name: string, options: WorkerOptions = {}): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, import.meta.url), options);
  const api = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href.replace(/\.cjs$/, '.mjs');
  const entry = new URL(`./${name}.ts`, import.meta.url).href;
  return new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`, { ...options, eval: true, execArgv: [] });
}
