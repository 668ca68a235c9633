import * as tf from '@tensorflow/tfjs';
import { DinoHead } from '../heads.js';
import { dinoLoss } from '../losses/dino.js';
import type { Rng } from '../nn/init.js';
import type { Backbone } from '../models/index.js';
import { cosineMomentum } from '../momentum.js';
import { linearWarmup } from '../optim/schedule.js';
import { BufferModule, Method, type MethodOptions, type ViewOutputs } from './base.js';

/**
 * DINO (Caron et al. 2021): a student (backbone → DINO head) matches a momentum teacher across crops; "all
 * crops are passed through the student while only the global views are passed through the teacher". Views:
 * the 2 global crops first, then any number of local crops (smaller, same batch). The teacher output is
 * centred by c ← m·c + (1 − m)·mean(teacher outputs), m 0.9, and sharpened by τt, warmed up linearly from
 * warmupTeacherTemp to teacherTemp over warmupTeacherTempSteps (default: the first 30% of training, as the
 * paper's 30 of 100 epochs); τs 0.1. AdamW lr 5e-4·B/256, wd 0.04; teacher momentum 0.996 → 1 (cosine).
 * Gradients are clipped per parameter at norm 3 and `head.last_layer` can be frozen for the first
 * freezeLastLayerSteps steps (the paper: one epoch), both as in the official code.
 * Reads: outDim (K prototypes), hiddenDim, bottleneckDim, studentTemp, teacherTemp, warmupTeacherTemp,
 * warmupTeacherTempSteps, centerMomentum, baseMomentum, clipGrad, freezeLastLayerSteps.
 */
export class DINO extends Method {
  readonly name = 'dino';

  constructor(options: MethodOptions) {
    super(options, {
      optimizer: 'adamw',
      lr: 5e-4,
      weightDecay: 0.04,
      hiddenDim: 2048,
      bottleneckDim: 256,
      outDim: 65536,
      baseMomentum: 0.996,
      studentTemp: 0.1,
      teacherTemp: 0.07,
      warmupTeacherTemp: 0.04,
      warmupTeacherTempSteps: Math.round(0.3 * options.totalSteps),
      centerMomentum: 0.9,
      clipGrad: 3,
    });
  }

  get center(): tf.Variable {
    return this.member<BufferModule>('center').namedBuffers()[0]![1];
  }

  protected build(rng: Rng): void {
    const { hiddenDim, bottleneckDim, outDim } = this.options;
    const backbone = this.modules.add('backbone', this.newBackbone());
    const head = { hiddenDim, bottleneckDim, outDim };
    this.modules.add('head', new DinoHead(rng, backbone.outputDim, head));
    this.modules.add('teacher_backbone', this.newBackbone());
    this.modules.add('teacher_head', new DinoHead(rng, backbone.outputDim, head));
    this.modules.add('center', new BufferModule()).defineBuffer('center', [1, outDim], new Float32Array(outDim));
  }

  protected learnable(): string[] {
    return ['backbone', 'head'];
  }

  protected override momentumPairs(): [string, string][] {
    return [
      ['backbone', 'teacher_backbone'],
      ['head', 'teacher_head'],
    ];
  }

  protected override viewCount(): [number, number] {
    return [2, 64];
  }

  override momentumAt(step: number): number {
    return cosineMomentum(step, this.options.totalSteps, this.options.baseMomentum);
  }

  teacherTempAt(step: number): number {
    const { warmupTeacherTemp, teacherTemp, warmupTeacherTempSteps } = this.options;
    return linearWarmup(step, warmupTeacherTemp, teacherTemp, warmupTeacherTempSteps);
  }

  protected forward(views: tf.Tensor4D[]): ViewOutputs {
    const backbone = this.member<Backbone>('backbone');
    const head = this.member('head');
    return { student: this.perView(views, (x) => head.forward(backbone.forward(x, Method.online), Method.online)) };
  }

  protected override momentumForward(views: tf.Tensor4D[]): ViewOutputs {
    const backbone = this.member<Backbone>('teacher_backbone');
    const head = this.member('teacher_head');
    const globals = views.slice(0, 2);
    const [g1, g2] = globals.map((v) => `${v.shape[1]}×${v.shape[2]}`);
    // the views come globals first: two crops of different sizes there mean a local crop took a global's place
    if (g1 !== g2) throw new Error(`dino: the first 2 views are the global crops and must share a size, got ${g1} and ${g2}`);
    return { teacher: this.perView(globals, (x) => head.forward(backbone.forward(x, Method.target), Method.target)) };
  }

  protected loss(online: ViewOutputs, target: ViewOutputs, step: number): tf.Scalar {
    return dinoLoss(online['student'] as tf.Tensor2D[], target['teacher'] as tf.Tensor2D[], this.center, {
      studentTemp: this.options.studentTemp,
      teacherTemp: this.teacherTempAt(step),
    });
  }

  protected override afterStep(target: ViewOutputs, step: number): Record<string, number> {
    const m = this.options.centerMomentum;
    tf.tidy(() => {
      const batchCenter = tf.mean(tf.concat(target['teacher']!, 0), 0, true);
      this.center.assign(tf.add(tf.mul(this.center, m), tf.mul(batchCenter, 1 - m)));
    });
    return { teacherTemp: this.teacherTempAt(step) };
  }
}
