// A loss/gradient worker of the threaded softmax objective (see softmax-objective.ts for the protocol).
import { workerData } from 'node:worker_threads';
import { softmaxLossGradRange } from './softmax-kernel.js';
import { CONTROL, type SoftmaxWorkerData, workerRows } from './softmax-shared.js';

const d = workerData as SoftmaxWorkerData;
const { control, X, labels, dim, numClasses, params, grad, losses, index, threads } = d;
const C = numClasses;
const z = new Float64Array(4 * C);
let seen = 0;
Atomics.add(control, CONTROL.ready, 1);
Atomics.notify(control, CONTROL.ready);
for (;;) {
  Atomics.wait(control, CONTROL.generation, seen);
  const generation = Atomics.load(control, CONTROL.generation);
  if (generation === seen) continue;
  seen = generation;
  if (Atomics.load(control, CONTROL.stop) !== 0) break;
  try {
    const rows = Atomics.load(control, CONTROL.rows);
    const [start, end] = workerRows(rows, index, threads);
    grad.fill(0);
    const W = params.subarray(0, C * dim);
    const b = params.subarray(C * dim);
    losses[index] = softmaxLossGradRange(X, labels, dim, C, start, end, W, b, grad.subarray(0, C * dim), grad.subarray(C * dim), z);
  } catch {
    Atomics.store(control, CONTROL.failed, 1);
  }
  Atomics.add(control, CONTROL.done, 1);
  Atomics.notify(control, CONTROL.done);
}
