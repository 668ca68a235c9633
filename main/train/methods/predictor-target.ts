import type * as tf from '@tensorflow/tfjs';
import { buildMlp, type MlpSpec } from '../heads.js';
import type { Rng } from '../nn/init.js';
import type { Backbone } from '../models/index.js';
import { cosineMomentum } from '../momentum.js';
import { Method, type ViewOutputs } from './base.js';

/**
 * The shape BYOL and MoCo v3 share: online backbone → projector → predictor, a target (EMA) backbone → projector
 * that the predictor's output is compared with across views, the EMA momentum rising to 1 by a cosine. A subclass
 * names its head sizes and its loss. Reads: hiddenDim, outDim, predictorHiddenDim, baseMomentum.
 */
export abstract class PredictorTargetMethod extends Method {
  /** The projector (also the target's) for a backbone of `inDim` outputs, and the predictor over its outputs. */
  protected abstract heads(inDim: number): { projector: MlpSpec; predictor: MlpSpec };
  /** The loss between online predictions and target projections, each of both views. */
  protected abstract pairLoss(p1: tf.Tensor2D, p2: tf.Tensor2D, z1: tf.Tensor2D, z2: tf.Tensor2D): tf.Scalar;

  protected build(rng: Rng): void {
    const backbone = this.modules.add('backbone', this.newBackbone());
    const { projector, predictor } = this.heads(backbone.outputDim);
    this.modules.add('projector', buildMlp(rng, projector));
    this.modules.add('predictor', buildMlp(rng, predictor));
    this.modules.add('momentum_backbone', this.newBackbone());
    this.modules.add('momentum_projector', buildMlp(rng, projector));
  }

  protected learnable(): string[] {
    return ['backbone', 'projector', 'predictor'];
  }

  protected override momentumPairs(): [string, string][] {
    return [
      ['backbone', 'momentum_backbone'],
      ['projector', 'momentum_projector'],
    ];
  }

  override momentumAt(step: number): number {
    return cosineMomentum(step, this.options.totalSteps, this.options.baseMomentum);
  }

  protected forward(views: tf.Tensor4D[]): ViewOutputs {
    const backbone = this.member<Backbone>('backbone');
    const projector = this.member('projector');
    const predictor = this.member('predictor');
    const o = Method.online;
    return { p: this.perView(views, (x) => predictor.forward(projector.forward(backbone.forward(x, o), o), o)) };
  }

  protected override momentumForward(views: tf.Tensor4D[]): ViewOutputs {
    const backbone = this.member<Backbone>('momentum_backbone');
    const projector = this.member('momentum_projector');
    return { z: this.perView(views, (x) => projector.forward(backbone.forward(x, Method.target), Method.target)) };
  }

  protected loss(online: ViewOutputs, target: ViewOutputs): tf.Scalar {
    const [p1, p2] = online['p'] as [tf.Tensor2D, tf.Tensor2D];
    const [z1, z2] = target['z'] as [tf.Tensor2D, tf.Tensor2D];
    return this.pairLoss(p1, p2, z1, z2);
  }
}
