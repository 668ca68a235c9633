import type { Worker } from 'node:worker_threads';
import { mulberry32, shuffleInPlace } from '../common/random.js';
import type { DecodeReply, DecodeRequest } from './decode-worker.js';
import { spawnWorker } from './spawn.js';

export interface DataLoaderOptions {
  paths: string[];
  /** one per path; batches carry the labels of their images */
  labels?: (number | null)[];
  imageSize: number;
  batchSize: number;
  seed: number;
  /** decoded batches kept ready ahead of the consumer (default 3) */
  prefetch?: number;
  /** decode worker threads (default 1: on 2 cores the other one trains) */
  workers?: number;
  /** drop a last batch smaller than batchSize (training wants equal batches; default false) */
  dropLast?: boolean;
  /** shuffle per epoch (default true; evaluation passes false) */
  shuffle?: boolean;
}

export interface Batch {
  /** NHWC float32 in [0, 1], n × imageSize × imageSize × 3 */
  x: Float32Array;
  n: number;
  /** positions in `paths` of the batch's images */
  indices: number[];
  labels?: (number | null)[];
  /** batch positions that failed to decode (black), with the reason */
  failed: { index: number; reason: string }[];
}

export interface LoaderStats {
  batches: number;
  /** time the consumer spent waiting for a batch that was not ready */
  waitMs: number;
  /** wall time from the epoch's start to its last batch handed over */
  totalMs: number;
  /** waitMs / totalMs: the share of time the device waited on decoding */
  waitShare: number;
}

function newDecodeWorker(): Worker {
  return spawnWorker(new URL('./decode-worker.js', import.meta.url));
}

interface Pending {
  resolve: (reply: DecodeReply) => void;
  reject: (err: Error) => void;
}

/**
 * Decodes catalog images with sharp in worker threads and keeps `prefetch` batches in flight, so a training
 * step never waits on JPEG decoding when the workers keep up. Order per epoch is a seeded shuffle: the same
 * (seed, epoch) gives the same batches on every run.
 */
export class DataLoader {
  private readonly opts: Required<Omit<DataLoaderOptions, 'labels'>> & { labels?: (number | null)[] };
  private workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private lastStats: LoaderStats = { batches: 0, waitMs: 0, totalMs: 0, waitShare: 0 };

