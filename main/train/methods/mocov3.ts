import type * as tf from '@tensorflow/tfjs';
import { buildMlp, mocoV3Predictor, mocoV3Projector } from '../heads.js';
import { mocoV3Loss } from '../losses/mocov3.js';
import type { Rng } from '../nn/init.js';
import type { Backbone } from '../models/index.js';
import { cosineMomentum } from '../momentum.js';
import { Method, type MethodOptions, type ViewOutputs } from './base.js';

/**
 * MoCo v3 (Chen, Xie, He 2021), made for ViTs: backbone → 3-layer projector → 2-layer predictor; keys from the
 * momentum backbone + projector of the same batch, no queue; symmetric loss ctr(q1, k2) + ctr(q2, k1), τ 0.2.
 * AdamW lr 1.5e-4·B/256, wd 0.1; momentum 0.99 rising to 1 by a cosine.
 * Reads: temperature, hiddenDim, outDim, predictorHiddenDim, baseMomentum.
 */
export class MoCoV3 extends Method {
  readonly name = 'mocov3';

  constructor(options: MethodOptions) {
    super(options, { optimizer: 'adamw', lr: 1.5e-4, weightDecay: 0.1, temperature: 0.2, hiddenDim: 4096, outDim: 256, predictorHiddenDim: 4096, baseMomentum: 0.99 });
  }

  protected build(rng: Rng): void {
    const { hiddenDim, outDim, predictorHiddenDim } = this.options;
    const backbone = this.modules.add('backbone', this.newBackbone());
    const projector = mocoV3Projector(backbone.outputDim, { hiddenDim, outDim });
    this.modules.add('projector', buildMlp(rng, projector));
    this.modules.add('predictor', buildMlp(rng, mocoV3Predictor(outDim, { hiddenDim: predictorHiddenDim })));
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
    return { q: this.perView(views, (x) => predictor.forward(projector.forward(backbone.forward(x, o), o), o)) };
  }

  protected override momentumForward(views: tf.Tensor4D[]): ViewOutputs {
    const backbone = this.member<Backbone>('momentum_backbone');
    const projector = this.member('momentum_projector');
    return { k: this.perView(views, (x) => projector.forward(backbone.forward(x, Method.target), Method.target)) };
  }

  protected loss(online: ViewOutputs, target: ViewOutputs): tf.Scalar {
    const [q1, q2] = online['q'] as [tf.Tensor2D, tf.Tensor2D];
    const [k1, k2] = target['k'] as [tf.Tensor2D, tf.Tensor2D];
    return mocoV3Loss(q1, q2, k1, k2, this.options.temperature);
  }
}
