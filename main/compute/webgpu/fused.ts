import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

/**
 * Fused elementwise chains for tfjs-backend-webgpu, as kernels of their own (new kernel names, so nothing stock is
 * replaced):
 * - CurioBatchNormRelu: training batch norm + ReLU over the last (channel) axis. Forward: one reduction shader for
 *   the per-channel mean and biased variance (two-pass, in one workgroup per channel) and one elementwise shader for
 *   relu((x − mean)·rsqrt(var + eps)·γ + β), instead of the ~10 broadcast/elementwise kernels tf.moments, the
 *   normalisation and tf.relu take. Backward: one reduction for Σdz and Σdz·x̂ (dz = dy where y > 0), one
 *   elementwise shader for dx = γ·rstd·(dz − Σdz/M − x̂·Σdz·x̂/M).
 * - CurioBiasRelu: relu(x + b) with b over the last axis, one shader. Backward (CurioBiasReluGrad): dx = dy·[y > 0]
 *   as one elementwise shader and db = Σ dy·[y > 0] over all but the last axis as one reduction, both reading dy and
 *   y directly, instead of step, mul, step, mul and a transposing sum (a tfjs program writes one output, and slicing
 *   dx and db out of one packed buffer would copy dx again, so these are two shaders, not one).
 * Off with CURIO_WEBGPU_FUSED=0 (to measure the composed ops against them).
 */
export const BATCH_NORM_RELU = 'CurioBatchNormRelu';
const BATCH_NORM_RELU_GRAD = 'CurioBatchNormReluGrad';
export const BIAS_RELU = 'CurioBiasRelu';
const BIAS_RELU_GRAD = 'CurioBiasReluGrad';

const WG = 64;

/** How many times each fused shader ran in this process (tests check the fused path really ran). */
export const fusedDispatches = new Map<string, number>();

export function webgpuFusedEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return tf.getBackend() === 'webgpu' && (env.CURIO_WEBGPU_FUSED ?? '1').trim() !== '0';
}

/** Training BN + ReLU as the fused webgpu kernels: [y, mean, variance], or null where they do not apply. */
export function batchNormReluTrain(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): [tf.Tensor, tf.Tensor, tf.Tensor] | null {
  if (!webgpuFusedEnabled() || x.dtype !== 'float32' || x.rank < 2 || x.size === 0) return null;
  ensureRegistered();
  const [y, stats] = tf.engine().runKernel(BATCH_NORM_RELU, { x, weight, bias } as unknown as tf.NamedTensorMap, { eps } as unknown as tf.NamedAttrMap) as unknown as [tf.Tensor, tf.Tensor];
  const c = x.shape[x.rank - 1]!;
  // the statistics only feed the running averages: slicing them off is not taped back into the BN gradient
  const [mean, variance] = tf.split(tf.reshape(stats!, [2, c]), 2, 0).map((t) => tf.reshape(t, [c]));
  return [y!, mean!, variance!];
}

/** relu(x + bias) over the last axis as one webgpu shader, or null where it does not apply. */
export function biasRelu(x: tf.Tensor, bias: tf.Tensor): tf.Tensor | null {
  if (!webgpuFusedEnabled() || x.dtype !== 'float32' || bias.rank !== 1 || x.shape[x.rank - 1] !== bias.shape[0] || x.size === 0) return null;
  ensureRegistered();
  return tf.engine().runKernel(BIAS_RELU, { x, bias } as unknown as tf.NamedTensorMap, {}) as tf.Tensor;
}

type Uniforms = { type: string; data: number[] }[];

function run(backend: WebGPUBackend, program: WebGPUProgram & { key: string }, inputs: tf.TensorInfo[], uniforms: Uniforms): tf.TensorInfo {
  fusedDispatches.set(program.key, (fusedDispatches.get(program.key) ?? 0) + 1);
  return backend.runWebGPUProgram(program, inputs, 'float32', uniforms as never);
}

let registered = false;

