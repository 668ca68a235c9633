import { parentPort, workerData } from 'node:worker_threads';
import { parsePipelineSpec } from '../../shared/contract/augment.js';
import { initBackend } from '../compute/index.js';
import { augmentRounds } from './preview-rounds.js';
import type { AugmentedViews, AugmentViewsRequest, PreviewWorkerData } from './preview-thread.js';

/**
 * The designer preview's augmentation thread: augmentBatch on its own tfjs backend, so the server's main thread
 * keeps answering while a preview computes. The same code and seeds as the training data path; only plain arrays
 * cross the thread boundary.
 */
if (!parentPort) throw new Error('preview-worker.ts runs as a worker thread');
const port = parentPort;
const { backend: prefer } = workerData as PreviewWorkerData;

async function augment(backend: string, { id, pixels, shape, spec, rounds }: AugmentViewsRequest): Promise<AugmentedViews> {
  return { id, rounds: await augmentRounds(pixels, shape, parsePipelineSpec(spec), rounds), backend };
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
