import * as tf from '@tensorflow/tfjs';
import { Rng } from '../nn/init.js';
import { Module, ModuleDict, type ForwardOptions, type ModuleState } from '../nn/module.js';
import { createBackbone, type Backbone } from '../models/index.js';
import { copyWeights, updateMomentum } from '../momentum.js';
import { createOptimizer, type Optimizer, type OptimizerName, type OptimizerState } from '../optim/optimizer.js';
import { warmupCosineLr } from '../optim/schedule.js';

/**
 * Every knob of every method, flat, so a run config can carry it as JSON. Each method documents which ones it
 * reads and supplies the paper's defaults; unset fields take those defaults.
 */
export interface MethodOptions {
  /** A backbone name from models/, or a factory (tests use tiny nets); the factory must honour the seed. */
  backbone: string | ((seed: number) => Backbone);
  imageSize: number;
  seed?: number;
  /** Length of the LR (and momentum/temperature) schedules. */
  totalSteps: number;
  warmupSteps?: number;
  /** Base LR after warm-up (already scaled for the batch size by the caller). */
  lr?: number;
  finalLr?: number;
  optimizer?: OptimizerName;
  weightDecay?: number;
  /** SGD/LARS momentum. */
  sgdMomentum?: number;
  /** Contrastive temperature (SimCLR, MoCo v2/v3). */
  temperature?: number;
  /** Head sizes; meaning per method (projector hidden / output, DINO prototypes in outDim). */
  hiddenDim?: number;
  outDim?: number;
  predictorHiddenDim?: number;
  bottleneckDim?: number;
  /** SimCLR v2's 3-layer projector. */
  projectorLayers?: 2 | 3;
  /** Momentum-encoder EMA: start value; methods with a cosine schedule rise from it to 1. */
  baseMomentum?: number;
  /** MoCo v2 key queue length. */
  queueSize?: number;
  /** DINO temperatures and centering. */
  studentTemp?: number;
  teacherTemp?: number;
  warmupTeacherTemp?: number;
  warmupTeacherTempSteps?: number;
  centerMomentum?: number;
  /** Per-parameter gradient-norm clipping (DINO: 3.0); 0 turns it off. */
  clipGrad?: number;
  /** Steps during which parameters under `head.last_layer` get no update (DINO freezes it for the first epoch). */
  freezeLastLayerSteps?: number;
}

export type ResolvedOptions = Required<Omit<MethodOptions, 'backbone'>> & Pick<MethodOptions, 'backbone'>;

type Defaults = Omit<ResolvedOptions, 'backbone' | 'imageSize' | 'totalSteps'>;

/** Shared defaults; each method overrides its own (optimizer, LR, heads, temperatures) from its paper. */
const COMMON_DEFAULTS: Defaults = {
  seed: 0,
  warmupSteps: 0,
  lr: 0.05,
  finalLr: 0,
  optimizer: 'sgd',
  weightDecay: 1e-4,
  sgdMomentum: 0.9,
  temperature: 0.2,
  hiddenDim: 2048,
  outDim: 128,
  predictorHiddenDim: 4096,
  bottleneckDim: 256,
  projectorLayers: 2,
  baseMomentum: 0.999,
  queueSize: 65536,
  studentTemp: 0.1,
  teacherTemp: 0.07,
  warmupTeacherTemp: 0.04,
  warmupTeacherTempSteps: 0,
  centerMomentum: 0.9,
  clipGrad: 0,
  freezeLastLayerSteps: 0,
};

/** What a step reports: plain numbers only, so it can cross a worker or IPC boundary. */
export interface StepMetrics {
  loss: number;
  lr: number;
  [metric: string]: number;
}

/** A step's metrics other than its loss (known without reading the device). */
export interface StepRates {
  lr: number;
  [metric: string]: number;
}

/** Per-view outputs by name, e.g. { z: [z1, z2] }. */
export type ViewOutputs = Record<string, tf.Tensor[]>;

export interface MethodState {
  modules: ModuleState;
  optimizer: OptimizerState;
}

/**
 * The shared training step (solo-learn style). A method overrides the hooks: build (its modules), learnable
 * (which members the optimizer trains), momentumPairs, forward (online outputs, taped), momentumForward (target
 * outputs, untaped), loss, and optionally afterStep (queue, center). The base owns the optimizer, the LR and
 * momentum schedules, the EMA, multi-crop grouping and tensor hygiene:
 *   targets = tidy(momentumForward) → variableGrads(loss(forward)) → optimizer.step → dispose(grads)
 *   → updateMomentum(pairs) → afterStep(targets) → dispose(targets).
 */
export abstract class Method {
  abstract readonly name: string;
  /** All modules and method buffers, with the names checkpoints use (backbone.…, momentum_backbone.…). */
  readonly modules = new ModuleDict();
  protected readonly options: ResolvedOptions;
  private optimizer: Optimizer | null = null;
  private trainable: tf.Variable[] = [];
  /** tf variable name → our parameter name, for gradient rules that key on names. */
  private readonly paramNames = new Map<string, string>();

