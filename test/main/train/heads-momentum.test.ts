import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../main/train/nn/index.js';
import { DinoHead, buildMlp, byolPredictor, byolProjector, mocoV2Projector, mocoV3Predictor, mocoV3Projector, simclrProjector } from '../../../main/train/heads.js';
import { copyWeights, cosineMomentum, updateMomentum } from '../../../main/train/momentum.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('heads', () => {
  it('presets carry the papers’ sizes', () => {
    expect(simclrProjector(2048)).toMatchObject({ hiddenDim: 2048, outDim: 128, layers: 2, batchNorm: true });
    expect(simclrProjector(2048, { v2: true }).layers).toBe(3);
    expect(mocoV2Projector(2048)).toMatchObject({ hiddenDim: 2048, outDim: 128, layers: 2, batchNorm: false });
    expect(mocoV3Projector(384)).toMatchObject({ hiddenDim: 4096, outDim: 256, layers: 3, lastBatchNorm: 'non-affine' });
    expect(mocoV3Predictor(256)).toMatchObject({ hiddenDim: 4096, outDim: 256, layers: 2 });
    expect(byolProjector(2048)).toMatchObject({ hiddenDim: 4096, outDim: 256, layers: 2 });
    expect(byolPredictor(256)).toMatchObject({ inDim: 256, hiddenDim: 4096, outDim: 256 });
  });

  it('buildMlp lays out Linear/BN/act with biases only where no BN follows', () => {
    const mlp = buildMlp(new Rng(1), { ...mocoV3Projector(6, { hiddenDim: 5, outDim: 3 }) });
    expect(mlp.namedParameters().map(([n, v]) => `${n}:${v.shape.join('x')}`)).toEqual([
      '0.weight:6x5', '1.weight:5', '1.bias:5', '3.weight:5x5', '4.weight:5', '4.bias:5', '6.weight:5x3',
    ]);
    const y = mlp.forward(tf.randomNormal([4, 6]), { training: true });
    expect(y.shape).toEqual([4, 3]);
    mlp.dispose();
  });

  it('DINO head: bottleneck, l2-normalised, weight-normalised prototypes', () => {
    const head = new DinoHead(new Rng(1), 8, { hiddenDim: 16, bottleneckDim: 4, outDim: 10 });
    const y = head.forward(tf.randomNormal([3, 8]), { training: true });
    expect(y.shape).toEqual([3, 10]);
    // |logit| ≤ ‖unit bottleneck‖·‖unit column‖ = 1
    expect(tf.max(tf.abs(y)).dataSync()[0]).toBeLessThanOrEqual(1 + 1e-5);
    expect(head.namedParameters().map(([n]) => n)).toContain('last_layer.weight_v');
    head.dispose();
  });
});

describe('momentum', () => {
  it('updateMomentum is an EMA of parameters and buffers', async () => {
    const online = buildMlp(new Rng(1), byolProjector(3, { hiddenDim: 4, outDim: 2 }));
    const target = buildMlp(new Rng(2), byolProjector(3, { hiddenDim: 4, outDim: 2 }));
    tf.tidy(() => online.forward(tf.randomNormal([5, 3]), { training: true })); // moves online running stats
    const o = await online.getState();
    const t = await target.getState();
    updateMomentum(online, target, 0.9);
    const after = await target.getState();
    for (const key of Object.keys(o)) {
      after[key]!.data.forEach((v, i) => expect(v).toBeCloseTo(0.9 * t[key]!.data[i]! + 0.1 * o[key]!.data[i]!, 6));
    }
    copyWeights(online, target);
    expect(await target.getState()).toEqual(await online.getState());
    expect(() => updateMomentum(online, target, 1.5)).toThrow(/momentum/);
    online.dispose();
    target.dispose();
  });

  it('BYOL cosine schedule goes 0.996 → 1', () => {
    expect(cosineMomentum(0, 100)).toBeCloseTo(0.996, 9);
    expect(cosineMomentum(50, 100)).toBeCloseTo(0.998, 9);
    expect(cosineMomentum(100, 100)).toBeCloseTo(1, 9);
    expect(cosineMomentum(0, 100, 0.99)).toBeCloseTo(0.99, 9);
  });
});
