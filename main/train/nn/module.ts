import * as tf from '@tensorflow/tfjs';

export interface ForwardOptions {
  /** Batch statistics in BatchNorm (and, by default, running-stat updates). */
  training: boolean;
  /**
   * Whether BatchNorm folds this batch into its running statistics. Defaults to `training`. A momentum (target)
   * network runs with `training: true, updateStats: false`: it normalises with batch statistics like the online
   * net, but its buffers change only through the EMA (see momentum.ts).
   */
  updateStats?: boolean;
}

export interface TensorData {
  shape: number[];
  data: Float32Array;
}

/** Plain, tensor-free snapshot of a module: what checkpoints and worker messages carry. */
export type ModuleState = Record<string, TensorData>;

/**
 * A small functional module system (PyTorch-like) on top of tf.Variable, instead of tf.layers, so that we own the
 * parameter names: checkpoints, ONNX export, weight-decay exclusion and EMA pairs all key on them. A parameter is
 * a trainable tf.Variable; a buffer (BatchNorm running statistics, MoCo's queue, DINO's center) is a
 * non-trainable one. Names are dotted paths, e.g. `layer2.0.bn1.running_mean`.
 *
 * tf.Variable names are global in tfjs, so variables get engine-unique names and we keep our own names here.
 */
export abstract class Module {
  private readonly ownParameters = new Map<string, tf.Variable>();
  private readonly ownBuffers = new Map<string, tf.Variable>();
  private readonly ownChildren = new Map<string, Module>();

  abstract forward(x: tf.Tensor, options: ForwardOptions): tf.Tensor;

  protected addParameter(name: string, shape: number[], data: Float32Array): tf.Variable {
    return this.register(this.ownParameters, name, shape, data, true);
  }

  protected addBuffer(name: string, shape: number[], data: Float32Array): tf.Variable {
    return this.register(this.ownBuffers, name, shape, data, false);
  }

  protected addModule<M extends Module>(name: string, module: M): M {
    this.checkName(name);
    this.ownChildren.set(name, module);
    return module;
  }

  private register(
    into: Map<string, tf.Variable>,
    name: string,
    shape: number[],
    data: Float32Array,
    trainable: boolean,
  ): tf.Variable {
    this.checkName(name);
    const size = shape.reduce((a, b) => a * b, 1);
    if (data.length !== size) throw new Error(`${name}: ${data.length} values for shape [${shape.join(', ')}]`);
    const variable = tf.tidy(() => tf.variable(tf.tensor(data, shape, 'float32'), trainable));
    into.set(name, variable);
    return variable;
  }

  private checkName(name: string): void {
    if (name === '' || name.includes('.')) throw new Error(`bad module member name "${name}"`);
    if (this.ownParameters.has(name) || this.ownBuffers.has(name) || this.ownChildren.has(name)) {
      throw new Error(`duplicate module member "${name}"`);
    }
  }

  namedChildren(): [string, Module][] {
    return [...this.ownChildren];
  }

  namedParameters(prefix = ''): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = [];
    for (const [name, v] of this.ownParameters) out.push([prefix + name, v]);
    for (const [name, child] of this.ownChildren) out.push(...child.namedParameters(`${prefix}${name}.`));
    return out;
  }

  namedBuffers(prefix = ''): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = [];
    for (const [name, v] of this.ownBuffers) out.push([prefix + name, v]);
    for (const [name, child] of this.ownChildren) out.push(...child.namedBuffers(`${prefix}${name}.`));
    return out;
  }

  parameters(): tf.Variable[] {
    return this.namedParameters().map(([, v]) => v);
  }

  numParameters(): number {
    return this.parameters().reduce((sum, v) => sum + v.size, 0);
  }

  /**
   * Parameters and buffers, copied to plain arrays. Reads the device asynchronously: webgpu in Node has no
   * synchronous readback (dataSync needs OffscreenCanvas there).
   */
  async getState(): Promise<ModuleState> {
    const entries = [...this.namedParameters(), ...this.namedBuffers()];
    const values = await Promise.all(entries.map(([, v]) => v.data() as Promise<Float32Array>));
    const state: ModuleState = {};
    entries.forEach(([name, v], i) => {
      // copy: on the cpu backend data() hands back the tensor's own storage
      state[name] = { shape: [...v.shape], data: Float32Array.from(values[i]!) };
    });
    return state;
  }

  /** Loads a state from getState(). Every parameter and buffer must be present with its exact shape. */
  setState(state: ModuleState): void {
    const entries = [...this.namedParameters(), ...this.namedBuffers()];
    const known = new Set(entries.map(([name]) => name));
    const unknown = Object.keys(state).filter((k) => !known.has(k));
    if (unknown.length > 0) throw new Error(`state has unknown entries: ${unknown.slice(0, 5).join(', ')}`);
    for (const [name, v] of entries) {
      const entry = state[name];
      if (!entry) throw new Error(`state is missing "${name}"`);
      if (entry.shape.length !== v.shape.length || entry.shape.some((d, i) => d !== v.shape[i])) {
        throw new Error(`"${name}" has shape [${entry.shape.join(', ')}], expected [${v.shape.join(', ')}]`);
      }
      tf.tidy(() => v.assign(tf.tensor(entry.data, v.shape, 'float32')));
    }
  }

  dispose(): void {
    for (const v of this.ownParameters.values()) v.dispose();
    for (const v of this.ownBuffers.values()) v.dispose();
    for (const child of this.ownChildren.values()) child.dispose();
    this.ownParameters.clear();
    this.ownBuffers.clear();
    this.ownChildren.clear();
  }
}

/** Runs children in order; children are named 0, 1, 2… as in torch.nn.Sequential. */
export class Sequential extends Module {
  private readonly layers: Module[];

  constructor(layers: Module[]) {
    super();
    this.layers = layers.map((layer, i) => this.addModule(String(i), layer));
  }

  get length(): number {
    return this.layers.length;
  }

  forward(x: tf.Tensor, options: ForwardOptions): tf.Tensor {
    let y = x;
    for (const layer of this.layers) y = layer.forward(y, options);
    return y;
  }
}

/** A named group of modules with no forward of its own (torch.nn.ModuleDict), for names like `blocks.3.attn`. */
export class ModuleDict extends Module {
  add<M extends Module>(name: string, module: M): M {
    return this.addModule(name, module);
  }

  get(name: string): Module {
    const found = this.namedChildren().find(([n]) => n === name);
    if (!found) throw new Error(`no module "${name}"`);
    return found[1];
  }

  forward(): tf.Tensor {
    throw new Error('ModuleDict has no forward; call its members');
  }
}
