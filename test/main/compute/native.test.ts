// The native CPU kernels (main/compute/native/curio_cpu.c) against tfjs's own cpu kernels, which they replace: every
// kernel on random shapes including strides, padding, dilation and odd sizes, then a whole training step.
// Skips with the reason where the addon is not built or no BLAS loads; CI sets CURIO_REQUIRE_NATIVE=1, so there a
// missing addon fails instead.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../main/common/random.js';
import { initBackend } from '../../../main/compute/index.js';
import { batchNormTrain, broadcastDims, loadNativeKernels, NATIVE_TF_BACKEND, registerNativeBackend, replacedKernels } from '../../../main/compute/native.js';
import { buildMlp, simclrProjector } from '../../../main/train/heads.js';
import { ntXentLoss } from '../../../main/train/losses/nt-xent.js';
import { Rng } from '../../../main/train/nn/init.js';
import { createBackbone } from '../../../main/train/models/index.js';

let unavailable: string | null = null;
try {
  loadNativeKernels();
  registerNativeBackend();
} catch (err) {
  unavailable = (err as Error).message;
  if (process.env.CURIO_REQUIRE_NATIVE === '1') throw err;
  process.stderr.write(`[native.test] skipped: ${unavailable}\n`);
}

/** Runs f on the stock cpu backend and on the native one with the same inputs; returns the largest relative error. */
async function compare(f: () => tf.Tensor | tf.Tensor[]): Promise<number> {
  const outputs: Float32Array[][] = [];
  for (const backend of ['cpu', NATIVE_TF_BACKEND]) {
    await tf.setBackend(backend);
    const r = tf.tidy(f);
    const list = Array.isArray(r) ? r : [r];
    outputs.push(list.map((t) => t.dataSync() as Float32Array));
    tf.dispose(list);
  }
  const [ref, got] = outputs as [Float32Array[], Float32Array[]];
  expect(got.length).toBe(ref.length);
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    expect(got[i]!.length).toBe(ref[i]!.length);
    let scale = 1e-6;
    for (const v of ref[i]!) if (!Number.isNaN(v)) scale = Math.max(scale, Math.abs(v));
    for (let j = 0; j < ref[i]!.length; j++) {
      const a = ref[i]![j]!;
      const b = got[i]![j]!;
      if (Number.isNaN(a) || Number.isNaN(b)) {
        expect(Number.isNaN(a) && Number.isNaN(b)).toBe(true);
        continue;
      }
      worst = Math.max(worst, Math.abs(a - b) / scale);
    }
  }
  return worst;
}

const seeded = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);

