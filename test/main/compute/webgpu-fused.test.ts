// The fused webgpu chains (main/compute/webgpu/fused.ts) against the composed stock ops on the same backend, through
// Dawn's OpenGL ES adapter on llvmpipe (webgpu-gl): BN + ReLU (outputs, running statistics and the gradients of x,
// γ and β) and bias + ReLU (output and gradients), on random shapes with odd sizes, through the layers' hooks.
import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/compute/index.js';
import { biasRelu, fusedDispatches } from '../../../main/compute/webgpu/fused.js';
import { BatchNorm, Conv2d, Linear } from '../../../main/train/nn/layers.js';
import { Rng } from '../../../main/train/nn/init.js';

let unavailable: string | null = null;
const saved = process.env.CURIO_WEBGPU_FUSED;

beforeAll(async () => {
  try {
    await initBackend({ prefer: 'webgpu-gl', skipTrainCheck: true });
  } catch (err) {
    unavailable = (err as Error).message;
  }
});
afterEach(() => {
  if (saved === undefined) delete process.env.CURIO_WEBGPU_FUSED;
  else process.env.CURIO_WEBGPU_FUSED = saved;
});
afterAll(async () => {
  await initBackend({ prefer: 'cpu', skipTrainCheck: true });
});

function skipIfUnavailable(ctx: { skip: (note?: string) => void }): void {
  if (unavailable) ctx.skip(`webgpu-gl cannot start here (${unavailable}); needs Debian libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri`);
}

let seed = 40;
const rand = (shape: number[], lo = -1, hi = 1) => tf.randomUniform(shape, lo, hi, 'float32', seed++);

/** Max |a − b| within tol·max(1, max|b|). */
async function close(actual: tf.Tensor, expected: tf.Tensor, label: string, tol = 1e-4): Promise<void> {
  expect(actual.shape, label).toEqual(expected.shape);
  const [a, e] = (await Promise.all([actual.data(), expected.data()])) as Float32Array[];
  let scale = 1;
  for (const v of e!) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  let at = 0;
  for (let i = 0; i < e!.length; i++) {
    const d = Math.abs(a![i]! - e![i]!);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  expect(worst, `${label}: max |Δ| ${worst} at ${at} (expected ${e![at]}, got ${a![at]}), scale ${scale}`).toBeLessThanOrEqual(tol * scale);
}

function dispatchCounts(): Record<'biasRelu' | 'biasReluBackward' | 'biasReluGradSum', number> {
  return {
    biasRelu: fusedDispatches.get('biasRelu') ?? 0,
    biasReluBackward: fusedDispatches.get('biasReluBackward') ?? 0,
    biasReluGradSum: fusedDispatches.get('biasReluGradSum') ?? 0,
  };
}

/** The fused forward and both fused backward shaders ran since `before` (so the comparison is not stock vs stock). */
function expectFusedBiasReluRan(before: ReturnType<typeof dispatchCounts>): void {
  const now = dispatchCounts();
  expect(now.biasRelu, 'the fused forward shader ran').toBeGreaterThan(before.biasRelu);
  expect(now.biasReluBackward, 'the fused dx shader ran').toBeGreaterThan(before.biasReluBackward);
  expect(now.biasReluGradSum, 'the fused db reduction ran').toBeGreaterThan(before.biasReluGradSum);
}

/** forward, then the gradients of Σ y·w (w random, so every dy differs) with respect to x and the parameters. */
function run(fused: boolean, f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, params: tf.Variable[], w: tf.Tensor) {
  process.env.CURIO_WEBGPU_FUSED = fused ? '1' : '0';
  const y = f(x);
  const { grads } = tf.variableGrads(() => tf.sum(tf.mul(f(x), w)) as tf.Scalar, params);
  const gx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(f(xx), w)))(x);
  return { y, grads: params.map((p) => grads[p.name]!), gx };
}

