import * as tf from '@tensorflow/tfjs';
import { batchNormTrain } from '../../compute/native.js';
import { batchNormReluTrain, biasRelu } from '../../compute/webgpu/fused.js';
import { Module, type ForwardOptions } from './module.js';
import { filledArray, normalArray, truncNormalArray, uniformArray, type Rng } from './init.js';

export type WeightInit = 'kaiming-fan-out' | 'torch-default' | 'trunc-normal';

export interface Conv2dOptions {
  stride?: number;
  /** Symmetric zero padding in pixels (PyTorch semantics; explicit so ONNX export maps 1:1). */
  padding?: number;
  bias?: boolean;
}

/**
 * 2-D convolution over NHWC input with an HWIO filter `weight` [k, k, in, out]. Default init is He/Kaiming
 * normal with fan-out (std = sqrt(2 / (k·k·out))), as torchvision's ResNet.
 */
export class Conv2d extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  readonly stride: number;
  readonly padding: number;

  constructor(
    rng: Rng,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    options: Conv2dOptions & { init?: WeightInit } = {},
  ) {
    super();
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
    const k = kernelSize;
    const size = k * k * inChannels * outChannels;
    const init = options.init ?? 'kaiming-fan-out';
    const data =
      init === 'trunc-normal'
        ? truncNormalArray(rng, size, 0.02)
        : init === 'torch-default'
          ? uniformArray(rng, size, 1 / Math.sqrt(k * k * inChannels))
          : normalArray(rng, size, Math.sqrt(2 / (k * k * outChannels)));
    this.weight = this.addParameter('weight', [k, k, inChannels, outChannels], data);
    this.bias = options.bias ? this.addParameter('bias', [outChannels], filledArray(outChannels, 0)) : null;
  }

  forward(x: tf.Tensor): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== this.inChannels) {
      throw new Error(`Conv2d expects [N, H, W, ${this.inChannels}], got [${x.shape.join(', ')}]`);
    }
    const y = tf.conv2d(x as tf.Tensor4D, this.weight as tf.Tensor4D, this.stride, this.padding);
    return this.bias ? tf.add(y, this.bias) : y;
  }

  /** relu(forward(x)); on webgpu the bias and the ReLU are one fused shader. */
  forwardRelu(x: tf.Tensor): tf.Tensor4D {
    if (this.bias) {
      const y = tf.conv2d(x as tf.Tensor4D, this.weight as tf.Tensor4D, this.stride, this.padding);
      const fused = biasRelu(y, this.bias);
      if (fused) return fused as tf.Tensor4D;
      return tf.relu(tf.add(y, this.bias)) as tf.Tensor4D;
    }
    return tf.relu(this.forward(x));
  }
}

/**
 * y = x·W + b with W [in, out]. Default init is PyTorch's nn.Linear (U(±1/sqrt(in))); ViTs use trunc-normal
 * std 0.02 with zero bias.
 */
export class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;

  constructor(
    rng: Rng,
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: { bias?: boolean; init?: WeightInit } = {},
  ) {
    super();
    const size = inFeatures * outFeatures;
    const init = options.init ?? 'torch-default';
    const bound = 1 / Math.sqrt(inFeatures);
    const data =
      init === 'trunc-normal'
        ? truncNormalArray(rng, size, 0.02)
        : init === 'kaiming-fan-out'
          ? normalArray(rng, size, Math.sqrt(2 / outFeatures))
          : uniformArray(rng, size, bound);
    this.weight = this.addParameter('weight', [inFeatures, outFeatures], data);
    if (options.bias ?? true) {
      const biasData = init === 'torch-default' ? uniformArray(rng, outFeatures, bound) : filledArray(outFeatures, 0);
      this.bias = this.addParameter('bias', [outFeatures], biasData);
    } else {
      this.bias = null;
    }
  }

  forward(x: tf.Tensor): tf.Tensor {
    const last = x.shape[x.rank - 1];
    if (last !== this.inFeatures) throw new Error(`Linear expects last dim ${this.inFeatures}, got ${last}`);
    const flat = x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, this.inFeatures]);
    let y: tf.Tensor = tf.matMul(flat as tf.Tensor2D, this.weight as tf.Tensor2D);
    if (this.bias) y = tf.add(y, this.bias);
    return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), this.outFeatures]);
  }

  /** relu(forward(x)); on webgpu the bias and the ReLU are one fused shader. */
  forwardRelu(x: tf.Tensor): tf.Tensor {
    if (this.bias && x.rank === 2 && x.shape[1] === this.inFeatures) {
      // the product is kept for the composed path, so a backend without the fused shader does not multiply twice
      const product = tf.matMul(x as tf.Tensor2D, this.weight as tf.Tensor2D);
      return biasRelu(product, this.bias) ?? tf.relu(tf.add(product, this.bias));
    }
    return tf.relu(this.forward(x));
  }
}

/**
 * Batch normalisation over the last (channel) axis, for [N, C] (BatchNorm1d) and [N, H, W, C] (BatchNorm2d)
 * alike. PyTorch conventions: running = (1 − momentum)·running + momentum·batch, momentum 0.1, eps 1e-5, the
 * running variance uses the unbiased batch variance, training normalises with the biased one.
 */
