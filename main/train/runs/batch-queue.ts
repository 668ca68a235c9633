import type { Worker } from 'node:worker_threads';
import { spawnWorker } from '../../data/spawn.js';
import type { ImageCache } from './image-cache.js';

/** One training batch to prepare: which images, and the augmentation seed of its step. */
export interface BatchJob {
  step: number;
  epoch: number;
  batchInEpoch: number;
  indices: Uint32Array;
  seed: number;
}

export type PreparedViews = { data: Float32Array; shape: [number, number, number, number] }[];

/** A job done: augmented views (CPU backends) or the plain float batch, to augment on the device. */
export type PreparedBatch = BatchJob & ({ views: PreparedViews } | { x: Float32Array });

export interface BatchWorkerData {
  buffer: SharedArrayBuffer;
  size: number;
  count: number;
  pipeline: Record<string, unknown>;
  /** the backend the worker augments with, or null to hand back float batches for the device to augment */
  augmentOn: 'native' | 'wasm' | 'cpu' | null;
}
export interface BatchRequest {
  id: number;
  indices: Uint32Array;
  seed: number;
}
export type BatchReply = { id: number; x: Float32Array } | { id: number; views: PreparedViews };
type WorkerReply = BatchReply | { id: number; error: string } | { id: 0; ready: true };

interface InFlight {
  job: BatchJob;
  reply: Promise<BatchReply>;
}

/**
 * A prefetch queue of prepared batches: a worker thread prepares the next `depth` jobs of the schedule while the
 * training thread trains, and next() hands them over in schedule order. The schedule is a pure function of the
 * run's counters, so dropping what was prefetched (pause, stop, kill) loses nothing: a resume rebuilds the same
 * jobs from the checkpoint.
 */
export class BatchQueue {
  private readonly pending = new Map<number, { resolve: (r: BatchReply) => void; reject: (e: Error) => void }>();
  private readonly inFlight: InFlight[] = [];
  private nextId = 1;
  private failure: Error | null = null;
  private closed = false;

  private constructor(
    private readonly worker: Worker,
    private readonly jobs: Iterator<BatchJob>,
    private readonly depth: number,
  ) {}

  /**
   * Starts a batch worker thread now, before the run's images and backend are known: it loads tfjs meanwhile, so
   * its start-up overlaps decoding and building the method. Hand it to open().
   */
  static spawnWorker(): Worker {
    return spawnWorker(new URL('./batch-worker.js', import.meta.url));
  }

  /** Sets up the worker (spawning one unless given; it loads its backend first) and begins prefetching. */
  static async open(options: {
    cache: ImageCache;
    pipeline: Record<string, unknown>;
    augmentOn: BatchWorkerData['augmentOn'];
    jobs: Iterator<BatchJob>;
    depth?: number;
    worker?: Worker;
  }): Promise<BatchQueue> {
    const depth = options.depth ?? 2;
    const worker = options.worker ?? BatchQueue.spawnWorker();
    if (!Number.isInteger(depth) || depth < 1) {
      await worker.terminate();
      throw new Error(`BatchQueue: depth must be ≥ 1, got ${depth}`);
    }
    const { cache } = options;
    const setup: BatchWorkerData = { buffer: cache.buffer, size: cache.size, count: cache.count, pipeline: options.pipeline, augmentOn: options.augmentOn };
    const queue = new BatchQueue(worker, options.jobs, depth);
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (msg: WorkerReply) => {
        if ('ready' in msg) return resolve();
        if (msg.id === 0 && 'error' in msg) return reject(new Error(msg.error));
        queue.settle(msg);
      });
      worker.on('error', (err) => {
        reject(err);
        queue.fail(new Error(`the batch worker crashed: ${err.message}`));
      });
      worker.on('exit', (code) => {
        reject(new Error(`the batch worker exited with code ${code}`));
        if (!queue.closed) queue.fail(new Error(`the batch worker exited with code ${code}`));
      });
      worker.postMessage({ setup });
    }).catch(async (err: unknown) => {
      await queue.close();
      throw err;
    });
    queue.fill();
    return queue;
  }

  /** The next batch of the schedule, or null when the schedule has ended. */
  async next(): Promise<PreparedBatch | null> {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error('BatchQueue is closed');
    this.fill();
    const head = this.inFlight.shift();
    if (!head) return null;
    const reply = await head.reply;
    this.fill();
    return 'x' in reply ? { ...head.job, x: reply.x } : { ...head.job, views: reply.views };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new Error('BatchQueue is closed'));
    await this.worker.terminate();
  }

  private fill(): void {
    while (!this.closed && !this.failure && this.inFlight.length < this.depth) {
      const it = this.jobs.next();
      if (it.done) return;
      const job = it.value;
      const id = this.nextId++;
      const reply = new Promise<BatchReply>((resolve, reject) => this.pending.set(id, { resolve, reject }));
      // a batch prefetched but never asked for (stop, failure) must not surface as an unhandled rejection
      reply.catch(() => undefined);
      this.inFlight.push({ job, reply });
      const req: BatchRequest = { id, indices: job.indices, seed: job.seed };
      this.worker.postMessage(req);
    }
  }

  private settle(msg: BatchReply | { id: number; error: string }): void {
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if ('error' in msg) p.reject(new Error(`batch preparation failed: ${msg.error}`));
    else p.resolve(msg);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
