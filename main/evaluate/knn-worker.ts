// A kNN search worker: one slice of the query rows (see knn.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { knnSearchRange } from './knn-kernel.js';

export interface KnnWorkerData {
  train: Float32Array;
  nTrain: number;
  test: Float32Array;
  testStart: number;
  testEnd: number;
  dim: number;
  kMax: number;
  outIndex: Int32Array;
  outSim: Float64Array;
}

const d = workerData as KnnWorkerData;
try {
  knnSearchRange(d.train, d.nTrain, d.test, d.testStart, d.testEnd, d.dim, d.kMax, d.outIndex, d.outSim);
  parentPort!.postMessage({ ok: true });
} catch (err) {
  parentPort!.postMessage({ ok: false, message: err instanceof Error ? err.message : String(err) });
}
