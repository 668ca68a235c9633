import { parentPort, workerData } from 'node:worker_threads';
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
const data = workerData as BatchWorkerData;
const cache = ImageCache.fromShared(data.buffer, data.size, data.count);
const pipeline = parsePipelineSpec(data.pipeline);

/** A typed array that owns its whole buffer, so it can be transferred. */
function owned(a: Float32Array): Float32Array {
  return a.byteOffset === 0 && a.buffer.byteLength === a.byteLength && a.buffer instanceof ArrayBuffer ? a : a.slice();
}

async function prepare({ id, indices, seed }: BatchRequest): Promise<BatchReply> {
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

const ready = data.augmentOn ? initBackend({ prefer: data.augmentOn, skipTrainCheck: true }).then(() => undefined) : Promise.resolve();
// requests are served one at a time, in order: the queue keeps `depth` of them waiting here
let chain: Promise<void> = ready.then(
  () => port.postMessage({ id: 0, ready: true }),
  (err: unknown) => port.postMessage({ id: 0, error: `the batch worker cannot start ${data.augmentOn}: ${(err as Error).message}` }),
);
port.on('message', (req: BatchRequest) => {
  chain = chain.then(() =>
    prepare(req).then(
      (reply) => {
        const transfer = 'x' in reply ? [reply.x.buffer as ArrayBuffer] : reply.views.map((v) => v.data.buffer as ArrayBuffer);
        port.postMessage(reply, transfer);
      },
      (err: unknown) => port.postMessage({ id: req.id, error: err instanceof Error ? err.message : String(err) }),
    ),
  );
});
