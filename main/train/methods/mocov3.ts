import type * as tf from '@tensorflow/tfjs';
import { mocoV3Predictor, mocoV3Projector } from '../heads.js';
import { mocoV3Loss } from '../losses/mocov3.js';
import type { MethodOptions } from './base.js';
import { PredictorTargetMethod } from './predictor-target.js';

/**
 * MoCo v3 (Chen, Xie, He 2021), made for ViTs: backbone → 3-layer projector → 2-layer predictor; keys from the
 * momentum backbone + projector of the same batch, no queue; symmetric loss ctr(q1, k2) + ctr(q2, k1), τ 0.2.
 * AdamW lr 1.5e-4·B/256, wd 0.1; momentum 0.99 rising to 1 by a cosine.
 * Reads: temperature, hiddenDim, outDim, predictorHiddenDim, baseMomentum.
 */
export class MoCoV3 extends PredictorTargetMethod {
  readonly name = 'mocov3';

  constructor(options: MethodOptions) {
    super(options, { optimizer: 'adamw', lr: 1.5e-4, weightDecay: 0.1, temperature: 0.2, hiddenDim: 4096, outDim: 256, predictorHiddenDim: 4096, baseMomentum: 0.99 });
  }

  protected heads(inDim: number) {
    const { hiddenDim, outDim, predictorHiddenDim } = this.options;
    return { projector: mocoV3Projector(inDim, { hiddenDim, outDim }), predictor: mocoV3Predictor(outDim, { hiddenDim: predictorHiddenDim }) };
  }

  /** queries are the online predictions, keys the target projections */
  protected pairLoss(q1: tf.Tensor2D, q2: tf.Tensor2D, k1: tf.Tensor2D, k2: tf.Tensor2D): tf.Scalar {
    return mocoV3Loss(q1, q2, k1, k2, this.options.temperature);
  }
}
