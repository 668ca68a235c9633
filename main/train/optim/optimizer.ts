import * as tf from '@tensorflow/tfjs';
import type { ModuleState } from '../nn/module.js';

/**
 * Weight decay (and LARS adaptation) skips biases and normalisation weights, as in DINO/solo-learn: a name
 * ending in `.bias` (or `bias`), or any 1-D parameter (BatchNorm/LayerNorm scale).
 */
export function isDecayExempt(name: string, shape: readonly number[]): boolean {
  return name === 'bias' || name.endsWith('.bias') || shape.length <= 1;
}

export interface OptimizerState {
  step: number;
  slots: ModuleState;
}

interface Param {
  name: string;
  variable: tf.Variable;
  decay: boolean;
  slots: tf.Variable[];
}

/**
 * Our optimizers work on named tf.Variables with per-name slots, so that checkpoints can store their state and
 * the decay rule can key on names. `step(grads, lr)` takes variableGrads' map (keyed by tf variable name),
 * updates in place inside one tidy; it never disposes the grads (the caller owns them).
 */
export abstract class Optimizer {
  protected readonly params: Param[];
  protected stepCount = 0;

  constructor(
    named: [string, tf.Variable][],
    private readonly slotNames: string[],
  ) {
    this.params = named.map(([name, variable]) => ({
      name,
      variable,
      decay: !isDecayExempt(name, variable.shape),
      slots: slotNames.map(() => tf.tidy(() => tf.variable(tf.zerosLike(variable), false))),
    }));
  }

  get steps(): number {
    return this.stepCount;
  }

  step(grads: tf.NamedTensorMap, lr: number): void {
    if (!Number.isFinite(lr) || lr < 0) throw new Error(`learning rate must be a finite number ≥ 0, got ${lr}`);
    this.stepCount++;
    tf.tidy(() => {
      for (const p of this.params) {
        const g = grads[p.variable.name];
        if (g) this.update(p, g, lr);
      }
    });
  }

  protected abstract update(p: Param, grad: tf.Tensor, lr: number): void;

  /** The step count and every slot, copied to plain arrays (read asynchronously, as Module.getState). */
  async getState(): Promise<OptimizerState> {
    const step = this.stepCount;
    const entries = this.params.flatMap((p) => p.slots.map((s, i) => [`${p.name}.${this.slotNames[i]}`, s] as const));
    const values = await Promise.all(entries.map(([, s]) => s.data() as Promise<Float32Array>));
    const slots: ModuleState = {};
    entries.forEach(([key, s], i) => {
      slots[key] = { shape: [...s.shape], data: Float32Array.from(values[i]!) };
    });
    return { step, slots };
  }

  setState(state: OptimizerState): void {
    for (const p of this.params) {
      p.slots.forEach((s, i) => {
        const key = `${p.name}.${this.slotNames[i]}`;
        const entry = state.slots[key];
        if (!entry || entry.data.length !== s.size) throw new Error(`optimizer state is missing or misshapen at "${key}"`);
        tf.tidy(() => s.assign(tf.tensor(entry.data, s.shape, 'float32')));
      });
    }
    this.stepCount = state.step;
  }

  dispose(): void {
    for (const p of this.params) for (const s of p.slots) s.dispose();
  }
}

export interface SgdOptions {
  momentum?: number;
  weightDecay?: number;
}

/** SGD with momentum, PyTorch form: v ← μv + (g + λp); p ← p − lr·v (λ only on decayed params). */
export class Sgd extends Optimizer {
  private readonly momentum: number;
  private readonly weightDecay: number;

  constructor(named: [string, tf.Variable][], options: SgdOptions = {}) {
    super(named, ['momentum']);
    this.momentum = options.momentum ?? 0.9;
    this.weightDecay = options.weightDecay ?? 0;
  }

