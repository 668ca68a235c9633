// buildMlp's forward hands Linear → ReLU and BatchNorm → ReLU pairs to the layers' forwardRelu. On the cpu backend
// it is checked against a naive reference written with plain tf ops (outputs, gradients, running statistics, which
// must be updated once per forward); on webgpu-gl (Dawn's OpenGL ES adapter on llvmpipe) the fused shaders are
// checked against the composed ops (CURIO_WEBGPU_FUSED=0) through whole projector heads.
import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../../main/compute/index.js';
import { fusedDispatches } from '../../../main/compute/webgpu/fused.js';
import { buildMlp, mocoV2Projector, mocoV3Projector, simclrProjector, type Mlp, type MlpSpec } from '../../../main/train/heads.js';
import { BatchNorm, GELU, Linear, ReLU, gelu } from '../../../main/train/nn/layers.js';
import { Rng } from '../../../main/train/nn/init.js';
import type { Module } from '../../../main/train/nn/module.js';

let seed = 70;
const rand = (shape: number[], lo = -1, hi = 1) => tf.randomUniform(shape, lo, hi, 'float32', seed++);

/** Max |a − b| within tol·max(1, max|b|). */
async function close(actual: tf.Tensor, expected: tf.Tensor, label: string, tol = 1e-4): Promise<void> {
  expect(actual.shape, label).toEqual(expected.shape);
  const [a, e] = (await Promise.all([actual.data(), expected.data()])) as Float32Array[];
  let scale = 1;
  for (const v of e!) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < e!.length; i++) worst = Math.max(worst, Math.abs(a![i]! - e![i]!));
  expect(worst, `${label}: max |Δ| ${worst}, scale ${scale}`).toBeLessThanOrEqual(tol * scale);
}

/** BN's γ and β set away from 1 and 0, the same in every MLP built from the same spec, so the affine is exercised. */
function build(spec: MlpSpec): Mlp {
  const mlp = buildMlp(new Rng(11), spec);
  let s = 900;
  for (const [, child] of mlp.namedChildren()) {
    if (child instanceof BatchNorm && child.weight && child.bias) {
      child.weight.assign(tf.randomUniform(child.weight.shape, 0.5, 1.5, 'float32', s++));
      child.bias.assign(tf.randomUniform(child.bias.shape, -0.5, 0.5, 'float32', s++));
    }
  }
  return mlp;
}

/** One child of the MLP written out op by op, independent of forward/forwardRelu. */
function referenceLayer(child: Module, x: tf.Tensor, training: boolean): tf.Tensor {
  if (child instanceof Linear) {
    const y = tf.matMul(x as tf.Tensor2D, child.weight as tf.Tensor2D);
    return child.bias ? tf.add(y, child.bias) : y;
  }
  if (child instanceof BatchNorm) {
    const { mean, variance } = training ? tf.moments(x, [0]) : { mean: child.runningMean, variance: child.runningVar };
    let y = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, child.eps)));
    if (child.weight) y = tf.mul(y, child.weight);
    return child.bias ? tf.add(y, child.bias) : y;
  }
  if (child instanceof ReLU) return tf.maximum(x, 0);
  if (child instanceof GELU) return gelu(x);
  throw new Error(`reference: no rule for ${child.constructor.name}`);
}

function reference(mlp: Module, x: tf.Tensor, training: boolean): tf.Tensor {
  return mlp.namedChildren().reduce((y, [, child]) => referenceLayer(child, y, training), x);
}

const cases: { name: string; spec: MlpSpec; pairs: number }[] = [
  { name: 'SimCLR v2 (BN + ReLU twice)', spec: simclrProjector(19, { hiddenDim: 33, outDim: 7, v2: true }), pairs: 2 },
  { name: 'MoCo v2 (Linear + ReLU)', spec: mocoV2Projector(19, { hiddenDim: 33, outDim: 7 }), pairs: 1 },
  { name: 'MoCo v3 (non-affine last BN)', spec: mocoV3Projector(19, { hiddenDim: 33, outDim: 7 }), pairs: 2 },
  { name: 'GELU MLP (nothing to fuse)', spec: { inDim: 19, hiddenDim: 33, outDim: 7, layers: 3, batchNorm: false, lastBatchNorm: false, activation: 'gelu' }, pairs: 0 },
];

