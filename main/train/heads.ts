import * as tf from '@tensorflow/tfjs';
import { BatchNorm, GELU, Linear, ReLU, l2Normalize, type WeightInit } from './nn/layers.js';
import { Module, Sequential, type ForwardOptions } from './nn/module.js';
import { truncNormalArray, type Rng } from './nn/init.js';

export interface MlpSpec {
  inDim: number;
  hiddenDim: number;
  outDim: number;
  /** Number of Linear layers, ≥ 1. */
  layers: number;
  /** BatchNorm after each hidden Linear (whose bias is then dropped). */
  batchNorm: boolean;
  /** BatchNorm after the output Linear too; 'non-affine' = without learned scale/shift (MoCo v3 projector). */
  lastBatchNorm: false | 'affine' | 'non-affine';
  activation: 'relu' | 'gelu';
  init?: WeightInit;
}

/**
 * A Sequential (same numbered children, so checkpoint names and EMA pairs are unchanged) whose forward hands each
 * Linear → ReLU and BatchNorm → ReLU pair to that layer's forwardRelu: on webgpu the pair runs as the fused shaders
 * of compute/webgpu/fused.ts, forward and backward; on other backends forwardRelu is relu(forward), as before.
 */
export class Mlp extends Sequential {
  /** Each step: one layer, or a Linear/BatchNorm whose following ReLU it applies itself. */
  private readonly steps: { layer: Module; relu: boolean }[] = [];

  constructor(parts: Module[]) {
    super(parts);
    for (let i = 0; i < parts.length; i++) {
      const layer = parts[i]!;
      const relu = parts[i + 1] instanceof ReLU && (layer instanceof Linear || layer instanceof BatchNorm);
      this.steps.push({ layer, relu });
      if (relu) i++;
    }
  }

  /** How many Linear/BatchNorm + ReLU pairs the forward fuses (tests check the heads really take the fused path). */
  get fusedPairs(): number {
    return this.steps.filter((s) => s.relu).length;
  }

  override forward(x: tf.Tensor, options: ForwardOptions): tf.Tensor {
    let y = x;
    for (const { layer, relu } of this.steps) {
      if (!relu) y = layer.forward(y, options);
      else if (layer instanceof Linear) y = layer.forwardRelu(y);
      else y = (layer as BatchNorm).forwardRelu(y, options);
    }
    return y;
  }
}

/** The one MLP builder: [Linear → (BN) → act] × (layers − 1) → Linear → (BN). Children are numbered. */
export function buildMlp(rng: Rng, spec: MlpSpec): Mlp {
  if (!Number.isInteger(spec.layers) || spec.layers < 1) throw new Error(`MLP needs ≥ 1 layer, got ${spec.layers}`);
  const parts: Module[] = [];
  let dim = spec.inDim;
  for (let i = 0; i < spec.layers - 1; i++) {
    parts.push(new Linear(rng, dim, spec.hiddenDim, { bias: !spec.batchNorm, init: spec.init }));
    if (spec.batchNorm) parts.push(new BatchNorm(spec.hiddenDim));
    parts.push(spec.activation === 'gelu' ? new GELU() : new ReLU());
    dim = spec.hiddenDim;
  }
  parts.push(new Linear(rng, dim, spec.outDim, { bias: !spec.lastBatchNorm, init: spec.init }));
  if (spec.lastBatchNorm) parts.push(new BatchNorm(spec.outDim, { affine: spec.lastBatchNorm === 'affine' }));
  return new Mlp(parts);
}

type Sizes = Partial<Pick<MlpSpec, 'hiddenDim' | 'outDim'>>;

/**
 * SimCLR (Chen et al. 2020): "we use a MLP with one hidden layer to obtain z = g(h) = W(2)σ(W(1)h)", 128-d out;
 * hidden 2048 (BN as in the official code). SimCLR v2: "a 3-layer projection head" (v2: true).
 * [N, inDim] → [N, 128].
 */
export function simclrProjector(inDim: number, options: Sizes & { v2?: boolean } = {}): MlpSpec {
  return {
    inDim,
    hiddenDim: options.hiddenDim ?? 2048,
    outDim: options.outDim ?? 128,
    layers: options.v2 ? 3 : 2,
    batchNorm: true,
    lastBatchNorm: false,
    activation: 'relu',
  };
}

