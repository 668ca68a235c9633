import type { Worker } from 'node:worker_threads';
import type { DecodeReply, DecodeRequest } from './decode-worker.js';
import { startWorker } from './worker-thread.js';

/**
 * One worker thread that decodes batches for decodeForEncoder. onnxruntime-node's run() is a synchronous native call
 * on the JS thread (its promise only defers the call with setImmediate), so JPEGs decoded on that thread wait for
 * every forward pass and one core idles meanwhile; in the worker, the next batch decodes while ORT runs this one.
 * The worker is started on first use and does not keep the process alive when idle. When it cannot start (a
 * packaging without the file, a loader that cannot run TypeScript) or dies, every call returns null and
 * decodeForEncoder decodes on its own thread as before.
 */
let worker: Worker | null = null;
let broken = false;
let nextId = 0;
const pending = new Map<number, (reply: DecodeReply | null) => void>();

export function decodeInWorker(paths: readonly string[], size: number): Promise<DecodeReply | null> {
  const w = ensureWorker();
  if (!w) return Promise.resolve(null);
  return new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    if (pending.size === 1) w.ref();
    const req: DecodeRequest = { id, paths: [...paths], size };
    w.postMessage(req);
  });
}

function ensureWorker(): Worker | null {
  if (worker || broken) return worker;
  try {
    worker = startWorker('decode-worker');
  } catch {
    broken = true;
    return null;
  }
  worker.unref();
  worker.on('message', (reply: DecodeReply) => settle(reply.id, reply));
  const fail = () => {
    broken = true;
    worker = null;
    for (const id of [...pending.keys()]) settle(id, null);
  };
  worker.on('error', fail);
  worker.on('exit', fail);
  return worker;
}

function settle(id: number, reply: DecodeReply | null): void {
  const resolve = pending.get(id);
  if (!resolve) return;
  pending.delete(id);
  if (pending.size === 0) worker?.unref();
  resolve(reply);
}
