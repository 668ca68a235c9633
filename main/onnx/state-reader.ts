import type { NamedTensors } from './resnet.js';

/**
 * Reads a backbone's named tensors for a graph writer (resnet.ts, vit.ts): each entry taken is checked to exist (and,
 * when asked, to have a shape), and remembered, so that `assertAllUsed` can refuse a state with entries the writer
 * never placed in the graph: a different architecture under the same name.
 */
export class StateReader {
  private readonly used = new Set<string>();

  /** `what` names the architecture in errors: "ResNet", "ViT". */
  constructor(
    private readonly state: NamedTensors,
    private readonly what: string,
  ) {}

  has(name: string): boolean {
    return this.state[name] !== undefined;
  }

  take(name: string, shape?: number[]): { shape: number[]; data: Float32Array } {
    const t = this.state[name];
    if (!t) throw new Error(`${this.what} state is missing "${name}"`);
    if (shape && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
      throw new Error(`${this.what} state "${name}" is [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    this.used.add(name);
    return t;
  }

  assertAllUsed(): void {
    const unused = Object.keys(this.state).filter((k) => !this.used.has(k));
    if (unused.length > 0) throw new Error(`not a Curio ${this.what}: unexpected state entries ${unused.slice(0, 5).join(', ')}`);
  }
}

/** A k×k filter from tfjs's HWIO [k, k, in, out] to ONNX's OIHW [out, in, k, k], each value times scale[out]. */
export function hwioToOihw(data: Float32Array, k: number, cin: number, cout: number, scale?: Float64Array): Float32Array {
  const out = new Float32Array(cout * cin * k * k);
  for (let o = 0; o < cout; o++) {
    const s = scale ? scale[o]! : 1;
    for (let i = 0; i < cin; i++) {
      for (let y = 0; y < k; y++) {
        for (let x = 0; x < k; x++) out[((o * cin + i) * k + y) * k + x] = data[((y * k + x) * cin + i) * cout + o]! * s;
      }
    }
  }
  return out;
}