/** MoCo v2 (Chen et al. 2020): "replace the fc head in MoCo with a 2-layer MLP head (hidden layer 2048-d, with ReLU)", 128-d out, no BN. */
export function mocoV2Projector(inDim: number, options: Sizes = {}): MlpSpec {
  return { inDim, hiddenDim: options.hiddenDim ?? 2048, outDim: options.outDim ?? 128, layers: 2, batchNorm: false, lastBatchNorm: false, activation: 'relu' };
}

/**
 * MoCo v3 (Chen, Xie, He 2021): "the projection head is a 3-layer MLP … the hidden layers of both MLPs are
 * 4096-d and are with ReLU; the output layers of both MLPs are 256-d … all layers in both MLPs have BN".
 * As in the official code the projector's last BN has no affine, the predictor has none. [N, inDim] → [N, 256].
 */
export function mocoV3Projector(inDim: number, options: Sizes = {}): MlpSpec {
  return { inDim, hiddenDim: options.hiddenDim ?? 4096, outDim: options.outDim ?? 256, layers: 3, batchNorm: true, lastBatchNorm: 'non-affine', activation: 'relu' };
}

/** MoCo v3 predictor: "the prediction head is a 2-layer MLP", 4096 hidden, [N, 256] → [N, 256]. */
export function mocoV3Predictor(dim: number, options: Sizes = {}): MlpSpec {
  return { inDim: dim, hiddenDim: options.hiddenDim ?? 4096, outDim: options.outDim ?? dim, layers: 2, batchNorm: true, lastBatchNorm: false, activation: 'relu' };
}

/**
 * BYOL (Grill et al. 2020): "a multi-layer perceptron (MLP) … a linear layer with output size 4096 followed by
 * batch normalization, rectified linear units (ReLU), and a final linear layer with output dimension 256".
 * Projector [N, inDim] → [N, 256]; the predictor has the same shape, [N, 256] → [N, 256].
 */
export function byolProjector(inDim: number, options: Sizes = {}): MlpSpec {
  return { inDim, hiddenDim: options.hiddenDim ?? 4096, outDim: options.outDim ?? 256, layers: 2, batchNorm: true, lastBatchNorm: false, activation: 'relu' };
}

export function byolPredictor(dim: number, options: Sizes = {}): MlpSpec {
  return byolProjector(dim, { hiddenDim: options.hiddenDim, outDim: options.outDim ?? dim });
}

export interface DinoHeadOptions {
  hiddenDim?: number;
  bottleneckDim?: number;
  /** K prototypes; "65 536" in the paper. */
  outDim?: number;
}

/** Linear without bias whose weight columns are unit length, g fixed to 1 (DINO's norm_last_layer). */
class WeightNormLinear extends Module {
  readonly weight: tf.Variable;

  constructor(rng: Rng, inDim: number, outDim: number) {
    super();
    this.weight = this.addParameter('weight_v', [inDim, outDim], truncNormalArray(rng, inDim * outDim, 0.02));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.matMul(x as tf.Tensor2D, l2Normalize(this.weight, 0) as tf.Tensor2D);
  }
}

/**
 * DINO head (Caron et al. 2021): "a 3-layer multi-layer perceptron (MLP) with hidden dimension 2048 followed by
 * ℓ2 normalization and a weight normalized fully connected layer with K dimensions". GELU, no BN, bottleneck 256.
 * [N, inDim] → [N, K].
 */
export class DinoHead extends Module {
  readonly outDim: number;
  private readonly mlp: Sequential;
  private readonly lastLayer: WeightNormLinear;

  constructor(rng: Rng, inDim: number, options: DinoHeadOptions = {}) {
    super();
    const bottleneck = options.bottleneckDim ?? 256;
    this.outDim = options.outDim ?? 65536;
    this.mlp = this.addModule(
      'mlp',
      buildMlp(rng, { inDim, hiddenDim: options.hiddenDim ?? 2048, outDim: bottleneck, layers: 3, batchNorm: false, lastBatchNorm: false, activation: 'gelu', init: 'trunc-normal' }),
    );
    this.lastLayer = this.addModule('last_layer', new WeightNormLinear(rng, bottleneck, this.outDim));
  }

  forward(x: tf.Tensor, options: ForwardOptions): tf.Tensor {
    return tf.tidy(() => this.lastLayer.forward(l2Normalize(this.mlp.forward(x, options))));
  }
}