  protected update(p: Param, grad: tf.Tensor, lr: number): void {
    const v = p.slots[0]!;
    const g = p.decay && this.weightDecay > 0 ? tf.add(grad, tf.mul(p.variable, this.weightDecay)) : grad;
    v.assign(tf.add(tf.mul(v, this.momentum), g));
    p.variable.assign(tf.sub(p.variable, tf.mul(v, lr)));
  }
}

export interface LarsOptions extends SgdOptions {
  /** Trust coefficient η, 0.001 in LARS (You et al. 2017) and SimCLR. */
  eta?: number;
}

/**
 * LARS (You et al. 2017), as used by SimCLR: for adapted params g ← (g + λp)·η‖p‖/‖g + λp‖ (trust ratio 1 when
 * either norm is 0), then SGD momentum. Biases and BN weights get neither decay nor adaptation.
 */
export class Lars extends Optimizer {
  private readonly momentum: number;
  private readonly weightDecay: number;
  private readonly eta: number;

  constructor(named: [string, tf.Variable][], options: LarsOptions = {}) {
    super(named, ['momentum']);
    this.momentum = options.momentum ?? 0.9;
    this.weightDecay = options.weightDecay ?? 1e-6;
    this.eta = options.eta ?? 0.001;
  }

  protected update(p: Param, grad: tf.Tensor, lr: number): void {
    const v = p.slots[0]!;
    let g = grad;
    if (p.decay) {
      g = this.weightDecay > 0 ? tf.add(grad, tf.mul(p.variable, this.weightDecay)) : grad;
      const wNorm = tf.norm(p.variable);
      const gNorm = tf.norm(g);
      const bothPositive = tf.logicalAnd(tf.greater(wNorm, 0), tf.greater(gNorm, 0));
      const trust = tf.where(bothPositive, tf.div(tf.mul(wNorm, this.eta), tf.maximum(gNorm, 1e-12)), tf.onesLike(wNorm));
      g = tf.mul(g, trust);
    }
    v.assign(tf.add(tf.mul(v, this.momentum), g));
    p.variable.assign(tf.sub(p.variable, tf.mul(v, lr)));
  }
}

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/**
 * AdamW (Loshchilov & Hutter 2019), PyTorch form: p ← p·(1 − lr·λ) for decayed params, then the bias-corrected
 * Adam step lr·m̂/(√v̂ + ε). The default for ViTs (DINO: λ 0.04, MoCo v3: 0.1).
 */
export class AdamW extends Optimizer {
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;

  constructor(named: [string, tf.Variable][], options: AdamWOptions = {}) {
    super(named, ['exp_avg', 'exp_avg_sq']);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.04;
  }

  protected update(p: Param, grad: tf.Tensor, lr: number): void {
    const [m, v] = p.slots as [tf.Variable, tf.Variable];
    const t = this.stepCount;
    m.assign(tf.add(tf.mul(m, this.beta1), tf.mul(grad, 1 - this.beta1)));
    v.assign(tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(grad), 1 - this.beta2)));
    const mHat = tf.div(m, 1 - this.beta1 ** t);
    const vHat = tf.div(v, 1 - this.beta2 ** t);
    const decayed = p.decay && this.weightDecay > 0 ? tf.mul(p.variable, 1 - lr * this.weightDecay) : p.variable;
    p.variable.assign(tf.sub(decayed, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), this.eps)), lr)));
  }
}

export type OptimizerName = 'sgd' | 'lars' | 'adamw';

export interface OptimizerOptions {
  weightDecay?: number;
  momentum?: number;
  eta?: number;
  beta1?: number;
  beta2?: number;
}

export function createOptimizer(name: OptimizerName, named: [string, tf.Variable][], options: OptimizerOptions = {}): Optimizer {
  switch (name) {
    case 'sgd':
      return new Sgd(named, options);
    case 'lars':
      return new Lars(named, options);
    case 'adamw':
      return new AdamW(named, options);
    default:
      throw new Error(`unknown optimizer "${String(name)}"; expected sgd, lars or adamw`);
  }
}