  constructor(options: DataLoaderOptions) {
    const { paths, labels, imageSize, batchSize, seed } = options;
    if (!Array.isArray(paths) || paths.length === 0) throw new Error('DataLoader needs at least one image path');
    if (labels && labels.length !== paths.length) throw new Error(`DataLoader: ${labels.length} labels for ${paths.length} paths`);
    if (!Number.isInteger(imageSize) || imageSize < 1 || imageSize > 4096) throw new Error(`DataLoader: imageSize must be 1–4096, got ${imageSize}`);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(seed)) throw new Error(`DataLoader: seed must be an integer, got ${seed}`);
    const prefetch = options.prefetch ?? 3;
    const workers = options.workers ?? 1;
    if (!Number.isInteger(prefetch) || prefetch < 1) throw new Error(`DataLoader: prefetch must be ≥ 1, got ${prefetch}`);
    if (!Number.isInteger(workers) || workers < 1) throw new Error(`DataLoader: workers must be ≥ 1, got ${workers}`);
    this.opts = { paths, imageSize, batchSize, seed, prefetch, workers, dropLast: options.dropLast ?? false, shuffle: options.shuffle ?? true, ...(labels ? { labels } : {}) };
  }

  get size(): number {
    return this.opts.paths.length;
  }

  batchesPerEpoch(): number {
    const { batchSize, dropLast } = this.opts;
    return dropLast ? Math.floor(this.size / batchSize) : Math.ceil(this.size / batchSize);
  }

  /** The order of image positions in epoch e. */
  order(epoch: number): number[] {
    const idx = Array.from({ length: this.size }, (_, i) => i);
    if (!this.opts.shuffle) return idx;
    // Mix epoch into the seed so consecutive epochs are unrelated permutations.
    return shuffleInPlace(idx, mulberry32((Math.imul(this.opts.seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(epoch + 1, 0x85ebca6b)) >>> 0));
  }

  /** Stats of the most recent (or current) epoch. */
  stats(): LoaderStats {
    return { ...this.lastStats };
  }

  async *epoch(e: number): AsyncGenerator<Batch> {
    if (this.closed) throw new Error('DataLoader is closed');
    this.ensureWorkers();
    const { batchSize, prefetch, labels } = this.opts;
    const order = this.order(e);
    const count = this.batchesPerEpoch();
    const slices = Array.from({ length: count }, (_, b) => order.slice(b * batchSize, (b + 1) * batchSize));
    const inFlight: { indices: number[]; reply: Promise<DecodeReply>; ready: boolean }[] = [];
    let next = 0;
    const launch = () => {
      while (inFlight.length < prefetch && next < count) {
        const indices = slices[next]!;
        const entry = { indices, reply: this.request(next, indices), ready: false };
        entry.reply.then(() => (entry.ready = true), () => (entry.ready = true));
        inFlight.push(entry);
        next++;
      }
    };
    const stats: LoaderStats = { batches: 0, waitMs: 0, totalMs: 0, waitShare: 0 };
    this.lastStats = stats;
    const start = performance.now();
    try {
      launch();
      while (inFlight.length > 0) {
        const head = inFlight.shift()!;
        const t0 = performance.now();
        const reply = await head.reply;
        if (!head.ready) stats.waitMs += performance.now() - t0;
        launch();
        stats.batches++;
        stats.totalMs = performance.now() - start;
        stats.waitShare = stats.totalMs > 0 ? stats.waitMs / stats.totalMs : 0;
        yield {
          x: reply.x,
          n: head.indices.length,
          indices: head.indices,
          ...(labels ? { labels: head.indices.map((i) => labels[i] ?? null) } : {}),
          failed: reply.failed.map((f) => ({ index: head.indices[f.at]!, reason: f.reason })),
        };
      }
      stats.totalMs = performance.now() - start;
      stats.waitShare = stats.totalMs > 0 ? stats.waitMs / stats.totalMs : 0;
    } finally {
      // A consumer that stops early leaves requests in flight; their replies are dropped when they arrive.
      for (const entry of inFlight) entry.reply.catch(() => undefined);
    }
  }

  /** Terminates the decode workers; pending batches reject. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const workers = this.workers;
    this.workers = [];
    for (const p of this.pending.values()) p.reject(new Error('DataLoader closed'));
    this.pending.clear();
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private request(batchNo: number, indices: number[]): Promise<DecodeReply> {
    const worker = this.workers[batchNo % this.workers.length]!;
    const id = this.nextId++;
    const req: DecodeRequest = { id, paths: indices.map((i) => this.opts.paths[i]!), size: this.opts.imageSize };
    return new Promise<DecodeReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.holdProcess();
      worker.postMessage(req);
    });
  }

  private ensureWorkers(): void {
    if (this.workers.length > 0) return;
    for (let i = 0; i < this.opts.workers; i++) {
      const worker = newDecodeWorker();
      worker.on('message', (msg: DecodeReply | { id: number; error: string }) => {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        this.holdProcess();
        if ('error' in msg) p.reject(new Error(`decode worker failed: ${msg.error}`));
        else p.resolve(msg);
      });
      worker.on('error', (err) => this.failAll(new Error(`decode worker crashed: ${err.message}`)));
      worker.on('exit', (code) => {
        if (!this.closed && code !== 0) this.failAll(new Error(`decode worker exited with code ${code}`));
      });
      worker.unref();
      this.workers.push(worker);
    }
  }

  /**
   * Workers keep the process alive only while a batch is being decoded: a consumer awaiting a batch must not see
   * the process exit under it, and a loader someone forgot to close must not keep a finished CLI running.
   */
  private holdProcess(): void {
    for (const w of this.workers) {
      if (this.pending.size > 0) w.ref();
      else w.unref();
    }
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.holdProcess();
  }
}
