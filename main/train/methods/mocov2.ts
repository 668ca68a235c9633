import * as tf from '@tensorflow/tfjs';
import { buildMlp, mocoV2Projector } from '../heads.js';
import { infoNceLoss } from '../losses/infonce.js';
import { l2Normalize } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import type { Rng } from '../nn/init.js';
import type { Backbone } from '../models/index.js';
import { Method, type MethodOptions, type ViewOutputs } from './base.js';

/**
 * MoCo's dictionary: a FIFO queue of K unit-length keys [K, C] (buffer `keys`) and a write pointer (buffer
 * `ptr`); "the current mini-batch is enqueued … and the oldest mini-batch in the queue is removed". Rows wrap
 * around, so K need not be a multiple of the batch.
 */
export class KeyQueue extends Module {
  readonly keys: tf.Variable;
  private readonly ptrBuffer: tf.Variable;
  private pointer = 0;

  constructor(rng: Rng, readonly size: number, readonly dim: number) {
    super();
    if (!Number.isInteger(size) || size < 1) throw new Error(`queue size must be a positive integer, got ${size}`);
    // MoCo starts from random unit vectors.
    const init = new Float32Array(size * dim);
    for (let r = 0; r < size; r++) {
      let norm = 0;
      for (let c = 0; c < dim; c++) {
        const v = rng.normal();
        init[r * dim + c] = v;
        norm += v * v;
      }
      for (let c = 0; c < dim; c++) init[r * dim + c]! /= Math.sqrt(norm) || 1;
    }
    this.keys = this.addBuffer('keys', [size, dim], init);
    this.ptrBuffer = this.addBuffer('ptr', [1], new Float32Array(1));
  }

  /** Index of the row the next key goes to (= the oldest key). */
  get ptr(): number {
    return this.pointer;
  }

  /** Overwrites the oldest rows with `keys` [n, C] in order (only the last K rows if n > K). */
  enqueue(keys: tf.Tensor2D): void {
    if (keys.shape[1] !== this.dim) throw new Error(`enqueue: keys are [${keys.shape}], queue is [${this.size}, ${this.dim}]`);
    tf.tidy(() => {
      let incoming: tf.Tensor2D = keys;
      let ptr = this.pointer;
      if (incoming.shape[0] > this.size) {
        // the skipped keys would have been enqueued and dequeued again: same rows, pointer moved past them
        const skipped = incoming.shape[0] - this.size;
        incoming = tf.slice(incoming, [skipped, 0], [this.size, this.dim]);
        ptr = (ptr + skipped) % this.size;
      }
      let queue: tf.Tensor2D = this.keys as unknown as tf.Tensor2D;
      while (incoming.shape[0] > 0) {
        const n = Math.min(incoming.shape[0], this.size - ptr);
        const head = tf.slice(incoming, [0, 0], [n, this.dim]);
        const parts = [tf.slice(queue, [0, 0], [ptr, this.dim]), head, tf.slice(queue, [ptr + n, 0], [this.size - ptr - n, this.dim])];
        queue = tf.concat(parts.filter((p) => p.shape[0] > 0), 0);
        incoming = tf.slice(incoming, [n, 0], [incoming.shape[0] - n, this.dim]);
        ptr = (ptr + n) % this.size;
      }
      this.keys.assign(queue);
      this.pointer = ptr;
      this.ptrBuffer.assign(tf.tensor1d([ptr]));
    });
  }

  /**
   * Keeps the JS-side pointer in step after setState restored the buffer, from the restored value itself (no
   * device readback: webgpu in Node cannot read synchronously).
   */
  restorePointer(value: number): void {
    if (!Number.isInteger(value) || value < 0 || value >= this.size) throw new Error(`queue pointer must be an integer in [0, ${this.size}), got ${value}`);
    this.pointer = value;
  }

  forward(): tf.Tensor {
    throw new Error('KeyQueue has no forward');
  }
}

/**
 * MoCo v2 (Chen et al. 2020): MoCo with an MLP head, τ 0.2, SGD lr 0.03·B/256, wd 1e-4, key-encoder momentum
 * 0.999 (constant), a queue of 65,536 keys. Symmetrised as in solo-learn: both views act as query and as key,
 * loss = (InfoNCE(q1, k2) + InfoNCE(q2, k1)) / 2, and both key batches are enqueued (k1 then k2).
 * Reads: temperature, hiddenDim, outDim, queueSize, baseMomentum.
 */
export class MoCoV2 extends Method {
  readonly name = 'mocov2';

  constructor(options: MethodOptions) {
    super(options, { optimizer: 'sgd', lr: 0.03, weightDecay: 1e-4, temperature: 0.2, hiddenDim: 2048, outDim: 128, baseMomentum: 0.999, queueSize: 65536 });
  }

  get queue(): KeyQueue {
    return this.member<KeyQueue>('queue');
  }

  protected build(rng: Rng): void {
    const { hiddenDim, outDim, queueSize } = this.options;
    const backbone = this.modules.add('backbone', this.newBackbone());
    const head = mocoV2Projector(backbone.outputDim, { hiddenDim, outDim });
    this.modules.add('projector', buildMlp(rng, head));
    this.modules.add('momentum_backbone', this.newBackbone());
    this.modules.add('momentum_projector', buildMlp(rng, head));
    this.modules.add('queue', new KeyQueue(rng, queueSize, outDim));
  }

  protected learnable(): string[] {
    return ['backbone', 'projector'];
  }

  protected override momentumPairs(): [string, string][] {
    return [
      ['backbone', 'momentum_backbone'],
      ['projector', 'momentum_projector'],
    ];
  }

  protected forward(views: tf.Tensor4D[]): ViewOutputs {
    const backbone = this.member<Backbone>('backbone');
    const projector = this.member('projector');
    return { q: this.perView(views, (x) => projector.forward(backbone.forward(x, Method.online), Method.online)) };
  }

  protected override momentumForward(views: tf.Tensor4D[]): ViewOutputs {
    const backbone = this.member<Backbone>('momentum_backbone');
    const projector = this.member('momentum_projector');
    return { k: this.perView(views, (x) => l2Normalize(projector.forward(backbone.forward(x, Method.target), Method.target))) };
  }

  protected loss(online: ViewOutputs, target: ViewOutputs): tf.Scalar {
    const [q1, q2] = online['q'] as [tf.Tensor2D, tf.Tensor2D];
    const [k1, k2] = target['k'] as [tf.Tensor2D, tf.Tensor2D];
    const queue = this.queue.keys as unknown as tf.Tensor2D;
    const t = this.options.temperature;
    return tf.div(tf.add(infoNceLoss(q1, k2, queue, t), infoNceLoss(q2, k1, queue, t)), 2) as tf.Scalar;
  }

  protected override afterStep(target: ViewOutputs): Record<string, number> {
    const [k1, k2] = target['k'] as [tf.Tensor2D, tf.Tensor2D];
    const keys = tf.concat([k1, k2], 0);
    this.queue.enqueue(keys);
    keys.dispose();
    return {};
  }

  override setState(state: Parameters<Method['setState']>[0]): void {
    super.setState(state);
    this.queue.restorePointer(Math.round(state.modules['queue.ptr']!.data[0]!));
  }
}
