import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { augmentBatch } from '../../augment/index.js';
import { parsePipelineSpec } from '../../../shared/contract/augment.js';
import { initBackend } from '../../compute/index.js';
import { ImageCache } from './image-cache.js';
import type { BatchReply, BatchRequest, BatchWorkerData } from './batch-queue.js';

/**
 * The batch-preparation thread of a run: reads the shared decoded images, converts a batch to floats and, when the
 * run trains on a CPU backend (wasm, cpu), augments it here with the same backend and seed the training thread
 * would use, so batch i+1 is prepared on the second core while step i trains. Replies carry plain arrays only.
 */
if (!parentPort) throw new Error('batch-worker.ts runs as a worker thread');
const port = parentPort;

/** A typed array that owns its whole buffer, so it can be transferred. */
function owned(a: Float32Array): Float32Array {
  return a.byteOffset === 0 && a.buffer.byteLength === a.byteLength && a.buffer instanceof ArrayBuffer ? a : a.slice();
}

interface Setup {
  data: BatchWorkerData;
  cache: ImageCache;
  pipeline: ReturnType<typeof parsePipelineSpec>;
}

async function prepare({ data, cache, pipeline }: Setup, { id, indices, seed }: BatchRequest): Promise<BatchReply> {
  const x = cache.batch(indices);
  if (!data.augmentOn) return { id, x };
  const views = tf.tidy(() => augmentBatch(tf.tensor4d(x, [indices.length, data.size, data.size, 3]), pipeline, seed));
  try {
    const out: { data: Float32Array; shape: [number, number, number, number] }[] = [];
    for (const v of views) out.push({ data: owned((await v.data()) as Float32Array), shape: v.shape });
    return { id, views: out };
  } finally {
    tf.dispose(views);
  }
}

// The thread starts (and loads tfjs) before the run knows its images and backend; the first message says them.
// Requests are served one at a time, in order: the queue keeps `depth` of them waiting here.
let chain: Promise<Setup | null> | null = null;
port.on('message', (msg: { setup: BatchWorkerData } | BatchRequest) => {
  if ('setup' in msg) {
    const data = msg.setup;
    chain = (async () => {
      try {
        const cache = ImageCache.fromShared(data.buffer, data.size, data.count);
        const pipeline = parsePipelineSpec(data.pipeline);
        if (data.augmentOn) await initBackend({ prefer: data.augmentOn, skipTrainCheck: true });
        port.postMessage({ id: 0, ready: true });
        return { data, cache, pipeline };
      } catch (err) {
        port.postMessage({ id: 0, error: `the batch worker cannot start${data.augmentOn ? ` ${data.augmentOn}` : ''}: ${(err as Error).message}` });
        return null;
      }
    })();
    return;
  }
  if (!chain) {
    port.postMessage({ id: msg.id, error: 'the batch worker got a request before its setup' });
    return;
  }
  chain = chain.then(async (setup) => {
    if (!setup) {
      port.postMessage({ id: msg.id, error: 'the batch worker failed to start' });
      return setup;
    }
    try {
      const reply = await prepare(setup, msg);
      const transfer = 'x' in reply ? [reply.x.buffer as ArrayBuffer] : reply.views.map((v) => v.data.buffer as ArrayBuffer);
      port.postMessage(reply, transfer);
    } catch (err) {
      port.postMessage({ id: msg.id, error: err instanceof Error ? err.message : String(err) });
    }
    return setup;
  });
});
