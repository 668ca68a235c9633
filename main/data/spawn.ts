import type { Worker } from 'node:worker_threads';
import { spawnWorker as spawnModule } from '../common/worker-thread.js';

/** A worker thread on the module `moduleUrl` names by its built name (`x.js`), with optional workerData. */
export function spawnWorker(moduleUrl: URL, workerData?: unknown): Worker {
  return spawnModule(moduleUrl, workerData === undefined ? {} : { workerData });
}