describe('fused webgpu elementwise chains', () => {
  const bnShapes = [
    [3, 5, 7, 13],
    [2, 9, 9, 70],
    [1, 1, 1, 3],
    [37, 5],
    [4, 16, 16, 64],
  ];
  for (const shape of bnShapes) {
    it(`BN + ReLU on [${shape}] matches batch norm then relu: y, running stats, dx, dγ, dβ`, async (ctx) => {
      skipIfUnavailable(ctx);
      const c = shape.at(-1)!;
      const x = tf.add(rand(shape, -2, 3), rand([c], -1, 1)); // per-channel offsets, so the means differ
      const w = rand(shape);
      // a non-trivial affine, the same in both
      const gamma = rand([c], 0.5, 1.5);
      const beta = rand([c], -0.5, 0.5);
      const make = () => {
        const bn = new BatchNorm(c);
        bn.weight!.assign(gamma);
        bn.bias!.assign(beta);
        return bn;
      };
      const stockBn = make();
      const fusedBn = make();
      const before = fusedDispatches.get('bnReluBackward') ?? 0;
      const stock = run(false, (xx) => stockBn.forwardRelu(xx, { training: true }), x, [stockBn.weight!, stockBn.bias!], w);
      const fusedRun = run(true, (xx) => fusedBn.forwardRelu(xx, { training: true }), x, [fusedBn.weight!, fusedBn.bias!], w);
      expect(fusedDispatches.get('bnReluBackward') ?? 0, 'the fused backward shader ran').toBeGreaterThan(before);
      expect(fusedDispatches.get('bnReluForward') ?? 0).toBeGreaterThan(0);
      await close(fusedRun.y, stock.y, 'y');
      await close(fusedBn.runningMean, stockBn.runningMean, 'running mean');
      await close(fusedBn.runningVar, stockBn.runningVar, 'running var');
      await close(fusedRun.gx, stock.gx, 'dx', 2e-4);
      await close(fusedRun.grads[0]!, stock.grads[0]!, 'dγ', 2e-4);
      await close(fusedRun.grads[1]!, stock.grads[1]!, 'dβ', 2e-4);
      tf.dispose([x, w, gamma, beta, stock.y, stock.gx, ...stock.grads, fusedRun.y, fusedRun.gx, ...fusedRun.grads]);
      stockBn.dispose();
      fusedBn.dispose();
    }, 120_000);
  }

  it('BN + ReLU leaves no tensor behind once a step is done', async (ctx) => {
    skipIfUnavailable(ctx);
    const bn = new BatchNorm(6);
    const x = rand([2, 3, 3, 6]);
    process.env.CURIO_WEBGPU_FUSED = '1';
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(bn.forwardRelu(x, { training: true })) as tf.Scalar, [bn.weight!, bn.bias!]);
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const live = tf.memory().numTensors;
    step();
    step();
    expect(tf.memory().numTensors).toBe(live);
    tf.dispose(x);
    bn.dispose();
  });

  const linearShapes: [number, number, number][] = [
    [5, 7, 3],
    [33, 17, 65],
    [1, 1, 1],
  ];
  for (const [n, inF, outF] of linearShapes) {
    it(`bias + ReLU (Linear ${inF}→${outF}, batch ${n}) matches matmul, add, relu: y, dx, dW, db`, async (ctx) => {
      skipIfUnavailable(ctx);
      const x = rand([n, inF]);
      const w = rand([n, outF]);
      const stockL = new Linear(new Rng(n * 31 + outF), inF, outF);
      const fusedL = new Linear(new Rng(n * 31 + outF), inF, outF);
      const before = dispatchCounts();
      const stock = run(false, (xx) => stockL.forwardRelu(xx), x, [stockL.weight, stockL.bias!], w);
      expect(dispatchCounts(), 'CURIO_WEBGPU_FUSED=0 runs no fused shader').toEqual(before);
      const fusedRun = run(true, (xx) => fusedL.forwardRelu(xx), x, [fusedL.weight, fusedL.bias!], w);
      expectFusedBiasReluRan(before);
      await close(fusedRun.y, stock.y, 'y');
      await close(fusedRun.gx, stock.gx, 'dx');
      await close(fusedRun.grads[0]!, stock.grads[0]!, 'dW');
      await close(fusedRun.grads[1]!, stock.grads[1]!, 'db');
      tf.dispose([x, w, stock.y, stock.gx, ...stock.grads, fusedRun.y, fusedRun.gx, ...fusedRun.grads]);
      stockL.dispose();
      fusedL.dispose();
    }, 120_000);
  }

  const convCases: { shape: [number, number, number, number]; out: number; k: number; stride: number; padding: number }[] = [
    { shape: [2, 7, 9, 3], out: 5, k: 3, stride: 1, padding: 1 },
    { shape: [3, 8, 8, 4], out: 13, k: 3, stride: 2, padding: 0 },
    { shape: [1, 5, 5, 1], out: 1, k: 1, stride: 1, padding: 0 },
  ];
  for (const { shape, out, k, stride, padding } of convCases) {
    it(`bias + ReLU after Conv2d ${k}×${k}/${stride} pad ${padding} on [${shape}] → ${out} channels matches conv, add, relu: y, dx, dW, db`, async (ctx) => {
      skipIfUnavailable(ctx);
      const x = rand(shape);
      const make = () => new Conv2d(new Rng(out * 7 + k), shape[3], out, k, { stride, padding, bias: true });
      const stockC = make();
      const fusedC = make();
      // a random bias, so that some pre-activations sit near zero and the ReLU masks differ per channel
      const b = rand([out], -0.5, 0.5);
      stockC.bias!.assign(b);
      fusedC.bias!.assign(b);
      const outShape = stockC.forward(x).shape;
      const w = rand(outShape);
      const before = dispatchCounts();
      const stock = run(false, (xx) => stockC.forwardRelu(xx), x, [stockC.weight, stockC.bias!], w);
      const fusedRun = run(true, (xx) => fusedC.forwardRelu(xx), x, [fusedC.weight, fusedC.bias!], w);
      expectFusedBiasReluRan(before);
      await close(fusedRun.y, stock.y, 'y');
      await close(fusedRun.gx, stock.gx, 'dx');
      await close(fusedRun.grads[0]!, stock.grads[0]!, 'dW', 2e-4);
      await close(fusedRun.grads[1]!, stock.grads[1]!, 'db', 2e-4);
      tf.dispose([x, b, w, stock.y, stock.gx, ...stock.grads, fusedRun.y, fusedRun.gx, ...fusedRun.grads]);
      stockC.dispose();
      fusedC.dispose();
    }, 120_000);
  }

  it('the bias + ReLU gradient passes dy only where y > 0, and sums exactly those per channel', async (ctx) => {
    skipIfUnavailable(ctx);
    process.env.CURIO_WEBGPU_FUSED = '1';
    // x + b is exactly 0, negative or positive in known places; relu'(0) is 0, as tf.relu's gradient
    const x = tf.tensor2d([[-1, 0, 2], [1, -3, 0], [0.5, 1, -2], [2, 2, 2]]);
    const b = tf.tensor1d([0, 0, -2]);
    const dy = tf.tensor2d([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]]);
    const g = tf.grads((xx: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(biasRelu(xx, bb)!, dy)));
    const before = dispatchCounts();
    const [dx, db] = g([x, b]);
    expect(dispatchCounts().biasReluBackward).toBeGreaterThan(before.biasReluBackward);
    expect(await dx!.array()).toEqual([[0, 0, 0], [4, 0, 0], [7, 8, 0], [10, 11, 0]]);
    expect(await db!.array()).toEqual([21, 19, 0]);
    tf.dispose([x, b, dy, dx!, db!]);
  });

  it('bias + ReLU over more elements than one row of 65535 workgroups holds (a 2-D dispatch) covers every element', async (ctx) => {
    skipIfUnavailable(ctx);
    process.env.CURIO_WEBGPU_FUSED = '1';
    const x = rand([32769, 128]); // 4,194,432 elements > 65535 · 64
    const b = rand([128]);
    const fused = biasRelu(x, b)!;
    const stock = tf.relu(tf.add(x, b));
    await close(fused, stock, 'y', 1e-6);
    const dy = rand([32769, 128]);
    const [dx, db] = tf.grads((xx: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(biasRelu(xx, bb)!, dy)))([x, b]);
    const mask = tf.mul(dy, tf.step(stock));
    const dbStock = tf.sum(mask, 0);
    await close(dx!, mask, 'dx', 1e-6);
    await close(db!, dbStock, 'db', 1e-4);
    tf.dispose([x, b, fused, stock, dy, dx!, db!, mask, dbStock]);
  }, 120_000);
});
