import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { DecodeIntoReply, DecodeIntoRequest } from './decode-worker.js';
import { spawnWorker } from './spawn.js';

export interface DecodeAllOptions {
  /** decode worker threads (default: the machine's parallelism, at most 8; decoding happens before training) */
  workers?: number;
  /** images per request (default 64): small enough to spread the work, large enough that messages are rare */
  chunk?: number;
  signal?: AbortSignal;
  onProgress?: (done: number) => void;
}

/**
 * Decodes every file to size×size 8-bit RGB into `into` (slot i at byte i·size·size·3) on a pool of decode worker
 * threads: sharp, the JPEG decoding and the byte copies all run off the calling thread, which only hands out
 * chunks. Rejects with the first file that cannot be decoded (naming it), or when the signal aborts.
 */
export async function decodeAllInto(paths: readonly string[], size: number, into: SharedArrayBuffer, options: DecodeAllOptions = {}): Promise<void> {
  const per = size * size * 3;
  if (into.byteLength < paths.length * per) throw new Error(`decodeAllInto: the buffer holds ${Math.floor(into.byteLength / per)} images, ${paths.length} were given`);
  if (paths.length === 0) return;
  const chunk = options.chunk ?? 64;
  const chunks = Math.ceil(paths.length / chunk);
  const count = Math.max(1, Math.min(options.workers ?? Math.min(8, os.availableParallelism()), chunks));
  const workers: Worker[] = Array.from({ length: count }, () => spawnWorker(new URL('./decode-worker.js', import.meta.url)));
  let next = 0;
  let done = 0;
  let nextId = 1;
  try {
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            const onAbort = () => reject(new Error('decoding cancelled'));
            options.signal?.addEventListener('abort', onAbort, { once: true });
            const send = () => {
              if (options.signal?.aborted) return onAbort();
              const c = next++;
              if (c >= chunks) {
                options.signal?.removeEventListener('abort', onAbort);
                return resolve();
              }
              const first = c * chunk;
              const req: DecodeIntoRequest = { id: nextId++, into, first, paths: paths.slice(first, first + chunk), size };
              worker.postMessage(req);
            };
            worker.on('message', (msg: DecodeIntoReply | { id: number; error: string }) => {
              if ('error' in msg) return reject(new Error(msg.error));
              done += msg.done;
              options.onProgress?.(done);
              send();
            });
            worker.on('error', (err) => reject(new Error(`decode worker crashed: ${err.message}`)));
            worker.on('exit', (code) => reject(new Error(`decode worker exited with code ${code}`)));
            send();
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
