import type * as tf from '@tensorflow/tfjs';
import { buildMlp, byolPredictor, byolProjector } from '../heads.js';
import { byolLoss } from '../losses/byol.js';
import type { Rng } from '../nn/init.js';
import type { Backbone } from '../models/index.js';
import { cosineMomentum } from '../momentum.js';
import { Method, type MethodOptions, type ViewOutputs } from './base.js';

/**
 * BYOL (Grill et al. 2020): online backbone → projector → predictor regresses the target (EMA) backbone →
 * projector of the other view; symmetric normalized MSE. LARS lr 0.2·B/256, wd 1.5e-6, τ from 0.996 to 1 by a
 * cosine. Reads: hiddenDim, outDim, predictorHiddenDim, baseMomentum.
 */
export class BYOL extends Method {
  readonly name = 'byol';

  constructor(options: MethodOptions) {
    super(options, { optimizer: 'lars', lr: 0.2, weightDecay: 1.5e-6, hiddenDim: 4096, outDim: 256, predictorHiddenDim: 4096, baseMomentum: 0.996 });
  }

  protected build(rng: Rng): void {
    const { hiddenDim, outDim, predictorHiddenDim } = this.options;
    const backbone = this.modules.add('backbone', this.newBackbone());
    const projector = byolProjector(backbone.outputDim, { hiddenDim, outDim });
    this.modules.add('projector', buildMlp(rng, projector));
    this.modules.add('predictor', buildMlp(rng, byolPredictor(outDim, { hiddenDim: predictorHiddenDim })));
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
    return byolLoss(p1, p2, z1, z2);
  }
}