function ensureRegistered(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({
    kernelName: BATCH_NORM_RELU,
    backendName: 'webgpu',
    kernelFunc: (args) => {
      const backend = args.backend as unknown as WebGPUBackend;
      const { x, weight, bias } = args.inputs as Record<'x' | 'weight' | 'bias', tf.TensorInfo>;
      const { eps } = args.attrs as unknown as { eps: number };
      const c = x.shape.at(-1)!;
      const rows = tf.util.sizeFromShape(x.shape) / c;
      const stats = run(backend, new ChannelReduceProgram('moments', ['x'], c), [x], [int(c), int(rows)]);
      const y = run(backend, new ElementwiseProgram('bnReluForward', ['x', 'stats', 'weight', 'bias'], x.shape), [x, stats, weight, bias], [int(c), int(rows), f32(eps)]);
      return [y, stats];
    },
  });
  tf.registerKernel({
    kernelName: BATCH_NORM_RELU_GRAD,
    backendName: 'webgpu',
    kernelFunc: (args) => {
      const backend = args.backend as unknown as WebGPUBackend;
      const { dy, x, y, weight, stats } = args.inputs as Record<'dy' | 'x' | 'y' | 'weight' | 'stats', tf.TensorInfo>;
      const { eps } = args.attrs as unknown as { eps: number };
      const c = x.shape.at(-1)!;
      const rows = tf.util.sizeFromShape(x.shape) / c;
      const sums = run(backend, new ChannelReduceProgram('bnReluGradSums', ['dy', 'x', 'y', 'stats'], c), [dy, x, y, stats], [int(c), int(rows), f32(eps)]);
      const dx = run(backend, new ElementwiseProgram('bnReluBackward', ['dy', 'x', 'y', 'stats', 'weight', 'sums'], x.shape), [dy, x, y, stats, weight, sums], [int(c), int(rows), f32(eps)]);
      return [dx, sums];
    },
  });
  tf.registerGradient({
    kernelName: BATCH_NORM_RELU,
    inputsToSave: ['x', 'weight'],
    outputsToSave: [true, true],
    gradFunc: (dy, saved, attrs) => {
      const [x, weight, y, stats] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      // only y carries a gradient: the statistics output feeds the running averages, which are not differentiated
      const dyY = Array.isArray(dy) ? dy[0]! : dy;
      const [dx, sums] = tf.engine().runKernel(BATCH_NORM_RELU_GRAD, { dy: dyY, x, y, weight, stats } as unknown as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as unknown as tf.Tensor[];
      const c = x.shape[x.rank - 1]!;
      return { x: () => dx!, weight: () => tf.slice(sums!, [c], [c]), bias: () => tf.slice(sums!, [0], [c]) };
    },
  });
  tf.registerKernel({
    kernelName: BIAS_RELU,
    backendName: 'webgpu',
    kernelFunc: (args) => {
      const backend = args.backend as unknown as WebGPUBackend;
      const { x, bias } = args.inputs as Record<'x' | 'bias', tf.TensorInfo>;
      const c = x.shape.at(-1)!;
      return run(backend, new ElementwiseProgram('biasRelu', ['x', 'bias'], x.shape), [x, bias], [int(c)]);
    },
  });
  tf.registerKernel({
    kernelName: BIAS_RELU_GRAD,
    backendName: 'webgpu',
    kernelFunc: (args) => {
      const backend = args.backend as unknown as WebGPUBackend;
      const { dy, y } = args.inputs as Record<'dy' | 'y', tf.TensorInfo>;
      const c = y.shape.at(-1)!;
      const rows = tf.util.sizeFromShape(y.shape) / c;
      const dx = run(backend, new ElementwiseProgram('biasReluBackward', ['dy', 'y'], y.shape), [dy, y], [int(c)]);
      const db = run(backend, new ChannelReduceProgram('biasReluGradSum', ['dy', 'y'], c), [dy, y], [int(c), int(rows)]);
      return [dx, db];
    },
  });
  tf.registerGradient({
    kernelName: BIAS_RELU,
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [y] = saved as [tf.Tensor];
      const [dx, db] = tf.engine().runKernel(BIAS_RELU_GRAD, { dy: dy as tf.Tensor, y } as unknown as tf.NamedTensorMap, {}) as unknown as tf.Tensor[];
      return { x: () => dx!, bias: () => db! };
    },
  });
}

const int = (v: number) => ({ type: 'int32', data: [v] });
const f32 = (v: number) => ({ type: 'float32', data: [v] });

type ElementwiseKind = 'bnReluForward' | 'bnReluBackward' | 'biasRelu' | 'biasReluBackward';