  constructor(options: MethodOptions, methodDefaults: Partial<Defaults>) {
    if (!(options.totalSteps > 0)) throw new Error(`totalSteps must be > 0, got ${options.totalSteps}`);
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.options = { ...COMMON_DEFAULTS, ...methodDefaults, ...given } as ResolvedOptions;
  }

  /**
   * Builds modules, copies online → target weights and creates the optimizer. Called once by createMethod (a
   * constructor can't call hooks that read subclass fields).
   */
  init(): this {
    this.build(new Rng(this.options.seed ^ 0x5eed));
    for (const [online, target] of this.momentumPairs()) copyWeights(this.member(online), this.member(target));
    const named = this.learnable().flatMap((member) => this.member(member).namedParameters(`${member}.`));
    this.trainable = named.map(([, v]) => v);
    for (const [ours, v] of named) this.paramNames.set(v.name, ours);
    this.optimizer = createOptimizer(this.options.optimizer, named, {
      weightDecay: this.options.weightDecay,
      momentum: this.options.sgdMomentum,
    });
    return this;
  }

  // ---- hooks -------------------------------------------------------------------------------------------------
  protected abstract build(rng: Rng): void;
  protected abstract learnable(): string[];
  protected momentumPairs(): [online: string, target: string][] {
    return [];
  }
  protected abstract forward(views: tf.Tensor4D[], step: number): ViewOutputs;
  protected momentumForward(_views: tf.Tensor4D[], _step: number): ViewOutputs {
    return {};
  }
  protected abstract loss(online: ViewOutputs, target: ViewOutputs, step: number): tf.Scalar;
  /** Runs after the optimizer and the EMA, with the step's target outputs still alive. */
  protected afterStep(_target: ViewOutputs, _step: number): Record<string, number> {
    return {};
  }
  /** EMA momentum at a step; methods with a schedule override. */
  momentumAt(_step: number): number {
    return this.options.baseMomentum;
  }
  /** How many views a step takes: [min, max]. */
  protected viewCount(): [number, number] {
    return [2, 2];
  }

  // ---- helpers for the hooks ---------------------------------------------------------------------------------
  member<M extends Module = Module>(name: string): M {
    return this.modules.get(name) as M;
  }

  protected newBackbone(): Backbone {
    const { backbone, imageSize, seed } = this.options;
    return typeof backbone === 'function' ? backbone(seed) : createBackbone(backbone, { imageSize, seed });
  }

