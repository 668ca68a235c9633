import type * as tf from '@tensorflow/tfjs';
import { buildMlp, simclrProjector } from '../heads.js';
import { ntXentLoss } from '../losses/nt-xent.js';
import type { Rng } from '../nn/init.js';
import type { Module } from '../nn/module.js';
import type { Backbone } from '../models/index.js';
import { Method, type MethodOptions, type ViewOutputs } from './base.js';

/**
 * SimCLR (Chen et al. 2020): backbone → projector, NT-Xent over the 2N views. LARS, lr 0.3·B/256, wd 1e-6,
 * τ 0.5 (the paper's CIFAR setting). projectorLayers: 3 gives SimCLR v2's head. Reads: temperature, hiddenDim,
 * outDim, projectorLayers.
 */
export class SimCLR extends Method {
  readonly name = 'simclr';

  constructor(options: MethodOptions) {
    super(options, { optimizer: 'lars', lr: 0.3, weightDecay: 1e-6, temperature: 0.5, hiddenDim: 2048, outDim: 128 });
  }

  protected build(rng: Rng): void {
    const backbone = this.modules.add('backbone', this.newBackbone());
    const { hiddenDim, outDim, projectorLayers } = this.options;
    this.modules.add('projector', buildMlp(rng, { ...simclrProjector(backbone.outputDim, { hiddenDim, outDim, v2: projectorLayers === 3 }) }));
  }

  protected learnable(): string[] {
    return ['backbone', 'projector'];
  }

  protected forward(views: tf.Tensor4D[]): ViewOutputs {
    const backbone = this.member<Backbone>('backbone');
    const projector = this.member<Module>('projector');
    return { z: this.perView(views, (x) => projector.forward(backbone.forward(x, Method.online), Method.online)) };
  }

  protected loss(online: ViewOutputs): tf.Scalar {
    const [z1, z2] = online['z'] as [tf.Tensor2D, tf.Tensor2D];
    return ntXentLoss(z1, z2, this.options.temperature);
  }
}
