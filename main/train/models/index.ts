import { Rng } from '../nn/init.js';
import type { Backbone } from './backbone.js';
import { ResNet } from './resnet.js';
import { VisionTransformer } from './vit.js';

export { Backbone } from './backbone.js';
export { ResNet, BasicBlock, Bottleneck, type ResNetConfig } from './resnet.js';
export { VisionTransformer, type ViTConfig } from './vit.js';

export const BACKBONE_NAMES = ['small', 'resnet18', 'resnet50', 'vit-tiny', 'vit-small'] as const;
export type BackboneName = (typeof BACKBONE_NAMES)[number];

export interface BackboneOptions {
  imageSize: number;
  seed: number;
  /** ViT only; defaults to defaultPatchSize(imageSize). */
  patchSize?: number;
}

/** Patches scale with the image: 4 px up to 63 px inputs (CIFAR), 8 px up to 127, the papers' 16 beyond. */
export function defaultPatchSize(imageSize: number): number {
  if (imageSize >= 128) return 16;
  if (imageSize >= 64) return 8;
  return 4;
}

/** The CIFAR stem (3×3, no max-pool) for inputs ≤ 64 px, the ImageNet stem otherwise. */
export function resnetStem(imageSize: number): 'cifar' | 'imagenet' {
  return imageSize <= 64 ? 'cifar' : 'imagenet';
}

export function isBackboneName(name: string): name is BackboneName {
  return (BACKBONE_NAMES as readonly string[]).includes(name);
}

export function createBackbone(name: string, options: BackboneOptions): Backbone {
  const { imageSize, seed } = options;
  if (!Number.isInteger(imageSize) || imageSize < 8) throw new Error(`image size must be an integer ≥ 8, got ${imageSize}`);
  const rng = new Rng(seed);
  const stem = resnetStem(imageSize);
  const patchSize = options.patchSize ?? defaultPatchSize(imageSize);
  switch (name) {
    case 'small':
      // The quick-run reference net: one basic block per stage at 32/64/128/192 channels.
      return new ResNet(rng, { block: 'basic', layers: [1, 1, 1, 1], widths: [32, 64, 128, 192], stem });
    case 'resnet18':
      return new ResNet(rng, { block: 'basic', layers: [2, 2, 2, 2], widths: [64, 128, 256, 512], stem });
    case 'resnet50':
      return new ResNet(rng, { block: 'bottleneck', layers: [3, 4, 6, 3], widths: [64, 128, 256, 512], stem });
    case 'vit-tiny':
      return new VisionTransformer(rng, { imageSize, patchSize, dim: 192, depth: 12, heads: 3 });
    case 'vit-small':
      return new VisionTransformer(rng, { imageSize, patchSize, dim: 384, depth: 12, heads: 6 });
    default:
      throw new Error(`unknown backbone "${name}"; expected one of ${BACKBONE_NAMES.join(', ')}`);
  }
}