  /**
   * Runs `encode` once per group of same-sized views (concatenated along the batch, so BatchNorm sees them
   * together, as one multi-crop forward per resolution) and hands back one output per view, in order.
   */
  protected perView(views: tf.Tensor4D[], encode: (x: tf.Tensor4D) => tf.Tensor): tf.Tensor[] {
    const groups = new Map<string, number[]>();
    views.forEach((v, i) => {
      const key = `${v.shape[1]}x${v.shape[2]}`;
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    const out: tf.Tensor[] = new Array(views.length);
    for (const indices of groups.values()) {
      const batch = indices.length === 1 ? views[indices[0]!]! : tf.concat(indices.map((i) => views[i]!), 0);
      const parts = tf.split(encode(batch), indices.length, 0);
      indices.forEach((viewIndex, j) => (out[viewIndex] = parts[j]!));
    }
    return out;
  }

  protected static readonly online: ForwardOptions = { training: true };
  /** Target networks use batch statistics but leave their running stats to the EMA. */
  protected static readonly target: ForwardOptions = { training: true, updateStats: false };

  // ---- the step ----------------------------------------------------------------------------------------------
  lrAt(step: number): number {
    const { lr, warmupSteps, totalSteps, finalLr } = this.options;
    return warmupCosineLr(step, { baseLr: lr, warmupSteps, totalSteps, finalLr });
  }

  /**
   * One optimisation step on already-augmented NHWC float views (DINO: 2 global crops first, then locals). Async
   * because it reads the loss back with data(): webgpu in Node has no synchronous readback. The loss is read
   * before the gradients are applied, so a non-finite loss leaves the weights unchanged. The caller keeps the
   * views alive until the returned promise settles.
   */
  async trainStep(views: tf.Tensor4D[], step: number): Promise<StepMetrics> {
    const { loss, metrics } = await this.optimise(views, step, true);
    return { ...metrics, loss: loss as number };
  }

  /**
   * The same step without waiting for the device: the loss comes back as a scalar tensor that the caller owns
   * (reads, in one batch with other steps' losses, and disposes), so a GPU never idles on a per-step readback.
   * The price: a non-finite loss is only seen at that read, after the weights took the step; the session reads
   * before every checkpoint, so no checkpoint ever holds such weights.
   */
  async trainStepDeferred(views: tf.Tensor4D[], step: number): Promise<{ loss: tf.Scalar; metrics: StepRates }> {
    const { loss, metrics } = await this.optimise(views, step, false);
    return { loss: loss as tf.Scalar, metrics };
  }

  private async optimise(views: tf.Tensor4D[], step: number, readLoss: boolean): Promise<{ loss: number | tf.Scalar; metrics: StepRates }> {
    const optimizer = this.optimizer;
    if (!optimizer) throw new Error(`${this.name}: call init() before training (createMethod does)`);
    this.checkViews(views);
    const lr = this.lrAt(step);
    const target = tf.tidy(() => this.momentumForward(views, step));
    let kept: tf.Scalar | null = null;
    try {
      const { value, grads } = tf.variableGrads(() => this.loss(this.forward(views, step), target, step), this.trainable);
      let loss: number | tf.Scalar;
      if (readLoss) {
        try {
          loss = (await value.data())[0]!;
        } catch (err) {
          tf.dispose(grads);
          throw err;
        } finally {
          value.dispose();
        }
        if (!Number.isFinite(loss)) {
          tf.dispose(grads);
          throw new Error(`${this.name}: loss is ${loss} at step ${step}; weights left unchanged`);
        }
      } else {
        loss = kept = value;
      }
      const { used, created } = this.adjustGradients(grads, step);
      optimizer.step(used, lr);
      tf.dispose(grads);
      tf.dispose(created);
      const metrics: StepRates = { lr };
      if (this.momentumPairs().length > 0) {
        const m = this.momentumAt(step);
        for (const [online, t] of this.momentumPairs()) updateMomentum(this.member(online), this.member(t), m);
        metrics['momentum'] = m;
      }
      const out = { loss, metrics: { ...metrics, ...this.afterStep(target, step) } };
      kept = null;
      return out;
    } finally {
      kept?.dispose();
      tf.dispose(target as unknown as tf.TensorContainer);
    }
  }

  /**
   * Drops frozen parameters' gradients and clips each remaining gradient to norm ≤ clipGrad (DINO's
   * clip_gradients). `created` lists the new (clipped) tensors, for the caller to dispose with the originals.
   */
  private adjustGradients(grads: tf.NamedTensorMap, step: number): { used: tf.NamedTensorMap; created: tf.Tensor[] } {
    const { clipGrad, freezeLastLayerSteps } = this.options;
    const used: tf.NamedTensorMap = {};
    const created: tf.Tensor[] = [];
    for (const [tfName, g] of Object.entries(grads)) {
      const ours = this.paramNames.get(tfName) ?? '';
      if (step < freezeLastLayerSteps && ours.startsWith('head.last_layer.')) continue;
      if (clipGrad > 0) {
        const clipped = tf.tidy(() => tf.mul(g, tf.minimum(1, tf.div(clipGrad, tf.add(tf.norm(g), 1e-6)))));
        created.push(clipped);
        used[tfName] = clipped;
      } else {
        used[tfName] = g;
      }
    }
    return { used, created };
  }

  private checkViews(views: tf.Tensor4D[]): void {
    const [min, max] = this.viewCount();
    if (views.length < min || views.length > max) {
      throw new Error(`${this.name} takes ${min === max ? min : `${min}–${max}`} views, got ${views.length}`);
    }
    const n = views[0]?.shape[0];
    for (const v of views) {
      if (v.rank !== 4 || v.shape[3] !== 3 || v.shape[0] !== n || v.dtype !== 'float32') {
        throw new Error(`${this.name}: views must be float32 [N, H, W, 3] with one N, got [${v.shape.join(', ')}] ${v.dtype}`);
      }
    }
    if (n === undefined || n < 2) throw new Error(`${this.name}: a batch needs ≥ 2 images`);
  }

  /** Encoder features for evaluation (kNN monitor, export): the online backbone in inference mode. */
  embed(images: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.member<Backbone>('backbone').forward(images, { training: false }));
  }

  /** Modules and optimizer slots as plain arrays, read asynchronously (see Module.getState). */
  async getState(): Promise<MethodState> {
    if (!this.optimizer) throw new Error(`${this.name}: not initialised`);
    const [modules, optimizer] = await Promise.all([this.modules.getState(), this.optimizer.getState()]);
    return { modules, optimizer };
  }

  setState(state: MethodState): void {
    if (!this.optimizer) throw new Error(`${this.name}: not initialised`);
    this.modules.setState(state.modules);
    this.optimizer.setState(state.optimizer);
  }

  dispose(): void {
    this.optimizer?.dispose();
    this.modules.dispose();
  }
}

/** A module that only holds buffers (MoCo's queue, DINO's center). */
export class BufferModule extends Module {
  defineBuffer(name: string, shape: number[], data: Float32Array): tf.Variable {
    return this.addBuffer(name, shape, data);
  }

  forward(): tf.Tensor {
    throw new Error('BufferModule has no forward');
  }
}
