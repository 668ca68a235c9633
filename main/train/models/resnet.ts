import * as tf from '@tensorflow/tfjs';
import { BatchNorm, Conv2d, MaxPool2d, globalAvgPool } from '../nn/layers.js';
import { Module, Sequential, type ForwardOptions } from '../nn/module.js';
import type { Rng } from '../nn/init.js';
import { Backbone } from './backbone.js';

/** conv3x3 → BN → ReLU → conv3x3 → BN, plus identity (or 1×1 conv + BN projection), → ReLU (He et al. 2016). */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm;
  private readonly conv2: Conv2d;
  private readonly bn2: BatchNorm;
  private readonly downsample: Sequential | null;

  constructor(rng: Rng, inChannels: number, planes: number, stride: number) {
    super();
    this.conv1 = this.addModule('conv1', new Conv2d(rng, inChannels, planes, 3, { stride, padding: 1 }));
    this.bn1 = this.addModule('bn1', new BatchNorm(planes));
    this.conv2 = this.addModule('conv2', new Conv2d(rng, planes, planes, 3, { padding: 1 }));
    this.bn2 = this.addModule('bn2', new BatchNorm(planes));
    this.downsample =
      stride !== 1 || inChannels !== planes
        ? this.addModule('downsample', new Sequential([new Conv2d(rng, inChannels, planes, 1, { stride }), new BatchNorm(planes)]))
        : null;
  }

  forward(x: tf.Tensor, options: ForwardOptions): tf.Tensor {
    let y = this.bn1.forwardRelu(this.conv1.forward(x), options);
    y = this.bn2.forward(this.conv2.forward(y), options);
    const identity = this.downsample ? this.downsample.forward(x, options) : x;
    return tf.relu(tf.add(y, identity));
  }
}

/** 1×1 → 3×3 (stride here, as torchvision "ResNet v1.5") → 1×1 ×4 expansion, with BN after each conv. */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm;
  private readonly conv2: Conv2d;
  private readonly bn2: BatchNorm;
  private readonly conv3: Conv2d;
  private readonly bn3: BatchNorm;
  private readonly downsample: Sequential | null;

  constructor(rng: Rng, inChannels: number, planes: number, stride: number) {
    super();
    const out = planes * Bottleneck.expansion;
    this.conv1 = this.addModule('conv1', new Conv2d(rng, inChannels, planes, 1));
    this.bn1 = this.addModule('bn1', new BatchNorm(planes));
    this.conv2 = this.addModule('conv2', new Conv2d(rng, planes, planes, 3, { stride, padding: 1 }));
    this.bn2 = this.addModule('bn2', new BatchNorm(planes));
    this.conv3 = this.addModule('conv3', new Conv2d(rng, planes, out, 1));
    this.bn3 = this.addModule('bn3', new BatchNorm(out));
    this.downsample =
      stride !== 1 || inChannels !== out
        ? this.addModule('downsample', new Sequential([new Conv2d(rng, inChannels, out, 1, { stride }), new BatchNorm(out)]))
        : null;
  }

  forward(x: tf.Tensor, options: ForwardOptions): tf.Tensor {
    let y = this.bn1.forwardRelu(this.conv1.forward(x), options);
    y = this.bn2.forwardRelu(this.conv2.forward(y), options);
    y = this.bn3.forward(this.conv3.forward(y), options);
    const identity = this.downsample ? this.downsample.forward(x, options) : x;
    return tf.relu(tf.add(y, identity));
  }
}

export interface ResNetConfig {
  block: 'basic' | 'bottleneck';
  /** Blocks per stage, e.g. [2, 2, 2, 2] for ResNet-18. */
  layers: number[];
  /** Planes per stage (before the bottleneck's ×4), e.g. [64, 128, 256, 512]. */
  widths: number[];
  /** Output channels of the stem conv; defaults to widths[0]. */
  stemWidth?: number;
  /**
   * 'cifar': 3×3 stride-1 conv, no max-pool (for inputs ≤ 64 px, where the ImageNet stem's ×4 reduction would
   * leave too few pixels); 'imagenet': 7×7 stride-2 conv + 3×3 stride-2 max-pool.
   */
  stem: 'cifar' | 'imagenet';
  inChannels?: number;
}

/** ResNet trunk ending in global average pooling; stage i > 0 halves the resolution in its first block. */
export class ResNet extends Backbone {
  readonly outputDim: number;
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm;
  private readonly maxpool: MaxPool2d | null;
  private readonly stages: Sequential[];

  constructor(rng: Rng, readonly config: ResNetConfig) {
    super();
    if (config.layers.length !== config.widths.length || config.layers.length === 0) {
      throw new Error('ResNet: layers and widths must be non-empty and of equal length');
    }
    const stemWidth = config.stemWidth ?? config.widths[0]!;
    const inChannels = config.inChannels ?? 3;
    const imagenet = config.stem === 'imagenet';
    this.conv1 = this.addModule(
      'conv1',
      new Conv2d(rng, inChannels, stemWidth, imagenet ? 7 : 3, { stride: imagenet ? 2 : 1, padding: imagenet ? 3 : 1 }),
    );
    this.bn1 = this.addModule('bn1', new BatchNorm(stemWidth));
    this.maxpool = imagenet ? new MaxPool2d(3, 2, 1) : null;
    const Block = config.block === 'basic' ? BasicBlock : Bottleneck;
    let channels = stemWidth;
    this.stages = config.layers.map((count, stage) => {
      const planes = config.widths[stage]!;
      const blocks: Module[] = [];
      for (let b = 0; b < count; b++) {
        blocks.push(new Block(rng, channels, planes, b === 0 && stage > 0 ? 2 : 1));
        channels = planes * Block.expansion;
      }
      return this.addModule(`layer${stage + 1}`, new Sequential(blocks));
    });
    this.outputDim = channels;
  }

  forward(x: tf.Tensor, options: ForwardOptions): tf.Tensor2D {
    return tf.tidy(() => {
      let y: tf.Tensor = this.bn1.forwardRelu(this.conv1.forward(x), options);
      if (this.maxpool) y = this.maxpool.forward(y);
      for (const stage of this.stages) y = stage.forward(y, options);
      return globalAvgPool(y);
    });
  }
}
