import type * as tf from '@tensorflow/tfjs';
import { Module, type ForwardOptions } from '../nn/module.js';

/** An encoder: NHWC float images → features [N, outputDim]. */
export abstract class Backbone extends Module {
  abstract readonly outputDim: number;
  abstract override forward(x: tf.Tensor, options: ForwardOptions): tf.Tensor2D;
}
