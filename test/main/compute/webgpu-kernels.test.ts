// Curio's WGSL kernels (main/compute/webgpu) against the stock tfjs-backend-webgpu kernels, on the same inputs,
// through Dawn's OpenGL ES adapter on llvmpipe (webgpu-gl), so a CPU-only machine checks them. Odd sizes that do
// not fill a tile, strides, 'same'/'valid'/explicit padding, transposes and batch broadcasting.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/compute/index.js';
import {
  curioKernelDispatches,
  curioWebgpuKernelSelection,
  curioWebgpuKernelsRegistered,
  curioWebgpuKernelsRequested,
  registerCurioWebgpuKernels,
  unregisterCurioWebgpuKernels,
} from '../../../main/compute/webgpu/index.js';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

let unavailable: string | null = null;

beforeAll(async () => {
  try {
    await initBackend({ prefer: 'webgpu-gl', skipTrainCheck: true });
  } catch (err) {
    unavailable = (err as Error).message;
  }
});

afterAll(async () => {
  unregisterCurioWebgpuKernels();
  await initBackend({ prefer: 'cpu', skipTrainCheck: true });
});

function skipIfUnavailable(ctx: { skip: (note?: string) => void }): void {
  if (unavailable) ctx.skip(`webgpu-gl cannot start here (${unavailable}); needs Debian libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri`);
}


/**
 * Runs `f` with the stock kernels and then with Curio's, on the same input tensors; checks Curio's shader variant
 * really ran and the two agree within a tolerance scaled by the result's magnitude.
 */
async function compare(f: () => tf.Tensor, variant: string, label: string): Promise<void> {
  unregisterCurioWebgpuKernels();
  const stockOut = f();
  const expected = (await stockOut.data()) as Float32Array;

  // The stock result stays alive meanwhile, so Curio's output cannot land in its freed buffer and pass by
  // reading the stock numbers; the error scope catches a shader or pipeline that did not compile.
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  registerCurioWebgpuKernels();
  const before = curioKernelDispatches.get(variant) ?? 0;
  device.pushErrorScope('validation');
  const ownOut = f();
  const actual = (await ownOut.data()) as Float32Array;
  const gpuError = await device.popErrorScope();
  unregisterCurioWebgpuKernels();
  expect(gpuError?.message ?? null, `${label}: WebGPU validation error`).toBeNull();
  expect(ownOut.shape, label).toEqual(stockOut.shape);
  tf.dispose([stockOut, ownOut]);
  expect(curioKernelDispatches.get(variant) ?? 0, `${label}: Curio's ${variant} shader did not run`).toBeGreaterThan(before);

  expect(actual.length, label).toBe(expected.length);
  let scale = 1;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  expect(worst, `${label}: max |Δ| ${worst} at ${at} (expected ${expected[at]}, got ${actual[at]}), scale ${scale}`).toBeLessThanOrEqual(2e-5 * scale * 8);
}

let seed = 10;
function rand(shape: number[]): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, 'float32', seed++);
}