describe('buildMlp on cpu: the fused-pair forward against a naive reference', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'cpu', skipTrainCheck: true });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  for (const { name, spec, pairs } of cases) {
    it(`${name}: y in training and eval, every gradient, running statistics updated once`, async () => {
      const mlp = build(spec);
      const twin = build(spec);
      expect(mlp.fusedPairs).toBe(pairs);
      const x = rand([12, spec.inDim], -2, 2);
      const w = rand([12, spec.outDim]);
      const linearRelu = vi.spyOn(Linear.prototype, 'forwardRelu');
      const bnRelu = vi.spyOn(BatchNorm.prototype, 'forwardRelu');
      const y = mlp.forward(x, { training: true });
      expect(linearRelu.mock.calls.length + bnRelu.mock.calls.length, 'forwardRelu calls in one forward').toBe(pairs);
      const expected = reference(twin, x, true);
      await close(y, expected, 'y (training)');

      // one training forward moves each running mean from 0 to 0.1·batch mean: a pair that ran BN twice would not
      const bns = mlp.namedChildren().map(([, c]) => c).filter((c): c is BatchNorm => c instanceof BatchNorm);
      let h: tf.Tensor = x;
      for (const [, child] of twin.namedChildren()) {
        if (child instanceof BatchNorm) {
          const bn = bns.shift()!;
          const { mean, variance } = tf.moments(h, [0]);
          await close(bn.runningMean, tf.mul(mean, 0.1), 'running mean');
          await close(bn.runningVar, tf.add(0.9, tf.mul(variance, (0.1 * 12) / 11)), 'running var');
        }
        h = referenceLayer(child, h, true);
      }

      const params = mlp.parameters();
      const twinParams = twin.parameters();
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(mlp.forward(x, { training: true }), w)) as tf.Scalar, params);
      const { grads: expectedGrads } = tf.variableGrads(() => tf.sum(tf.mul(reference(twin, x, true), w)) as tf.Scalar, twinParams);
      const names = mlp.namedParameters().map(([n]) => n);
      for (let i = 0; i < params.length; i++) await close(grads[params[i]!.name]!, expectedGrads[twinParams[i]!.name]!, `d ${names[i]}`, 2e-4);

      // eval uses the running statistics, which differ between the two after their different numbers of forwards
      twin.setState(await mlp.getState());
      await close(mlp.forward(x, { training: false }), reference(twin, x, false), 'y (eval)');
      mlp.dispose();
      twin.dispose();
    });
  }
});

describe('buildMlp on webgpu-gl: fused heads against the composed ops', () => {
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

  const counts = () => Object.fromEntries(['bnReluForward', 'bnReluBackward', 'biasRelu', 'biasReluBackward', 'biasReluGradSum'].map((k) => [k, fusedDispatches.get(k) ?? 0]));

  for (const { name, spec, pairs } of cases.filter((c) => c.pairs > 0)) {
    it(`${name}: y, every gradient and the running statistics match CURIO_WEBGPU_FUSED=0`, async (ctx) => {
      if (unavailable) ctx.skip(`webgpu-gl cannot start here (${unavailable}); needs Debian libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri`);
      const x = rand([12, spec.inDim], -2, 2);
      const w = rand([12, spec.outDim]);
      const pass = (fused: boolean) => {
        process.env.CURIO_WEBGPU_FUSED = fused ? '1' : '0';
        const mlp = build(spec);
        const params = mlp.parameters();
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(mlp.forward(x, { training: true }), w)) as tf.Scalar, params);
        return { mlp, value, grads: params.map((p) => grads[p.name]!) };
      };
      const before = counts();
      const composed = pass(false);
      expect(counts(), 'the composed pass runs no fused shader').toEqual(before);
      const fused = pass(true);
      const after = counts();
      const kinds = spec.batchNorm ? ['bnReluForward', 'bnReluBackward'] : ['biasRelu', 'biasReluBackward', 'biasReluGradSum'];
      for (const k of kinds) expect(after[k]! - before[k]!, `${k} dispatches`).toBe(pairs);
      await close(fused.value, composed.value, 'Σ y·w');
      const names = fused.mlp.namedParameters().map(([n]) => n);
      for (let i = 0; i < names.length; i++) await close(fused.grads[i]!, composed.grads[i]!, `d ${names[i]}`, 2e-4);
      const buffers = composed.mlp.namedBuffers();
      for (const [i, [bufferName, v]] of fused.mlp.namedBuffers().entries()) await close(v, buffers[i]![1], bufferName);
      tf.dispose([x, w, fused.value, composed.value, ...fused.grads, ...composed.grads]);
      fused.mlp.dispose();
      composed.mlp.dispose();
    }, 120_000);
  }

  it('a fused head step leaves no tensor behind', async (ctx) => {
    if (unavailable) ctx.skip(`webgpu-gl cannot start here (${unavailable})`);
    process.env.CURIO_WEBGPU_FUSED = '1';
    const mlp = build(simclrProjector(9, { hiddenDim: 16, outDim: 5 }));
    const x = rand([6, 9]);
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(mlp.forward(x, { training: true })) as tf.Scalar, mlp.parameters());
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const live = tf.memory().numTensors;
    step();
    step();
    expect(tf.memory().numTensors).toBe(live);
    tf.dispose(x);
    mlp.dispose();
  }, 120_000);
});
