import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { spawnWorker } from '../common/worker-thread.js';
import { DecodeError, type Decoded, type DecodeOptions, decodeImage } from './decode.js';

export interface DecodeRequest {
  id: number;
  path: string;
  thumbnailDir: string;
  maxPixels?: number;
}

export type DecodeReply =
  | { id: number; ok: true; value: Decoded }
  | { id: number; ok: false; decodeError: boolean; message: string };

interface Pending {
  resolve: (d: Decoded) => void;
  reject: (e: Error) => void;
  filePath: string;
  options: DecodeOptions;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  /** whether the worker ever replied, i.e. it started */
  answered: boolean;
}

/**
 * Decodes images on worker threads, one per core, so that hashing, sharp's per-call marshalling and the thumbnail
 * writes run beside each other and the main thread (Electron's, or the server's) stays free. Each worker gets
 * the next file when it has fewest in flight. Workers start on first use, stay for the next import, and do not
 * keep the process alive while idle. Where a worker cannot start at all (a packaging that breaks the worker file,
 * say), the pool decodes in-process instead, so an import is slower but never fails for it.
 */
export class DecodePool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;
  private inProcess = false;

  constructor(
    readonly size = Math.max(1, os.availableParallelism()),
    private readonly startWorker: () => Worker = newWorker,
  ) {}

  /** True once a worker failed to start and the pool fell back to decoding on the calling thread. */
  get decodesInProcess(): boolean {
    return this.inProcess;
  }

  decode(filePath: string, options: DecodeOptions): Promise<Decoded> {
    if (this.closed) return Promise.reject(new Error('decode pool is closed'));
    if (this.inProcess) return decodeImage(filePath, options);
    let slot: Slot;
    try {
      slot = this.pickSlot();
    } catch {
      this.inProcess = true;
      return decodeImage(filePath, options);
    }
    const id = this.nextId++;
    const req: DecodeRequest = {
      id,
      path: filePath,
      thumbnailDir: options.thumbnailDir,
      ...(options.maxPixels !== undefined ? { maxPixels: options.maxPixels } : {}),
    };
    return new Promise<Decoded>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject, filePath, options });
      if (slot.pending.size === 1) slot.worker.ref();
      slot.worker.postMessage(req);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private pickSlot(): Slot {
    if (this.slots.length < this.size) return this.spawn();
    let best = this.slots[0]!;
    for (const s of this.slots) if (s.pending.size < best.pending.size) best = s;
    return best;
  }

  private spawn(): Slot {
    const worker = this.startWorker();
    const slot: Slot = { worker, pending: new Map(), answered: false };
    worker.unref();
    worker.on('message', (reply: DecodeReply) => {
      const p = slot.pending.get(reply.id);
      if (!p) return;
      slot.answered = true;
      slot.pending.delete(reply.id);
      if (slot.pending.size === 0) worker.unref();
      if (reply.ok) p.resolve(reply.value);
      else p.reject(reply.decodeError ? new DecodeError(reply.message) : new Error(reply.message));
    });
    const fail = (err: Error) => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      const pending = [...slot.pending.values()];
      slot.pending.clear();
      if (!slot.answered && !this.closed) {
        // It never started: decode here from now on, beginning with the files it was given.
        this.inProcess = true;
        for (const p of pending) decodeImage(p.filePath, p.options).then(p.resolve, p.reject);
        return;
      }
      // A worker that dies mid-import takes its files with it: they fail with the reason, the next file gets a new one.
      for (const p of pending) p.reject(new Error(`decode worker stopped: ${err.message}`));
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    this.slots.push(slot);
    return slot;
  }
}

function newWorker(): Worker {
  return spawnWorker(new URL('./decode-worker.js', import.meta.url), { stdout: false, stderr: false });
}

let shared: DecodePool | null = null;

/** The process-wide pool that imports use. */
export function sharedDecodePool(): DecodePool {
  shared ??= new DecodePool();
  return shared;
}