describe('Curio webgpu kernels vs stock tfjs-backend-webgpu (webgpu-gl / llvmpipe)', () => {
  it('the opt-in switch: CURIO_WEBGPU_KERNELS=1 for all, a comma list for some, a clear error for a typo', () => {
    expect(curioWebgpuKernelsRequested({ CURIO_WEBGPU_KERNELS: '1' })).toBe(true);
    expect(curioWebgpuKernelsRequested({ CURIO_WEBGPU_KERNELS: '0' })).toBe(false);
    expect(curioWebgpuKernelsRequested({})).toBe(false);
    expect(curioWebgpuKernelSelection({ CURIO_WEBGPU_KERNELS: '1' })).toEqual(['BatchMatMul', 'Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter']);
    expect(curioWebgpuKernelSelection({ CURIO_WEBGPU_KERNELS: 'Conv2DBackpropFilter, BatchMatMul' })).toEqual(['Conv2DBackpropFilter', 'BatchMatMul']);
    expect(() => curioWebgpuKernelSelection({ CURIO_WEBGPU_KERNELS: 'Conv2d' })).toThrow(/unknown Curio webgpu kernel "Conv2d": expected 1 or a comma list of BatchMatMul, Conv2D/);
  });

  it('registers, reports itself registered, and restores the stock kernels', (ctx) => {
    skipIfUnavailable(ctx);
    const stockKernel = tf.getKernel('BatchMatMul', 'webgpu').kernelFunc;
    expect(registerCurioWebgpuKernels()).toEqual(['BatchMatMul', 'Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter']);
    expect(curioWebgpuKernelsRegistered()).toBe(true);
    expect(tf.getKernel('BatchMatMul', 'webgpu').kernelFunc).not.toBe(stockKernel);
    registerCurioWebgpuKernels(); // a second call is a no-op
    unregisterCurioWebgpuKernels();
    expect(curioWebgpuKernelsRegistered()).toBe(false);
    expect(tf.getKernel('BatchMatMul', 'webgpu').kernelFunc).toBe(stockKernel);
    const stockConv = tf.getKernel('Conv2D', 'webgpu').kernelFunc;
    expect(registerCurioWebgpuKernels(['Conv2DBackpropFilter'])).toEqual(['Conv2DBackpropFilter']);
    expect(tf.getKernel('Conv2D', 'webgpu').kernelFunc).toBe(stockConv);
    unregisterCurioWebgpuKernels();
  });

  it('BatchMatMul: odd sizes, all four transposes, batches and a broadcast single matrix', async (ctx) => {
    skipIfUnavailable(ctx);
    const cases: { a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [
      { a: [1, 1], b: [1, 1], ta: false, tb: false },
      { a: [7, 13], b: [13, 5], ta: false, tb: false },
      { a: [13, 7], b: [13, 66], ta: true, tb: false },
      { a: [33, 17], b: [65, 17], ta: false, tb: true },
      { a: [17, 70], b: [3, 17], ta: true, tb: true },
      { a: [3, 9, 20], b: [3, 20, 11], ta: false, tb: false },
      { a: [2, 2, 5, 19], b: [2, 2, 6, 19], ta: false, tb: true },
      { a: [4, 10, 12], b: [12, 9], ta: false, tb: false },
      { a: [8, 21], b: [3, 8, 31], ta: true, tb: false },
    ];
    for (const c of cases) {
      const a = rand(c.a);
      const b = rand(c.b);
      await compare(() => tf.matMul(a, b, c.ta, c.tb), `matmul_${c.ta ? 'T' : 'N'}${c.tb ? 'T' : 'N'}`, `matMul [${c.a}]${c.ta ? 'ᵀ' : ''} · [${c.b}]${c.tb ? 'ᵀ' : ''}`);
      tf.dispose([a, b]);
    }
  });

  const convCases: { x: number[]; f: number[]; s: number | [number, number]; pad: Pad; d?: number }[] = [
    { x: [2, 9, 9, 3], f: [3, 3, 3, 5], s: 1, pad: 'same' },
    { x: [2, 9, 9, 3], f: [3, 3, 3, 5], s: 2, pad: 'valid' },
    { x: [1, 10, 7, 4], f: [3, 3, 4, 6], s: 2, pad: 'same' },
    { x: [3, 8, 11, 2], f: [1, 1, 2, 7], s: 2, pad: 'valid' },
    { x: [1, 13, 12, 3], f: [5, 5, 3, 4], s: [3, 2], pad: 'same' },
    { x: [2, 7, 8, 5], f: [3, 2, 5, 3], s: 1, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
    { x: [1, 6, 6, 17], f: [3, 3, 17, 33], s: 1, pad: 'same' },
  ];

  it('Conv2D forward (implicit GEMM): strides, same/valid/explicit padding, odd sizes, dilation 2', async (ctx) => {
    skipIfUnavailable(ctx);
    for (const c of [...convCases, { x: [1, 11, 9, 3], f: [3, 3, 3, 4], s: 1, pad: 'same' as Pad, d: 2 }]) {
      const x = rand(c.x) as tf.Tensor4D;
      const f = rand(c.f) as tf.Tensor4D;
      await compare(() => tf.conv2d(x, f, c.s, c.pad, 'NHWC', c.d ?? 1), 'conv2d', `conv2d x[${c.x}] f[${c.f}] s${c.s} ${JSON.stringify(c.pad)} d${c.d ?? 1}`);
      tf.dispose([x, f]);
    }
  });

  it('Conv2DBackpropInput: the same geometries', async (ctx) => {
    skipIfUnavailable(ctx);
    for (const c of convCases) {
      const f = rand(c.f) as tf.Tensor4D;
      const info = tf.backend_util.computeConv2DInfo(c.x as [number, number, number, number], c.f as [number, number, number, number], c.s, 1, c.pad);
      const dy = rand(info.outShape) as tf.Tensor4D;
      const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x };
      await compare(() => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: f }, attrs as never) as tf.Tensor, 'conv2dDx', `dx x[${c.x}] f[${c.f}] s${c.s} ${JSON.stringify(c.pad)}`);
      tf.dispose([f, dy]);
    }
  });

  it('split-K (small M×N over a long K): a filter gradient and a matmul, with a ragged last slice', async (ctx) => {
    skipIfUnavailable(ctx);
    const x = rand([5, 29, 31, 2]) as tf.Tensor4D;
    const dy = rand([5, 29, 31, 3]) as tf.Tensor4D;
    const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 2, 3] };
    const dataIds = tf.engine().backend.numDataIds();
    await compare(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as never) as tf.Tensor, 'conv2dDw_splitK', 'dw split-K, K = 4495');
    const a = rand([5, 4500]);
    const b = rand([4500, 7]);
    await compare(() => tf.matMul(a, b), 'matmul_NN_splitK', 'matMul split-K, K = 4500');
    tf.dispose([a, b]);
    expect(tf.engine().backend.numDataIds(), 'the partial sums buffer is released').toBe(dataIds);
    tf.dispose([x, dy]);
  });

  it('Conv2DBackpropFilter: the same geometries', async (ctx) => {
    skipIfUnavailable(ctx);
    for (const c of convCases) {
      const x = rand(c.x) as tf.Tensor4D;
      const info = tf.backend_util.computeConv2DInfo(c.x as [number, number, number, number], c.f as [number, number, number, number], c.s, 1, c.pad);
      const dy = rand(info.outShape) as tf.Tensor4D;
      const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', filterShape: c.f };
      await compare(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as never) as tf.Tensor, 'conv2dDw', `dw x[${c.x}] f[${c.f}] s${c.s} ${JSON.stringify(c.pad)}`);
      tf.dispose([x, dy]);
    }
  });

  it('tf.grad of a strided conv agrees end to end and leaves no tensors behind', async (ctx) => {
    skipIfUnavailable(ctx);
    const x = rand([2, 9, 7, 3]) as tf.Tensor4D;
    const w = rand([3, 3, 3, 4]) as tf.Tensor4D;
    const r = rand([2, 5, 4, 4]);
    const loss = (xs: tf.Tensor, ws: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xs as tf.Tensor4D, ws as tf.Tensor4D, 2, 'same'), r));
    const before = tf.memory().numTensors;
    await compare(() => tf.tidy(() => tf.grads(loss)([x, w])[0]!), 'conv2dDx', 'grad x');
    await compare(() => tf.tidy(() => tf.grads(loss)([x, w])[1]!), 'conv2dDw', 'grad w');
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w, r]);
  });
});
