import type * as tf from '@tensorflow/tfjs';
import { byolPredictor, byolProjector } from '../heads.js';
import { byolLoss } from '../losses/byol.js';
import type { MethodOptions } from './base.js';
import { PredictorTargetMethod } from './predictor-target.js';

/**
 * BYOL (Grill et al. 2020): online backbone → projector → predictor regresses the target (EMA) backbone →
 * projector of the other view; symmetric normalized MSE. LARS lr 0.2·B/256, wd 1.5e-6, τ from 0.996 to 1 by a
 * cosine. Reads: hiddenDim, outDim, predictorHiddenDim, baseMomentum.
 */
export class BYOL extends PredictorTargetMethod {
  readonly name = 'byol';

  constructor(options: MethodOptions) {
    super(options, { optimizer: 'lars', lr: 0.2, weightDecay: 1.5e-6, hiddenDim: 4096, outDim: 256, predictorHiddenDim: 4096, baseMomentum: 0.996 });
  }

  protected heads(inDim: number) {
    const { hiddenDim, outDim, predictorHiddenDim } = this.options;
    return { projector: byolProjector(inDim, { hiddenDim, outDim }), predictor: byolPredictor(outDim, { hiddenDim: predictorHiddenDim }) };
  }

  protected pairLoss(p1: tf.Tensor2D, p2: tf.Tensor2D, z1: tf.Tensor2D, z2: tf.Tensor2D): tf.Scalar {
    return byolLoss(p1, p2, z1, z2);
  }
}
