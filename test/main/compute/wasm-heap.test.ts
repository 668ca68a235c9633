// A tensor that does not fit in the wasm backend's 4 GiB heap used to be placed at address 0 (tfjs-backend-wasm
// never checks malloc), over the module's static data; a DINO/ViT step then died in a later kernel with
// "RuntimeError: table index is out of bounds". The allocations here are virtual (nothing is written to them), so
// the test reaches the limit without touching 4 GiB of memory.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/compute/backend.js';
import { WasmHeapExhaustedError } from '../../../main/compute/wasm-heap.js';

interface WasmBackendLike {
  write(values: null, shape: number[], dtype: 'float32'): object;
  disposeData(dataId: object, force?: boolean): boolean;
  getMemoryOffset(dataId: object): number;
}

let wasmError: string | null = null;
beforeAll(async () => {
  try {
    await initBackend({ prefer: 'wasm', skipTrainCheck: true });
  } catch (err) {
    wasmError = (err as Error).message;
  }
});
afterAll(() => tf.removeBackend('wasm'));

describe('the wasm backend when its heap is full', () => {
  it('refuses the tensor that does not fit with a clear error, and keeps working afterwards', async (ctx) => {
    if (wasmError !== null) ctx.skip(`the wasm backend cannot initialise here: ${wasmError}`);
    const backend = tf.backend() as unknown as WasmBackendLike;
    const oneGiB = [2 ** 28];
    const held: object[] = [];
    let failure: unknown = null;
    try {
      // a wasm32 heap holds at most 4 GiB, module included, so the 4th GiB cannot fit
      for (let i = 0; i < 5 && failure === null; i++) {
        try {
          const id = backend.write(null, oneGiB, 'float32');
          held.push(id);
          expect(backend.getMemoryOffset(id)).toBeGreaterThan(0);
        } catch (err) {
          failure = err;
        }
      }
    } finally {
      for (const id of held) backend.disposeData(id, true);
    }
    expect(failure).toBeInstanceOf(WasmHeapExhaustedError);
    expect((failure as Error).message).toMatch(/the wasm backend's memory is full \(\d+ MiB, wasm32's 4 GiB limit\): a 1024 MiB tensor did not fit/);
    expect(held.length).toBeGreaterThanOrEqual(2);
    expect(held.length).toBeLessThan(4);

    // nothing was written at address 0, so the module still computes (with XNNPACK) and allocates again
    const y = tf.tidy(() => tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2])).add(tf.scalar(1)));
    expect(Array.from(await y.data())).toEqual([20, 23, 44, 51]);
    y.dispose();
    const again = backend.write(null, oneGiB, 'float32');
    backend.disposeData(again, true);
  });
});
