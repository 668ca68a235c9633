import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/compute/backend.js';
import { createPooledOnnxEmbedder } from '../../../main/evaluate/ort-pool.js';
import { encoderToOnnx } from '../../../main/onnx/encoder.js';
import { createOnnxEmbedderFromBytes } from '../../../main/onnx/runtime.js';
import { createBackbone } from '../../../main/train/models/index.js';

const SIZE = 32;
let onnx: Uint8Array;

beforeAll(async () => {
  await initBackend({ prefer: 'cpu', skipTrainCheck: true });
  const model = createBackbone('small', { imageSize: SIZE, seed: 5 });
  onnx = encoderToOnnx({ backbone: 'small', imageSize: SIZE, tensors: await model.getState() });
  model.dispose();
}, 60_000);
afterAll(() => delete process.env.CURIO_ORT_WORKERS);

function images(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n * SIZE * SIZE * 3 }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 8) / 2 ** 24);
}

describe('createPooledOnnxEmbedder', () => {
  it('gives what one session on the calling thread gives, with the batch split over 2 worker threads, odd sizes too', async () => {
    const local = await createOnnxEmbedderFromBytes(onnx, { threads: 1 });
    const pooled = await createPooledOnnxEmbedder(onnx, { threads: 2 });
    try {
      expect(pooled.workers).toBe(2);
      expect([pooled.imageSize, pooled.dim]).toEqual([local.imageSize, local.dim]);
      for (const n of [1, 5, 64]) {
        const x = images(n, n);
        const kept = x.slice();
        const [want, got] = await Promise.all([local.embed(x, n), pooled.embed(x, n)]);
        // the caller's array is left as it was
        expect(x).toEqual(kept);
        expect(got.length).toBe(n * local.dim);
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / (1e-3 + Math.abs(want[i]!)));
        expect(worst).toBeLessThan(1e-5);
      }
      // two batches at once, as the embedding job keeps them in flight
      const [a, b] = await Promise.all([pooled.embed(images(7, 1), 7), pooled.embed(images(9, 2), 9)]);
      expect(a.slice(0, local.dim)).toEqual((await pooled.embed(images(7, 1), 7)).slice(0, local.dim));
      expect(b.length).toBe(9 * local.dim);
      await expect(pooled.embed(new Float32Array(10), 1)).rejects.toThrow(/expected 1×32×32×3/);
    } finally {
      await Promise.all([local.close(), pooled.close()]);
    }
  }, 60_000);

  it('lets a forward pass in flight finish when the embedder is closed, and refuses one after', async () => {
    const pooled = await createPooledOnnxEmbedder(onnx, { threads: 2 });
    expect(pooled.workers).toBe(2);
    const inFlight = pooled.embed(images(256, 9), 256).then(
      () => 'finished',
      (e: Error) => e.message,
    );
    await pooled.close();
    const outcome = await Promise.race([inFlight, new Promise((r) => setTimeout(() => r('hung'), 10_000))]);
    // close waits for the run: terminating a worker inside a native run would abort the process
    expect(outcome).toBe('finished');
    await expect(pooled.embed(images(1, 1), 1)).rejects.toThrow(/closed/);
  }, 60_000);

  it('keeps the calling-thread session for one thread, or CURIO_ORT_WORKERS=0, and fails on a bad model as before', async () => {
    const one = await createPooledOnnxEmbedder(onnx, { threads: 1 });
    expect(one.workers).toBe(0);
    await one.close();
    process.env.CURIO_ORT_WORKERS = '0';
    const off = await createPooledOnnxEmbedder(onnx, { threads: 2 });
    expect(off.workers).toBe(0);
    expect((await off.embed(images(2, 3), 2)).length).toBe(2 * off.dim);
    await off.close();
    delete process.env.CURIO_ORT_WORKERS;
    await expect(createPooledOnnxEmbedder(new Uint8Array([1, 2, 3]), { threads: 2 }, 'junk.onnx')).rejects.toThrow(/cannot load ONNX encoder junk.onnx/);
  }, 60_000);
});
