import * as tf from '@tensorflow/tfjs';
import { Conv2d, LayerNorm, Linear, gelu } from '../nn/layers.js';
import { Module, ModuleDict, type ForwardOptions } from '../nn/module.js';
import { truncNormalArray, type Rng } from '../nn/init.js';
import { Backbone } from './backbone.js';

export interface ViTConfig {
  imageSize: number;
  patchSize: number;
  dim: number;
  depth: number;
  heads: number;
  mlpRatio?: number;
  inChannels?: number;
}

/** Multi-head self-attention; `probs` keeps the softmax so the last block can hand out DINO attention maps. */
class Attention extends Module {
  private readonly qkv: Linear;
  private readonly proj: Linear;
  private readonly headDim: number;

  constructor(rng: Rng, readonly dim: number, readonly heads: number) {
    super();
    if (dim % heads !== 0) throw new Error(`ViT: dim ${dim} is not divisible by ${heads} heads`);
    this.headDim = dim / heads;
    this.qkv = this.addModule('qkv', new Linear(rng, dim, dim * 3, { init: 'trunc-normal' }));
    this.proj = this.addModule('proj', new Linear(rng, dim, dim, { init: 'trunc-normal' }));
  }

  /** x [N, T, D] → softmax(q·kᵀ/√d) per head, [N, heads, T, T], plus v [N, heads, T, d]. */
  probsAndValues(x: tf.Tensor): { probs: tf.Tensor4D; v: tf.Tensor4D } {
    const [n, t] = x.shape as [number, number, number];
    const qkv = tf.transpose(tf.reshape(this.qkv.forward(x), [n, t, 3, this.heads, this.headDim]), [2, 0, 3, 1, 4]);
    const [q, k, v] = tf.unstack(qkv, 0) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const logits = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(this.headDim));
    return { probs: tf.softmax(logits, -1) as tf.Tensor4D, v };
  }

  forward(x: tf.Tensor): tf.Tensor {
    const [n, t] = x.shape as [number, number, number];
    const { probs, v } = this.probsAndValues(x);
    const out = tf.reshape(tf.transpose(tf.matMul(probs, v), [0, 2, 1, 3]), [n, t, this.dim]);
    return this.proj.forward(out);
  }
}

class Mlp extends Module {
  private readonly fc1: Linear;
  private readonly fc2: Linear;

  constructor(rng: Rng, dim: number, hidden: number) {
    super();
    this.fc1 = this.addModule('fc1', new Linear(rng, dim, hidden, { init: 'trunc-normal' }));
    this.fc2 = this.addModule('fc2', new Linear(rng, hidden, dim, { init: 'trunc-normal' }));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return this.fc2.forward(gelu(this.fc1.forward(x)));
  }
}

/** Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)). */
class Block extends Module {
  readonly norm1: LayerNorm;
  readonly attn: Attention;
  private readonly norm2: LayerNorm;
  private readonly mlp: Mlp;

  constructor(rng: Rng, dim: number, heads: number, mlpRatio: number) {
    super();
    this.norm1 = this.addModule('norm1', new LayerNorm(dim));
    this.attn = this.addModule('attn', new Attention(rng, dim, heads));
    this.norm2 = this.addModule('norm2', new LayerNorm(dim));
    this.mlp = this.addModule('mlp', new Mlp(rng, dim, Math.round(dim * mlpRatio)));
  }

  forward(x: tf.Tensor): tf.Tensor {
    const y = tf.add(x, this.attn.forward(this.norm1.forward(x)));
    return tf.add(y, this.mlp.forward(this.norm2.forward(y)));
  }
}

/**
 * Vision Transformer (Dosovitskiy et al. 2021) as used by DINO/MoCo v3: conv patch embedding, a learned cls
 * token, learned position embedding (bilinearly resized for crops of another size, e.g. DINO's local crops),
 * pre-norm blocks, final LayerNorm; the feature is the cls token [N, dim].
 */
export class VisionTransformer extends Backbone {
  readonly outputDim: number;
  readonly gridSize: number;
  private readonly patchEmbed: Conv2d;
  private readonly clsToken: tf.Variable;
  private readonly posEmbed: tf.Variable;
  private readonly blocks: Block[];
  private readonly norm: LayerNorm;

