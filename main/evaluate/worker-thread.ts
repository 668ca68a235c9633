import type { Worker, WorkerOptions } from 'node:worker_threads';
import { spawnWorker } from '../common/worker-thread.js';

/**
 * A worker thread running `name` (a module beside this one, without extension), with no execArgv of its own: the
 * parent's flags (tsx's loader among them) are not passed on. Throws when the worker cannot be created.
 */
export function startWorker(name: string, options: WorkerOptions = {}): Worker {
  return spawnWorker(new URL(`./${name}.js`, import.meta.url), { ...options, execArgv: [] });
}
