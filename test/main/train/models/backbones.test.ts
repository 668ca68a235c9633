import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../../main/train/nn/index.js';
import {
  BACKBONE_NAMES,
  ResNet,
  VisionTransformer,
  createBackbone,
  defaultPatchSize,
  resnetStem,
} from '../../../../main/train/models/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** ViT parameters by formula: patch conv, cls, pos, per block (2 LN, qkv, proj, 2 MLP), final LN. */
function vitParams(dim: number, depth: number, patch: number, tokens: number): number {
  const block = 4 * dim + (dim * 3 * dim + 3 * dim) + (dim * dim + dim) + (dim * 4 * dim + 4 * dim) + (4 * dim * dim + dim);
  return patch * patch * 3 * dim + dim + dim + tokens * dim + depth * block + 2 * dim;
}

describe('backbones', () => {
  it('small: one basic block per stage at 32/64/128/192, [N, 192] features', () => {
    const net = createBackbone('small', { imageSize: 16, seed: 1 });
    // Counted by hand: stem 3→32 (864 + BN 64); stage1 32→32 (2·9216 + 2·64); stage2 32→64 (18432 + 36864 +
    // 1×1 2048 + 3·128); stage3 (73728 + 147456 + 8192 + 3·256); stage4 (221184 + 331776 + 24576 + 3·384).
    expect(net.numParameters()).toBe(886_048);
    expect(net.outputDim).toBe(192);
    const y = net.forward(tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 1), { training: false });
    expect(y.shape).toEqual([2, 192]);
    expect(Number.isFinite(y.sum().dataSync()[0]!)).toBe(true);
    tf.dispose(y);
    net.dispose();
  });

  it('ResNet-18/50 match torchvision counts without fc (CIFAR stem) and pick the stem by size', () => {
    expect(resnetStem(32)).toBe('cifar');
    expect(resnetStem(64)).toBe('cifar');
    expect(resnetStem(96)).toBe('imagenet');
    const r18 = createBackbone('resnet18', { imageSize: 32, seed: 1 });
    expect(r18.numParameters()).toBe(11_168_832); // torchvision 11,689,512 − fc 513,000 − 7×7→3×3 stem 7,680
    expect(r18.outputDim).toBe(512);
    r18.dispose();
    const r18big = createBackbone('resnet18', { imageSize: 96, seed: 1 });
    expect(r18big.numParameters()).toBe(11_176_512); // ImageNet stem: torchvision minus fc
    r18big.dispose();
    const r50 = createBackbone('resnet50', { imageSize: 32, seed: 1 });
    expect(r50.numParameters()).toBe(23_500_352); // torchvision 25,557,032 − fc 2,049,000 − 7,680
    expect(r50.outputDim).toBe(2048);
    r50.dispose();
  });

  it('the ImageNet stem reduces resolution 4× before the stages (tiny widths)', () => {
    const net = new ResNet(new Rng(1), { block: 'basic', layers: [1, 1], widths: [4, 8], stem: 'imagenet' });
    const y = net.forward(tf.zeros([1, 72, 72, 3]), { training: false });
    expect(y.shape).toEqual([1, 8]);
    expect(net.namedParameters()[0]![1].shape).toEqual([7, 7, 3, 4]);
    tf.dispose(y);
    net.dispose();
  });

  it('ViT-Tiny has the expected size; patches scale with the image', () => {
    expect(defaultPatchSize(32)).toBe(4);
    expect(defaultPatchSize(224)).toBe(16);
    const tiny = createBackbone('vit-tiny', { imageSize: 32, seed: 1 });
    expect(tiny.numParameters()).toBe(vitParams(192, 12, 4, 65));
    expect(tiny.outputDim).toBe(192);
    tiny.dispose();
    expect(() => createBackbone('vit-tiny', { imageSize: 30, seed: 1 })).toThrow(/multiple of patch/);
    expect(() => createBackbone('nope', { imageSize: 32, seed: 1 })).toThrow(/unknown backbone "nope"/);
    expect(BACKBONE_NAMES).toEqual(['small', 'resnet18', 'resnet50', 'vit-tiny', 'vit-small']);
  });

  it('a tiny ViT gives cls features, takes other crop sizes and returns cls attention per head', () => {
    const vit = new VisionTransformer(new Rng(2), { imageSize: 8, patchSize: 4, dim: 8, depth: 2, heads: 2 });
    expect(vit.namedParameters().map(([n]) => n)).toContain('blocks.1.attn.qkv.weight');
    const x = tf.randomNormal([3, 8, 8, 3], 0, 1, 'float32', 3);
    expect(vit.forward(x, { training: true }).shape).toEqual([3, 8]);
    expect(vit.forward(tf.randomNormal([2, 4, 4, 3]), { training: true }).shape).toEqual([2, 8]);
    const att = vit.attention(x);
    expect(att.shape).toEqual([3, 2, 4]);
    // each head's cls row sums to 1 over all tokens, so the patch part is ≤ 1 and positive
    const v = att.dataSync();
    for (let i = 0; i < 6; i++) {
      const s = v[i * 4]! + v[i * 4 + 1]! + v[i * 4 + 2]! + v[i * 4 + 3]!;
      expect(s).toBeGreaterThan(0);
      expect(s).toBeLessThan(1);
    }
    vit.dispose();
  });

  it('gradients reach every parameter of a tiny ResNet and ViT', () => {
    for (const net of [
      new ResNet(new Rng(1), { block: 'bottleneck', layers: [1, 1], widths: [2, 4], stem: 'cifar' }),
      new VisionTransformer(new Rng(1), { imageSize: 8, patchSize: 4, dim: 8, depth: 1, heads: 2 }),
    ]) {
      const x = tf.randomNormal([4, 8, 8, 3], 0, 1, 'float32', 4);
      const vars = net.parameters();
      const { value, grads } = tf.variableGrads(() => tf.tidy(() => net.forward(x, { training: true }).square().mean() as tf.Scalar), vars);
      for (const v of vars) expect(grads[v.name], v.name).toBeDefined();
      tf.dispose([value, x]);
      tf.dispose(grads);
      net.dispose();
    }
  });

  it('the same seed builds the same network', async () => {
    const a = await createBackbone('small', { imageSize: 32, seed: 42 }).getState();
    const b = await createBackbone('small', { imageSize: 32, seed: 42 }).getState();
    expect(b['layer3.0.conv1.weight']).toEqual(a['layer3.0.conv1.weight']);
  });
});