  constructor(rng: Rng, readonly config: ViTConfig) {
    super();
    const { imageSize, patchSize, dim, depth, heads } = config;
    if (imageSize % patchSize !== 0) throw new Error(`ViT: image size ${imageSize} is not a multiple of patch ${patchSize}`);
    this.outputDim = dim;
    this.gridSize = imageSize / patchSize;
    const embed = new ModuleDict();
    this.addModule('patch_embed', embed);
    this.patchEmbed = embed.add('proj', new Conv2d(rng, config.inChannels ?? 3, dim, patchSize, { stride: patchSize, bias: true, init: 'trunc-normal' }));
    this.clsToken = this.addParameter('cls_token', [1, 1, dim], truncNormalArray(rng, dim, 0.02));
    const tokens = this.gridSize * this.gridSize + 1;
    this.posEmbed = this.addParameter('pos_embed', [1, tokens, dim], truncNormalArray(rng, tokens * dim, 0.02));
    const blocks = new ModuleDict();
    this.addModule('blocks', blocks);
    this.blocks = Array.from({ length: depth }, (_, i) => blocks.add(String(i), new Block(rng, dim, heads, config.mlpRatio ?? 4)));
    this.norm = this.addModule('norm', new LayerNorm(dim));
  }

  get patchSize(): number {
    return this.config.patchSize;
  }

  private tokens(x: tf.Tensor): tf.Tensor3D {
    if (x.rank !== 4) throw new Error(`ViT expects NHWC images, got [${x.shape.join(', ')}]`);
    const [n, h, w] = x.shape as [number, number, number, number];
    const p = this.config.patchSize;
    if (h % p !== 0 || w % p !== 0) throw new Error(`ViT: input ${h}×${w} is not a multiple of patch ${p}`);
    const gh = h / p;
    const gw = w / p;
    const dim = this.outputDim;
    const patches = tf.reshape(this.patchEmbed.forward(x), [n, gh * gw, dim]);
    const cls = tf.tile(this.clsToken, [n, 1, 1]);
    return tf.add(tf.concat([cls, patches], 1), this.positionEmbedding(gh, gw)) as tf.Tensor3D;
  }

  private positionEmbedding(gh: number, gw: number): tf.Tensor {
    const g = this.gridSize;
    if (gh === g && gw === g) return this.posEmbed;
    const dim = this.outputDim;
    const cls = tf.slice(this.posEmbed, [0, 0, 0], [1, 1, dim]);
    const grid = tf.reshape(tf.slice(this.posEmbed, [0, 1, 0], [1, g * g, dim]), [1, g, g, dim]) as tf.Tensor4D;
    const resized = tf.reshape(tf.image.resizeBilinear(grid, [gh, gw], false, true), [1, gh * gw, dim]);
    return tf.concat([cls, resized], 1);
  }

  forward(x: tf.Tensor, _options?: ForwardOptions): tf.Tensor2D {
    return tf.tidy(() => {
      let y: tf.Tensor = this.tokens(x);
      for (const block of this.blocks) y = block.forward(y);
      y = this.norm.forward(y);
      return tf.reshape(tf.slice(y, [0, 0, 0], [y.shape[0]!, 1, this.outputDim]), [y.shape[0]!, this.outputDim]) as tf.Tensor2D;
    });
  }

  /** The last block's attention from the cls token to every patch, per head: [N, heads, patches]. */
  attention(x: tf.Tensor): tf.Tensor3D {
    return tf.tidy(() => {
      let y: tf.Tensor = this.tokens(x);
      const last = this.blocks[this.blocks.length - 1]!;
      for (const block of this.blocks.slice(0, -1)) y = block.forward(y);
      const { probs } = last.attn.probsAndValues(last.norm1.forward(y));
      const [n, heads, t] = probs.shape;
      return tf.reshape(tf.slice(probs, [0, 0, 0, 1], [n, heads, 1, t - 1]), [n, heads, t - 1]) as tf.Tensor3D;
    });
  }
}
