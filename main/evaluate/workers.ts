import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { spawnWorker } from '../common/worker-thread.js';

/** A worker thread on a module beside the caller, given by its built name (`x.js`), with its workerData. */
export function spawnModuleWorker(jsUrl: URL, workerData: unknown): Worker {
  return spawnWorker(jsUrl, { workerData });
}

/**
 * Threads worth starting for `work` multiply-adds: one below `perThreadMinimum` (a worker costs tens of
 * milliseconds to start, more from sources), else up to the machine's parallelism, at most 8.
 */
export function defaultThreads(work: number, perThreadMinimum: number): number {
  return Math.max(1, Math.min(os.availableParallelism(), 8, Math.floor(work / perThreadMinimum)));
}
