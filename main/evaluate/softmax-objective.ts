import { Worker } from 'node:worker_threads';
import { softmaxLossGradRange } from './softmax-kernel.js';
import { CONTROL, type SoftmaxWorkerData, workerRows } from './softmax-shared.js';
import { runSteps, type Steps } from './steps.js';
import { spawnModuleWorker } from './workers.js';

/** The regularised multinomial logistic objective over the first `rows` rows of a standardised matrix. */
export interface SoftmaxObjective {
  /** Writes ∇f into grad and returns f = (1/rows) Σ nll + (l2/2) ‖W‖² for params = [W (C×D) | b (C)]. */
  evaluate(params: Float64Array, grad: Float64Array, rows: number, l2: number): number;
  /** Threads that share the work (1 when workers could not start). */
  readonly threads: number;
  close(): void;
}

const WORKER_READY_TIMEOUT_MS = 60_000;

/**
 * With threads > 1, worker threads each take a slice of the rows. They stay blocked in Atomics.wait between
 * evaluations, so one evaluation costs two notifies rather than a message round trip, and the objective can stay
 * synchronous (L-BFGS calls it in a tight loop). X and labels must live in SharedArrayBuffers to be shared;
 * other arrays are copied once.
 */
export function createSoftmaxObjective(X: Float32Array, labels: Int32Array, dim: number, numClasses: number, threads: number): SoftmaxObjective {
  return runSteps(softmaxObjectiveSteps(X, labels, dim, numClasses, threads));
}

/** The objective's start as steps: waiting for the worker threads is a shared-memory wait a driver may await. */
export function* softmaxObjectiveSteps(X: Float32Array, labels: Int32Array, dim: number, numClasses: number, threads: number): Steps<SoftmaxObjective> {
  const C = numClasses;
  const nParams = C * dim + C;
  const z = new Float64Array(4 * C);
  const local = (params: Float64Array, grad: Float64Array, start: number, end: number): number => {
    grad.fill(0);
    return softmaxLossGradRange(X, labels, dim, C, start, end, params.subarray(0, C * dim), params.subarray(C * dim), grad.subarray(0, C * dim), grad.subarray(C * dim), z);
  };
  if (threads <= 1) {
    return {
      threads: 1,
      evaluate(params, grad, rows, l2) {
        return finish(local(params, grad, 0, rows), params, grad, rows, l2, C * dim);
      },
      close() {},
    };
  }

  const sharedX = X.buffer instanceof SharedArrayBuffer ? X : copyToShared(X, Float32Array);
  const sharedLabels = labels.buffer instanceof SharedArrayBuffer ? labels : copyToShared(labels, Int32Array);
  const control = new Int32Array(new SharedArrayBuffer(CONTROL.length * 4));
  const sharedParams = new Float64Array(new SharedArrayBuffer(nParams * 8));
  const losses = new Float64Array(new SharedArrayBuffer(threads * 8));
  const grads: Float64Array[] = [];
  const workers: Worker[] = [];
  for (let t = 1; t < threads; t++) {
    const grad = new Float64Array(new SharedArrayBuffer(nParams * 8));
    grads.push(grad);
    const data: SoftmaxWorkerData = { control, X: sharedX, labels: sharedLabels, dim, numClasses: C, params: sharedParams, grad, losses, index: t, threads };
    workers.push(spawnModuleWorker(new URL('./softmax-worker.js', import.meta.url), data));
  }
  const stopWorkers = () => {
    Atomics.store(control, CONTROL.stop, 1);
    Atomics.add(control, CONTROL.generation, 1);
    Atomics.notify(control, CONTROL.generation);
    for (const w of workers) void w.terminate();
  };
  // Wait until every worker is waiting for work; if they cannot start, run on this thread alone. The wait is in
  // short slices so an async driver can notice a cancel while workers start.
  const deadline = Date.now() + WORKER_READY_TIMEOUT_MS;
  try {
    for (let ready = Atomics.load(control, CONTROL.ready); ready < threads - 1; ready = Atomics.load(control, CONTROL.ready)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        stopWorkers();
        return createSoftmaxObjective(X, labels, dim, numClasses, 1);
      }
      yield { array: control, index: CONTROL.ready, value: ready, timeoutMs: Math.min(left, 100) };
    }
  } catch (err) {
    stopWorkers();
    throw err;
  }

  let closed = false;
  return {
    threads,
    evaluate(params, grad, rows, l2) {
      if (closed) throw new Error('softmax objective: evaluate after close');
      sharedParams.set(params);
      Atomics.store(control, CONTROL.rows, rows);
      Atomics.store(control, CONTROL.done, 0);
      Atomics.add(control, CONTROL.generation, 1);
      Atomics.notify(control, CONTROL.generation);
      const [start, end] = workerRows(rows, 0, threads);
      let lossSum = local(params, grad, start, end);
      for (let done = Atomics.load(control, CONTROL.done); done < threads - 1; done = Atomics.load(control, CONTROL.done)) {
        Atomics.wait(control, CONTROL.done, done);
      }
      if (Atomics.load(control, CONTROL.failed) !== 0) throw new Error('softmax objective: a worker thread failed');
      for (let t = 1; t < threads; t++) {
        lossSum += losses[t]!;
        const g = grads[t - 1]!;
        for (let j = 0; j < nParams; j++) grad[j] = grad[j]! + g[j]!;
      }
      return finish(lossSum, params, grad, rows, l2, C * dim);
    },
    close() {
      if (closed) return;
      closed = true;
      stopWorkers();
    },
  };
}

function copyToShared<T extends Float32Array | Int32Array>(src: T, Ctor: { new (buffer: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number }): T {
  const out = new Ctor(new SharedArrayBuffer(src.length * Ctor.BYTES_PER_ELEMENT));
  out.set(src);
  return out;
}

function finish(lossSum: number, params: Float64Array, grad: Float64Array, rows: number, l2: number, nW: number): number {
  const inv = 1 / rows;
  let reg = 0;
  for (let j = 0; j < nW; j++) {
    const w = params[j]!;
    reg += w * w;
    grad[j] = grad[j]! * inv + l2 * w;
  }
  for (let j = nW; j < grad.length; j++) grad[j] = grad[j]! * inv;
  return lossSum * inv + 0.5 * l2 * reg;
}
