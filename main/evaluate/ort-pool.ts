import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { invalid } from '../common/errors.js';
import { createOnnxEmbedderFromBytes, type OnnxEmbedder, type OnnxEmbedderOptions } from '../onnx/runtime.js';
import type { OrtReply, OrtRequest, OrtWorkerData } from './ort-worker.js';
import { startWorker } from './worker-thread.js';

/**
 * An ONNX encoder run by one worker thread per core, each with its own session on one intra-op thread; every batch
 * is split across them. onnxruntime-node's run() is a synchronous native call on the JS thread (its promise only
 * defers it with setImmediate), so with one session on the JS thread nothing else there (JPEG decoding, storing
 * rows) overlaps a forward pass, and its intra-op threads meet at a barrier after every op. Off the JS thread and
 * one thread per session, the small CNN costs ~5–10% less CPU per image (bench/onnx) and the caller's decode runs
 * beside it. The session on the calling thread is made first, so that a bad model fails as before with its error;
 * it is kept, and used, when there are fewer than 2 cores, one thread was asked for, or a worker cannot start.
 */
export async function createPooledOnnxEmbedder(bytes: Uint8Array, options: OnnxEmbedderOptions = {}, label = 'model'): Promise<OnnxEmbedder & { workers: number }> {
  const local = await createOnnxEmbedderFromBytes(bytes, options, label);
  const count = options.threads ?? os.availableParallelism();
  if (count < 2 || process.env.CURIO_ORT_WORKERS === '0') return { ...local, workers: 0 };
  const started = await Promise.allSettled(Array.from({ length: count }, () => OrtWorkerHandle.start(bytes, label)));
  const workers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (workers.length < count) {
    await Promise.all(workers.map((w) => w.terminate()));
    return { ...local, workers: 0 };
  }
  await local.close();
  const perImage = local.imageSize * local.imageSize * 3;
  return {
    workers: workers.length,
    imageSize: local.imageSize,
    dim: local.dim,
    async embed(images, n) {
      if (!Number.isInteger(n) || n < 1 || images.length !== n * perImage) {
        throw invalid(`embed: expected ${n}×${local.imageSize}×${local.imageSize}×3 = ${n * perImage} floats, got ${images.length}`);
      }
      const parts = Math.min(workers.length, n);
      const out = new Float32Array(n * local.dim);
      let start = 0;
      await Promise.all(
        Array.from({ length: parts }, (_, k) => {
          const m = Math.floor(n / parts) + (k < n % parts ? 1 : 0);
          const from = start;
          start += m;
          // a copy: the caller keeps its array
          return workers[k]!.embed(images.slice(from * perImage, (from + m) * perImage), m).then((y) => out.set(y, from * local.dim));
        }),
      );
      return out;
    },
    close: async () => {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

class OrtWorkerHandle {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (y: Float32Array) => void; reject: (e: Error) => void }>();
  private dead: Error | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (msg: OrtReply) => {
      if (!('id' in msg)) return;
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (this.pending.size === 0) worker.unref();
      if ('error' in msg) p?.reject(new Error(msg.error));
      else p?.resolve(msg.y);
    });
    const fail = (err: Error) => {
      this.dead ??= err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', () => fail(new Error('the ONNX Runtime worker thread exited')));
  }

  static start(bytes: Uint8Array, label: string): Promise<OrtWorkerHandle> {
    const data: OrtWorkerData = { bytes, label };
    const worker = startWorker('ort-worker', { workerData: data });
    return new Promise((resolve, reject) => {
      const onMessage = (msg: OrtReply) => {
        if ('ready' in msg) {
          worker.off('message', onMessage);
          worker.off('error', reject);
          worker.unref();
          resolve(new OrtWorkerHandle(worker));
        } else if ('failed' in msg) {
          void worker.terminate();
          reject(new Error(msg.failed));
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.once('exit', () => reject(new Error('the ONNX Runtime worker thread exited before its session was ready')));
    });
  }

  embed(x: Float32Array, n: number): Promise<Float32Array> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      const req: OrtRequest = { id, x, n };
      this.worker.postMessage(req, [x.buffer as ArrayBuffer]);
    });
  }

  /** Lets runs in flight finish (a worker terminated inside a native run aborts the process), then ends the thread. */
  async terminate(): Promise<void> {
    if (this.dead) return;
    this.dead = new Error('the ONNX encoder is closed');
    this.worker.ref();
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    const req: OrtRequest = { close: true };
    this.worker.postMessage(req);
    await exited;
  }
}