describe.skipIf(unavailable !== null)('native CPU kernels vs the stock cpu kernels', () => {
  it('replaces the hot kernels (so the comparisons below compare two implementations) and keeps every other cpu kernel', () => {
    const names = replacedKernels();
    for (const k of ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'BatchMatMul', 'Multiply', 'Sum', 'Mean', 'Relu', 'CropAndResize', 'Transpose']) {
      expect(names).toContain(k);
      expect(tf.getKernel(k, NATIVE_TF_BACKEND)!.kernelFunc).not.toBe(tf.getKernel(k, 'cpu')!.kernelFunc);
    }
    for (const config of tf.getKernelsForBackend('cpu')) expect(tf.getKernel(config.kernelName, NATIVE_TF_BACKEND), config.kernelName).toBeDefined();
  });

  it('conv2d forward and both gradients agree on random shapes, strides, paddings and dilations', async () => {
    const rand = mulberry32(7);
    const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
    const cases: { x: number[]; w: number[]; strides: number; pad: 'same' | 'valid' | number; dilation: number }[] = [
      { x: [2, 8, 8, 3], w: [3, 3, 3, 4], strides: 1, pad: 'same', dilation: 1 },
      { x: [2, 8, 8, 4], w: [1, 1, 4, 6], strides: 1, pad: 'valid', dilation: 1 }, // pointwise: no im2col
      { x: [2, 8, 8, 4], w: [1, 1, 4, 6], strides: 2, pad: 'valid', dilation: 1 }, // ResNet's strided shortcut
      { x: [3, 7, 5, 2], w: [3, 3, 2, 5], strides: 2, pad: 'same', dilation: 1 }, // odd sizes
      { x: [1, 9, 9, 3], w: [5, 3, 3, 2], strides: 3, pad: 1, dilation: 1 }, // explicit padding, rectangular kernel
      { x: [2, 9, 9, 3], w: [3, 3, 3, 2], strides: 1, pad: 'same', dilation: 2 },
    ];
    for (let i = 0; i < 6; i++) {
      const kh = int(1, 4);
      const kw = int(1, 4);
      const m = Math.max(kh, kw);
      cases.push({ x: [int(1, 3), int(m, 11), int(m, 11), int(1, 6)], w: [kh, kw, 0, int(1, 7)], strides: int(1, 3), pad: rand() < 0.5 ? 'same' : 'valid', dilation: 1 });
    }
    for (const c of cases) {
      const w = [c.w[0]!, c.w[1]!, c.x[3]!, c.w[3]!];
      const forward = await compare(() => tf.conv2d(seeded(c.x, 1) as tf.Tensor4D, seeded(w, 2) as tf.Tensor4D, c.strides, c.pad, 'NHWC', c.dilation));
      expect(forward, JSON.stringify(c)).toBeLessThan(1e-5);
      if (c.dilation !== 1) continue; // tfjs has no conv2d gradient for dilation > 1
      const grads = await compare(() =>
        tf.grads((x: tf.Tensor, f: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.strides, c.pad).square().sum())([seeded(c.x, 1), seeded(w, 2)]),
      );
      expect(grads, JSON.stringify(c)).toBeLessThan(1e-5);
    }
  });

  it('matmul agrees with transposes and batch broadcasting', async () => {
    expect(await compare(() => tf.matMul(seeded([7, 5], 1), seeded([5, 3], 2)))).toBeLessThan(1e-5);
    expect(await compare(() => tf.matMul(seeded([5, 7], 1), seeded([3, 5], 2), true, true))).toBeLessThan(1e-5);
    expect(await compare(() => tf.matMul(seeded([5, 7], 1), seeded([5, 3], 2), true, false))).toBeLessThan(1e-5);
    expect(await compare(() => tf.matMul(seeded([2, 4, 7, 5], 1), seeded([5, 3], 2)))).toBeLessThan(1e-5);
    expect(await compare(() => tf.matMul(seeded([3, 7, 5], 1), seeded([3, 3, 5], 2), false, true))).toBeLessThan(1e-5);
    expect(await compare(() => tf.matMul(seeded([1, 4], 1), seeded([4, 1], 2)))).toBeLessThan(1e-5);
  });

  it('elementwise ops agree for every broadcast pattern, and unsupported ones fall back', async () => {
    const x = () => seeded([3, 5, 4, 6], 1);
    const err = await compare(() => [
      tf.add(x(), seeded([6], 2)),
      tf.sub(seeded([1, 1, 1, 6], 2), x()),
      tf.mul(x(), seeded([3, 1, 1, 6], 3)),
      tf.div(x(), seeded([3, 5, 4, 1], 4).abs().add(0.5)),
      tf.mul(2.5, x()),
      tf.squaredDifference(x(), seeded([1, 1, 1, 6], 5)),
      tf.add(seeded([5, 1, 6], 6), x()),
      tf.mul(seeded([3, 1, 4, 1], 7), x()),
      tf.add(seeded([3, 1], 8), seeded([1, 4], 9)), // both broadcast: the stock kernel
      tf.relu(x()),
      tf.sqrt(x().abs()),
      tf.rsqrt(x().abs().add(0.1)),
      tf.exp(x()),
      tf.neg(x()),
      tf.abs(x()),
      tf.square(x()),
      tf.pow(x(), 2),
      tf.pow(x().abs(), 1.5),
      tf.step(x(), 0.3),
      tf.relu(tf.tensor1d([NaN, -1, 2])),
    ]);
    expect(err).toBeLessThan(1e-5);
  });

  it('sums and means agree over runs of adjacent axes, all axes and others', async () => {
    const x = () => seeded([3, 5, 4, 6], 1);
    const err = await compare(() => [
      tf.mean(x(), [0, 1, 2]),
      tf.sum(x(), [1, 2], true),
      tf.mean(x(), [1, 2]),
      tf.sum(x(), -1),
      tf.sum(x()),
      tf.mean(x(), [2, 3]),
      tf.sum(x(), [0, 2]), // not adjacent: stock kernel
      tf.moments(x(), [0, 1, 2]).variance,
    ]);
    expect(err).toBeLessThan(1e-5);
  });

  it('the augmentation kernels agree: transpose, mirror pad, depthwise conv, crop-and-resize, clip', async () => {
    const img = () => tf.randomUniform([3, 11, 9, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const boxes = tf.tensor2d([[0.1, 0.2, 0.9, 0.7], [0, 1, 1, 0], [-0.2, 0.1, 0.5, 1.3], [0.3, 0.3, 0.3, 0.3], [0.2, 0.1, 0.8, 0.6]]);
    const boxInd = tf.tensor1d([0, 2, 1, 1, 7], 'int32'); // 7 is out of range: that crop stays zero
    const err = await compare(() => [
      tf.transpose(img(), [0, 2, 1, 3]),
      tf.transpose(img(), [3, 0, 1, 2]),
      tf.transpose(seeded([4, 6], 2)),
      tf.transpose(seeded([2, 3, 4, 5, 2], 3), [4, 2, 0, 3, 1]),
      tf.mirrorPad(img(), [[0, 0], [2, 3], [1, 1], [0, 0]], 'reflect'),
      tf.mirrorPad(img(), [[0, 0], [3, 0], [4, 2], [0, 0]], 'symmetric'),
      tf.depthwiseConv2d(img(), seeded([5, 1, 3, 1], 4) as tf.Tensor4D, 1, 'valid'),
      tf.depthwiseConv2d(img(), seeded([3, 3, 3, 2], 5) as tf.Tensor4D, 2, 'same'),
      tf.image.cropAndResize(img(), boxes, boxInd, [7, 5], 'bilinear', 0.5),
      tf.image.cropAndResize(img(), boxes, boxInd, [4, 6], 'nearest'),
      tf.image.cropAndResize(img(), boxes, boxInd, [1, 1]),
      tf.clipByValue(seeded([5, 7], 6), -0.5, 0.8),
    ]);
    tf.dispose([boxes, boxInd]);
    expect(err).toBeLessThan(1e-5);
  });

  it('agrees on tensors large enough to be split across threads', async () => {
    // above the addon's 65,536-float grain, so the loops run in parallel parts
    const x = () => seeded([4, 32, 32, 24], 11);
    const err = await compare(() => [
      tf.conv2d(x() as tf.Tensor4D, seeded([3, 3, 24, 8], 12) as tf.Tensor4D, 1, 'same'),
      ...tf.grads((a: tf.Tensor, f: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, 2, 'same').square().sum())([x(), seeded([3, 3, 24, 8], 12)]),
      tf.mul(x(), seeded([24], 13)),
      tf.add(x(), seeded([4, 1, 1, 24], 14)),
      tf.relu(x()),
      tf.moments(x(), [0, 1, 2]).variance,
      tf.mean(x(), [1, 2]),
      tf.sum(x(), -1),
      tf.transpose(x(), [0, 3, 1, 2]),
    ]);
    expect(err).toBeLessThan(1e-5);
  });

  it('the collapsed broadcast view merges runs and refuses what does not broadcast', () => {
    expect([...broadcastDims([8, 4, 4, 32], [32])!]).toEqual([1, 1, 128, 32, 0, 0, 0, 1]);
    expect([...broadcastDims([8, 4, 4, 32], [8, 1, 1, 32])!]).toEqual([1, 8, 16, 32, 0, 32, 0, 1]);
    expect([...broadcastDims([8, 4, 4, 32], [])!]).toEqual([1, 1, 1, 4096, 0, 0, 0, 0]);
    expect([...broadcastDims([8, 32], [8, 1])!]).toEqual([1, 1, 8, 32, 0, 0, 1, 0]);
    expect(broadcastDims([8, 32], [4, 32])).toBeNull();
    expect(broadcastDims([32], [8, 32])).toBeNull();
  });

  it('the fused training batch norm equals the composed ops, forward and gradient, and leaks no tensors', async () => {
    for (const shape of [[6, 5], [3, 7, 5, 4], [8, 32, 32, 16]]) {
      const c = shape.at(-1)!;
      const composed = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(x, shape.slice(0, -1).map((_, i) => i));
        return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), w), b);
      };
      const inputs = () => [seeded(shape, 21).mul(3).add(2), seeded([c], 22), seeded([c], 23)];
      const upstream = () => seeded(shape, 24);
      const loss = (f: (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor) => (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(x, w, b), upstream()));
      await tf.setBackend('cpu');
      const ref = tf.tidy(() => [composed(...(inputs() as [tf.Tensor, tf.Tensor, tf.Tensor])), ...tf.grads(loss(composed))(inputs())].map((t) => t.dataSync().slice()));
      await tf.setBackend(NATIVE_TF_BACKEND);
      const before = tf.memory().numTensors;
      const fusedFn = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
        const r = batchNormTrain(x, w, b, 1e-5)!;
        expect(r, 'the fused kernel runs on the native backend').not.toBeNull();
        return r[0];
      };
      const got = tf.tidy(() => [fusedFn(...(inputs() as [tf.Tensor, tf.Tensor, tf.Tensor])), ...tf.grads(loss(fusedFn))(inputs())].map((t) => t.dataSync().slice()));
      expect(tf.memory().numTensors).toBe(before);
      for (let i = 0; i < ref.length; i++) {
        let scale = 1e-6;
        let worst = 0;
        ref[i]!.forEach((v, j) => {
          scale = Math.max(scale, Math.abs(v));
          worst = Math.max(worst, Math.abs(v - got[i]![j]!));
        });
        expect(worst / scale, `${JSON.stringify(shape)} output ${i}`).toBeLessThan(1e-4);
      }
    }
    await tf.setBackend('cpu');
    expect(batchNormTrain(tf.ones([2, 3]), tf.ones([3]), tf.zeros([3]), 1e-5), 'other backends compose the ops').toBeNull();
  });

  it('a SimCLR training step on a small ResNet gives the same loss and gradients as the stock kernels', async () => {
    const step = () => {
      const backbone = createBackbone('small', { imageSize: 8, seed: 3 });
      const projector = buildMlp(new Rng(4), simclrProjector(backbone.outputDim));
      const vars = [...backbone.namedParameters('b.'), ...projector.namedParameters('p.')].map(([, v]) => v);
      const x = tf.randomUniform([4, 8, 8, 3], 0, 1, 'float32', 5);
      const { value, grads } = tf.variableGrads(() => {
        const z = projector.forward(backbone.forward(x, { training: true }), { training: true });
        const [z1, z2] = tf.split(z, 2, 0) as [tf.Tensor2D, tf.Tensor2D];
        return ntXentLoss(z1, z2, 0.5);
      }, vars);
      const out = [value, ...vars.map((v) => grads[v.name]!)].map((t) => t.clone());
      tf.dispose([value, grads, x]);
      backbone.dispose();
      projector.dispose();
      return out;
    };
    // every gradient tensor of the net, scaled by its own magnitude
    expect(await compare(step)).toBeLessThan(1e-3);
  });

  it('initBackend selects it by name and reports the BLAS', async () => {
    const choice = await initBackend({ prefer: 'native' });
    expect(choice).toMatchObject({ backend: 'native', tfBackend: NATIVE_TF_BACKEND });
    expect(choice.device).toMatch(/BLAS|Accelerate/i);
  });
});
