import { CancelledError } from '../common/errors.js';

/**
 * Long numeric loops (the L-BFGS fits of the linear probe) are written once, as generators that yield between
 * units of work, and driven two ways: `runSteps` to the end on the calling thread (tests, benches, a worker), or
 * `runStepsAsync`, which hands the event loop back every few milliseconds and stops at the next yield once the
 * signal aborts. Under `curio serve` the probe runs on the main thread, so that is what keeps the WebSocket
 * (progress events, a cancel request) answered during a fit.
 *
 * A step yields nothing (a point where it may pause), or asks to wait on shared memory (worker threads starting):
 * the sync driver blocks in Atomics.wait, the async one awaits Atomics.waitAsync.
 */
export interface SharedWait {
  array: Int32Array;
  index: number;
  /** wait while array[index] still holds this value */
  value: number;
  timeoutMs: number;
}

export type Pause = SharedWait | undefined;
export type Steps<T> = Generator<Pause, T, void>;

export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (r.value) Atomics.wait(r.value.array, r.value.index, r.value.value, r.value.timeoutMs);
  }
}

export interface AsyncStepOptions {
  signal?: AbortSignal | undefined;
  /** Longest stretch of steps between two returns to the event loop. */
  sliceMs?: number;
}

type WaitAsync = (array: Int32Array, index: number, value: number, timeoutMs: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;

/**
 * Drives `steps` to the end, returning to the event loop at least every `sliceMs` (default 20). Once the signal
 * aborts, CancelledError is thrown into the generator at the yield it stopped at, so its `finally` blocks run
 * (worker threads are stopped) before the promise rejects with it.
 */
export async function runStepsAsync<T>(steps: Steps<T>, options: AsyncStepOptions = {}): Promise<T> {
  const sliceMs = options.sliceMs ?? 20;
  const signal = options.signal;
  let sliceStart = performance.now();
  let r = steps.next();
  for (;;) {
    if (r.done) return r.value;
    const wait = r.value;
    if (wait) {
      if (waitAsync) {
        const w = waitAsync(wait.array, wait.index, wait.value, wait.timeoutMs);
        if (w.async) await w.value;
      } else {
        await new Promise((resolve) => setTimeout(resolve, Math.min(wait.timeoutMs, 5)));
      }
      sliceStart = performance.now();
    } else if (performance.now() - sliceStart >= sliceMs) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
    if (signal?.aborted) {
      // throw() runs the generator's finally blocks and rethrows here (unless the generator swallowed it)
      r = steps.throw(new CancelledError());
      continue;
    }
    r = steps.next();
  }
}
