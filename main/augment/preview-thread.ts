import type { Worker } from 'node:worker_threads';
import type { PipelineSpec } from '../../shared/contract/augment.js';
import type { BackendPreference } from '../compute/index.js';
import { spawnWorker } from '../data/spawn.js';

export interface PreviewWorkerData {
  backend: BackendPreference;
}
export interface AugmentViewsRequest {
  id: number;
  pixels: Float32Array;
  shape: [number, number, number, 3];
  spec: PipelineSpec;
  /** one augmentBatch call per round: its seed and the views it needs */
  rounds: AugmentRound[];
}
export interface AugmentRound {
  seed: number;
  views: number[];
}
export interface AugmentedViews {
  id: number;
  /** per round, per requested view: NHWC 8-bit RGB (toBytes), a quarter of the floats to pass back */
  rounds: Uint8Array[][];
  backend: string;
}
export type AugmentViewsReply = AugmentedViews | { id: number; error: string };

/**
 * The client side of preview-worker.ts: one long-lived worker thread (its backend is loaded once), started on the
 * first request. A crashed or exited worker fails what was waiting and is started again on the next request.
 */
export class PreviewThread {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, { resolve: (r: { rounds: Uint8Array[][]; backend: string }) => void; reject: (e: Error) => void }>();
  private nextId = 1;

  constructor(private readonly backend: BackendPreference) {}

  augment(pixels: Float32Array, shape: AugmentViewsRequest['shape'], spec: PipelineSpec, rounds: AugmentRound[]): Promise<{ rounds: Uint8Array[][]; backend: string }> {
    const worker = this.start();
    const id = this.nextId++;
    const reply = new Promise<{ rounds: Uint8Array[][]; backend: string }>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    const req: AugmentViewsRequest = { id, pixels, shape, spec, rounds };
    worker.ref();
    worker.postMessage(req);
    return reply;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.fail(new Error('the preview thread is closed'));
    if (worker) await worker.terminate();
  }

  /** Starts the worker if it is not running (its backend loads in the background). */
  start(): Worker {
    if (this.worker) return this.worker;
    const worker = spawnWorker(new URL('./preview-worker.js', import.meta.url), { backend: this.backend } satisfies PreviewWorkerData);
    // an idle preview thread must not keep a CLI or test process alive
    worker.unref();
    worker.on('message', (msg: AugmentViewsReply) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (this.pending.size === 0) worker.unref();
      if ('error' in msg) p.reject(new Error(msg.error));
      else p.resolve({ rounds: msg.rounds, backend: msg.backend });
    });
    const lost = (why: string) => {
      if (this.worker === worker) this.worker = null;
      this.fail(new Error(`the preview thread ${why}`));
    };
    worker.on('error', (err) => lost(`crashed: ${err.message}`));
    worker.on('exit', (code) => lost(`exited with code ${code}`));
    this.worker = worker;
    return worker;
  }

  private fail(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
