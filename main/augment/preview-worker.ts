import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { parsePipelineSpec } from '../../shared/contract/augment.js';
import { initBackend } from '../compute/index.js';
import { toBytes } from './bytes.js';
import { augmentBatch } from './ops.js';
import type { AugmentedViews, AugmentViewsRequest, PreviewWorkerData } from './preview-thread.js';

/**
 * The designer preview's augmentation thread: augmentBatch on its own tfjs backend, so the server's main thread
 * keeps answering while a preview computes. The same code and seeds as the training data path; only plain arrays
 * cross the thread boundary.
 */
if (!parentPort) throw new Error('preview-worker.ts runs as a worker thread');
const port = parentPort;
const { backend: prefer } = workerData as PreviewWorkerData;

async function augment(backend: string, { id, pixels, shape, spec, rounds: wanted }: AugmentViewsRequest): Promise<AugmentedViews> {
  const parsed = parsePipelineSpec(spec);
  const x = tf.tensor4d(pixels, shape);
  try {
    const rounds: Uint8Array[][] = [];
    for (const { seed, views: only } of wanted) {
      const views = augmentBatch(x, parsed, seed, { only });
      try {
        rounds.push(await Promise.all(views.map(async (v) => {
          const data = (await v.data()) as Float32Array;
          return toBytes(data, 0, data.length, 3);
        })));
      } finally {
        tf.dispose(views);
      }
    }
    return { id, rounds, backend };
  } finally {
    x.dispose();
  }
}

const ready = initBackend({ prefer, skipTrainCheck: true }).then((b) => b.backend);
// one request at a time, in order: the designer only waits for its latest
let chain: Promise<unknown> = ready.catch(() => undefined);
port.on('message', (req: AugmentViewsRequest) => {
  chain = chain.then(() =>
    ready.then((backend) => augment(backend, req)).then(
      (reply) => port.postMessage(reply, reply.rounds.flat().map((v) => v.buffer as ArrayBuffer)),
      (err: unknown) => port.postMessage({ id: req.id, error: err instanceof Error ? err.message : String(err) }),
    ),
  );
});