/** One thread per element of an NHWC (…, C) tensor; c = index mod C picks the per-channel operands. */
class ElementwiseProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WG, 1, 1];
  uniforms: string;
  size = true;

  constructor(
    readonly key: ElementwiseKind,
    readonly variableNames: string[],
    shape: number[],
  ) {
    this.outputShape = [...shape];
    this.dispatchLayout = { x: shape.map((_, i) => i) };
    const size = tf.util.sizeFromShape(shape);
    // stay under the 65535 workgroups per dimension: a 2-D grid, which the backend's getGlobalIndex folds back
    const groups = Math.ceil(size / WG);
    this.dispatch = groups > 65535 ? [65535, Math.ceil(groups / 65535), 1] : [groups, 1, 1];
    this.uniforms = key === 'biasRelu' || key === 'biasReluBackward' ? 'channels : i32,' : 'channels : i32, rows : i32, eps : f32,';
    this.shaderKey = `curioFused_${key}`;
  }

  getUserCode(): string {
    const body: Record<ElementwiseKind, string> = {
      bnReluForward: `
        let mean = stats[c];
        let rstd = inverseSqrt(stats[uniforms.channels + c] + uniforms.eps);
        result[index] = max(0.0, (x[index] - mean) * rstd * weight[c] + bias[c]);`,
      bnReluBackward: `
        let mean = stats[c];
        let rstd = inverseSqrt(stats[uniforms.channels + c] + uniforms.eps);
        let m = f32(uniforms.rows);
        let dz = select(0.0, dy[index], y[index] > 0.0);
        let xhat = (x[index] - mean) * rstd;
        result[index] = weight[c] * rstd * (dz - sums[c] / m - xhat * sums[uniforms.channels + c] / m);`,
      biasRelu: `
        result[index] = max(0.0, x[index] + bias[c]);`,
      biasReluBackward: `
        result[index] = select(0.0, dy[index], y[index] > 0.0);`,
    };
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let c = index % uniforms.channels;
          ${body[this.key]}
        }
      }
    `;
  }
}

type ReduceKind = 'moments' | 'bnReluGradSums' | 'biasReluGradSum';

/**
 * One workgroup per channel: its threads stride over the rows, then a tree sum in workgroup memory. Output [2·C]:
 * moments → mean, then biased variance (a second pass around the mean, as tf.moments); bnReluGradSums → Σdz, then Σdz·x̂.
 * biasReluGradSum: output [C], Σdz (dz = dy where y > 0).
 */
class ChannelReduceProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WG, 1, 1];
  uniforms: string;

  constructor(
    readonly key: ReduceKind,
    readonly variableNames: string[],
    channels: number,
  ) {
    this.outputShape = [key === 'biasReluGradSum' ? channels : 2 * channels];
    this.dispatchLayout = { x: [0] };
    this.dispatch = [channels, 1, 1];
    this.uniforms = key === 'bnReluGradSums' ? 'channels : i32, rows : i32, eps : f32,' : 'channels : i32, rows : i32,';
    this.shaderKey = `curioFused_${key}`;
  }

  getUserCode(): string {
    const tree = (into: string) => `
        curioPartial[t] = ${into};
        workgroupBarrier();
        for (var w = ${WG / 2}; w > 0; w = w / 2) {
          if (t < w) {
            curioPartial[t] = curioPartial[t] + curioPartial[t + w];
          }
          workgroupBarrier();
        }`;
    const bodies: Record<ReduceKind, () => string> = {
      moments: () => `
        var s = 0.0;
        for (var r = t; r < rows; r = r + ${WG}) {
          s = s + x[r * C + c];
        }
        ${tree('s')}
        let mean = curioPartial[0] / f32(rows);
        workgroupBarrier();
        var q = 0.0;
        for (var r = t; r < rows; r = r + ${WG}) {
          let d = x[r * C + c] - mean;
          q = q + d * d;
        }
        ${tree('q')}
        if (t == 0) {
          result[c] = mean;
          result[C + c] = curioPartial[0] / f32(rows);
        }`,
      bnReluGradSums: () => `
        let mean = stats[c];
        let rstd = inverseSqrt(stats[C + c] + uniforms.eps);
        var sb = 0.0;
        var sg = 0.0;
        for (var r = t; r < rows; r = r + ${WG}) {
          let i = r * C + c;
          let dz = select(0.0, dy[i], y[i] > 0.0);
          sb = sb + dz;
          sg = sg + dz * (x[i] - mean) * rstd;
        }
        ${tree('sb')}
        let dbeta = curioPartial[0];
        workgroupBarrier();
        ${tree('sg')}
        if (t == 0) {
          result[c] = dbeta;
          result[C + c] = curioPartial[0];
        }`,
      biasReluGradSum: () => `
        var s = 0.0;
        for (var r = t; r < rows; r = r + ${WG}) {
          let i = r * C + c;
          s = s + select(0.0, dy[i], y[i] > 0.0);
        }
        ${tree('s')}
        if (t == 0) {
          result[c] = curioPartial[0];
        }`,
    };
    const body = bodies[this.key]();
    return `
      var<workgroup> curioPartial : array<f32, ${WG}>;

      fn main(index : i32) {
        let c = i32(workgroupId.x);
        let t = i32(localId.x);
        let C = uniforms.channels;
        let rows = uniforms.rows;
        ${body}
      }
    `;
  }
}
