import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackbone, VisionTransformer } from '../../../main/train/models/index.js';
import { Rng, type ModuleState } from '../../../main/train/nn/index.js';
import { encoderToOnnx } from '../../../main/onnx/encoder.js';
import { createOnnxEmbedderFromBytes } from '../../../main/onnx/runtime.js';
import { VIT_HEADS } from '../../../main/onnx/vit.js';
import { ensureBackend } from '../../../main/evaluate/extract.js';

beforeAll(async () => {
  await ensureBackend();
});

/**
 * Seeded weights far from the trunc-normal(0.02) init: with std 0.02 every attention row is nearly uniform and
 * every LayerNorm the identity, so a graph that mixed up heads, q/k/v or the norms' scale would still match.
 * Here linear layers keep activations O(1), LayerNorm γ/β are off 1/0, and the tokens carry real signal.
 */
function randomize(state: ModuleState, seed: number): ModuleState {
  const rng = new Rng(seed);
  const out: ModuleState = {};
  for (const [name, t] of Object.entries(state)) {
    const data = new Float32Array(t.data.length);
    const fill = (f: () => number) => {
      for (let i = 0; i < data.length; i++) data[i] = f();
    };
    const isNorm = /norm\d?\.(weight|bias)$/.test(name);
    if (isNorm && name.endsWith('weight')) fill(() => 1 + 0.3 * rng.normal());
    else if (isNorm) fill(() => 0.2 * rng.normal());
    else if (t.shape.length === 1) fill(() => 0.1 * rng.normal());
    else if (name === 'cls_token' || name === 'pos_embed') fill(() => 0.5 * rng.normal());
    else {
      const fanIn = t.shape.slice(0, -1).reduce((a, b) => a * b, 1);
      fill(() => rng.normal() * 1.5 / Math.sqrt(fanIn));
    }
    out[name] = { shape: t.shape, data };
  }
  return out;
}

function images(n: number, size: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const data = new Float32Array(n * size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform();
  return data;
}

async function compare(name: string, imageSize: number, patchSize: number, n: number, exportAs = name): Promise<{ maxAbs: number; maxRef: number; spread: number }> {
  const backbone = createBackbone(name, { imageSize, seed: 3, patchSize });
  try {
    // the head count the export takes from the name is the one createBackbone built
    expect(backbone).toBeInstanceOf(VisionTransformer);
    expect((backbone as VisionTransformer).config.heads).toBe(VIT_HEADS[name]);
    const state = randomize(await backbone.getState(), 5);
    backbone.setState(state);
    const x = images(n, imageSize, 9);
    const ref = tf.tidy(() => backbone.forward(tf.tensor4d(x, [n, imageSize, imageSize, 3]), { training: false }).dataSync() as Float32Array);
    const embedder = await createOnnxEmbedderFromBytes(encoderToOnnx({ backbone: exportAs, imageSize, tensors: state }), { threads: 2 });
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
      // how far apart two images' embeddings are: a graph that ignored its input would still have to match this
      const dim = backbone.outputDim;
      let spread = 0;
      for (let d = 0; d < dim; d++) spread = Math.max(spread, Math.abs(ref[d]! - ref[dim + d]!));
      return { maxAbs, maxRef, spread };
    } finally {
      await embedder.close();
    }
  } finally {
    backbone.dispose();
  }
}

describe('ViT → ONNX matches the tfjs forward', () => {
  afterAll(() => {
    expect(tf.memory().numTensors).toBeLessThan(50);
  });

  // vit-tiny and vit-small: every name in VIT_HEADS is compared
  for (const [name, size, patch, n] of [
    ['vit-tiny', 32, 4, 3],
    ['vit-tiny', 48, 8, 2],
    ['vit-small', 32, 8, 2],
  ] as const) {
    it(`${name}, patch ${patch} at ${size} px: max abs difference ≤ 1e-4`, async () => {
      const { maxAbs, maxRef, spread } = await compare(name, size, patch, n);
      expect(maxRef).toBeGreaterThan(0.5);
      expect(spread).toBeGreaterThan(0.05);
      expect(maxAbs, `max abs ${maxAbs} (max ${maxRef})`).toBeLessThanOrEqual(1e-4);
    }, 120_000);
  }

  it('the comparison notices heads split the wrong way (negative control: vit-tiny weights exported with 6 heads)', async () => {
    const { maxAbs } = await compare('vit-tiny', 32, 8, 2, 'vit-small');
    expect(maxAbs).toBeGreaterThan(1e-2);
  }, 120_000);

  it('refuses a state that is not a Curio ViT, or an image size off its patch grid, with a message that says so', async () => {
    const b = createBackbone('vit-tiny', { imageSize: 16, seed: 1 });
    const state = await b.getState();
    b.dispose();
    const without = (name: string): ModuleState => Object.fromEntries(Object.entries(state).filter(([k]) => k !== name));
    const cases: [ModuleState, number, RegExp][] = [
      [without('norm.weight'), 16, /ViT state is missing "norm\.weight"/],
      [{ ...state, 'head.weight': { shape: [1], data: new Float32Array(1) } }, 16, /unexpected state entries head\.weight/],
      [state, 18, /image size 18 is not a multiple of patch 4/],
      [state, 24, /"pos_embed" is \[1, 17, 192\], expected \[1, 37, 192\]/],
    ];
    for (const [s, size, message] of cases) expect(() => encoderToOnnx({ backbone: 'vit-tiny', imageSize: size, tensors: s })).toThrow(message);
    expect(() => encoderToOnnx({ backbone: 'vit-huge', imageSize: 16, tensors: state })).toThrow(/unknown ViT backbone "vit-huge"/);
  });
});
