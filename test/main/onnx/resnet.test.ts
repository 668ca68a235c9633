import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackbone } from '../../../main/train/models/index.js';
import { Rng, type ModuleState } from '../../../main/train/nn/index.js';
import { encoderToOnnx } from '../../../main/onnx/encoder.js';
import { createOnnxEmbedderFromBytes } from '../../../main/onnx/runtime.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/**
 * Seeded, non-trivial BatchNorm state: γ, β, running mean and variance far from 1/0/0/1, so a fold that drops
 * any term (or mixes up channel order) shows in the outputs.
 */
function randomizeBatchNorm(state: ModuleState, seed: number): ModuleState {
  const rng = new Rng(seed);
  const out: ModuleState = {};
  for (const [name, t] of Object.entries(state)) {
    const data = Float32Array.from(t.data);
    if (name.endsWith('running_mean')) for (let i = 0; i < data.length; i++) data[i] = rng.normal() * 0.5;
    else if (name.endsWith('running_var')) for (let i = 0; i < data.length; i++) data[i] = 0.3 + 2 * rng.uniform();
    else if (t.shape.length === 1 && name.endsWith('.weight')) for (let i = 0; i < data.length; i++) data[i] = 0.5 + rng.uniform();
    else if (t.shape.length === 1 && name.endsWith('.bias')) for (let i = 0; i < data.length; i++) data[i] = rng.normal() * 0.2;
    out[name] = { shape: t.shape, data };
  }
  return out;
}

function images(n: number, size: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const data = new Float32Array(n * size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return data;
}

async function compare(
  backboneName: string,
  imageSize: number,
  n: number,
  tamper: (state: ModuleState) => ModuleState = (s) => s,
): Promise<{ maxAbs: number; maxRef: number; dim: number }> {
  const backbone = createBackbone(backboneName, { imageSize, seed: 7 });
  try {
    const state = randomizeBatchNorm(await backbone.getState(), 11);
    backbone.setState(state);
    const x = images(n, imageSize, 3);
    const ref = tf.tidy(() => backbone.forward(tf.tensor4d(x, [n, imageSize, imageSize, 3]), { training: false }).dataSync() as Float32Array);
    const embedder = await createOnnxEmbedderFromBytes(encoderToOnnx({ backbone: backboneName, imageSize, tensors: tamper(state) }), { threads: 2 });
    try {
      expect(embedder.imageSize).toBe(imageSize);
      expect(embedder.dim).toBe(backbone.outputDim);
      const got = await embedder.embed(x, n);
      expect(got.length).toBe(ref.length);
      let maxAbs = 0;
      let maxRef = 0;
      for (let i = 0; i < ref.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(got[i]! - ref[i]!));
        maxRef = Math.max(maxRef, Math.abs(ref[i]!));
      }
      return { maxAbs, maxRef, dim: embedder.dim };
    } finally {
      await embedder.close();
    }
  } finally {
    backbone.dispose();
  }
}

describe('ResNet → ONNX matches the tfjs forward (inference mode, BN folded)', () => {
  afterAll(() => {
    expect(tf.memory().numTensors).toBeLessThan(50);
  });
  for (const [name, size, n] of [
    ['small', 32, 4],
    ['small', 40, 3],
    ['resnet18', 32, 2],
    ['resnet18', 40, 2],
    // past 64 px: the ImageNet stem (7×7/2 conv, 3×3/2 max-pool with padding)
    ['small', 72, 2],
  ] as const) {
    it(`${name} at ${size} px`, async () => {
      const { maxAbs, maxRef } = await compare(name, size, n);
      // a real signal, not all zeros after the ReLUs
      expect(maxRef).toBeGreaterThan(0.1);
      expect(maxAbs).toBeLessThanOrEqual(1e-3 * maxRef);
    }, 120_000);
  }

  it('the comparison notices a fold that ignores the running mean (negative control)', async () => {
    const zeroMeans = (state: ModuleState): ModuleState =>
      Object.fromEntries(
        Object.entries(state).map(([k, t]) => [k, k.endsWith('running_mean') ? { shape: t.shape, data: new Float32Array(t.data.length) } : t]),
      );
    const { maxAbs, maxRef } = await compare('small', 32, 2, zeroMeans);
    expect(maxAbs).toBeGreaterThan(1e-2 * maxRef);
  }, 120_000);
});