export class BatchNorm extends Module {
  readonly weight: tf.Variable | null;
  readonly bias: tf.Variable | null;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  readonly momentum: number;
  readonly eps: number;

  constructor(
    readonly numFeatures: number,
    options: { momentum?: number; eps?: number; affine?: boolean } = {},
  ) {
    super();
    this.momentum = options.momentum ?? 0.1;
    this.eps = options.eps ?? 1e-5;
    const affine = options.affine ?? true;
    this.weight = affine ? this.addParameter('weight', [numFeatures], filledArray(numFeatures, 1)) : null;
    this.bias = affine ? this.addParameter('bias', [numFeatures], filledArray(numFeatures, 0)) : null;
    this.runningMean = this.addBuffer('running_mean', [numFeatures], filledArray(numFeatures, 0));
    this.runningVar = this.addBuffer('running_var', [numFeatures], filledArray(numFeatures, 1));
  }

  forward(x: tf.Tensor, options: ForwardOptions): tf.Tensor {
    if ((x.rank !== 2 && x.rank !== 4) || x.shape[x.rank - 1] !== this.numFeatures) {
      throw new Error(`BatchNorm expects [N, ${this.numFeatures}] or [N, H, W, ${this.numFeatures}], got [${x.shape.join(', ')}]`);
    }
    if (options.training && this.weight && this.bias) {
      // the native CPU backend does this in one kernel forward and one backward (null elsewhere)
      const fused = batchNormTrain(x, this.weight, this.bias, this.eps);
      if (fused) {
        const [y, mean, variance] = fused;
        if (options.updateStats ?? true) this.updateRunningStats(mean, variance, x.size / this.numFeatures);
        tf.dispose([mean, variance]);
        return y;
      }
    }
    let mean: tf.Tensor;
    let variance: tf.Tensor;
    if (options.training) {
      const axes = x.rank === 2 ? [0] : [0, 1, 2];
      const moments = tf.moments(x, axes);
      mean = moments.mean;
      variance = moments.variance;
      if (options.updateStats ?? true) this.updateRunningStats(mean, variance, x.size / this.numFeatures);
    } else {
      mean = this.runningMean;
      variance = this.runningVar;
    }
    let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.eps)));
    if (this.weight) y = tf.mul(y, this.weight);
    if (this.bias) y = tf.add(y, this.bias);
    return y;
  }

  /**
   * relu(forward(x)). In training on webgpu, batch norm and the ReLU are one fused kernel forward and one backward
   * (compute/webgpu/fused.ts); elsewhere the composed ops (or the native fused batch norm) and tf.relu.
   */
  forwardRelu(x: tf.Tensor, options: ForwardOptions): tf.Tensor {
    if (options.training && this.weight && this.bias && x.shape[x.rank - 1] === this.numFeatures && (x.rank === 2 || x.rank === 4)) {
      const fused = batchNormReluTrain(x, this.weight, this.bias, this.eps);
      if (fused) {
        const [y, mean, variance] = fused;
        if (options.updateStats ?? true) this.updateRunningStats(mean, variance, x.size / this.numFeatures);
        tf.dispose([mean, variance]);
        return y;
      }
    }
    return tf.relu(this.forward(x, options));
  }

  private updateRunningStats(mean: tf.Tensor, variance: tf.Tensor, count: number): void {
    const m = this.momentum;
    tf.tidy(() => {
      // assign() is not taped, so no gradient flows into the running statistics
      const unbiased = tf.mul(variance, count > 1 ? count / (count - 1) : 1);
      this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - m), tf.mul(mean, m)));
      this.runningVar.assign(tf.add(tf.mul(this.runningVar, 1 - m), tf.mul(unbiased, m)));
    });
  }
}

/** Layer normalisation over the last axis (ViT: eps 1e-6). */
export class LayerNorm extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(
    readonly dim: number,
    readonly eps = 1e-6,
  ) {
    super();
    this.weight = this.addParameter('weight', [dim], filledArray(dim, 1));
    this.bias = this.addParameter('bias', [dim], filledArray(dim, 0));
  }

  forward(x: tf.Tensor): tf.Tensor {
    const { mean, variance } = tf.moments(x, -1, true);
    const y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.eps)));
    return tf.add(tf.mul(y, this.weight), this.bias);
  }
}

export class ReLU extends Module {
  forward(x: tf.Tensor): tf.Tensor {
    return tf.relu(x);
  }
}

/** Exact GELU, x·Φ(x) = x/2·(1 + erf(x/√2)); tfjs has no gelu op. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
}

export class GELU extends Module {
  forward(x: tf.Tensor): tf.Tensor {
    return gelu(x);
  }
}

/** [N, H, W, C] → [N, C]. */
export function globalAvgPool(x: tf.Tensor): tf.Tensor2D {
  return tf.mean(x, [1, 2]) as tf.Tensor2D;
}

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: number,
    readonly stride: number,
    readonly padding: number,
  ) {
    super();
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.maxPool(x as tf.Tensor4D, this.kernelSize, this.stride, this.padding);
  }
}

/** Row-wise L2 normalisation, safe at zero (as torch.nn.functional.normalize, eps 1e-12). */
export function l2Normalize(x: tf.Tensor, axis = -1): tf.Tensor {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.norm(x, 'euclidean', axis, true), 1e-12)));
}
