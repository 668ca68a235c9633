import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import {
  CONV2D_BACKPROP_FILTER,
  CONV2D_BACKPROP_INPUT,
  CONV2D_FORWARD,
  GemmProgram,
  matmulVariant,
  splitKFor,
  SplitSumProgram,
  tileFor,
  type GemmTile,
  type GemmVariant,
} from './gemm-program.js';

/**
 * Curio's own WGSL kernels for tfjs-backend-webgpu: a tiled matmul (BatchMatMul) and Conv2D with both gradients as
 * tiled implicit GEMMs (gemm-program.ts). Opt-in: registerCurioWebgpuKernels() replaces the stock kernels for
 * backend 'webgpu' (hardware and webgpu-gl alike) and unregisterCurioWebgpuKernels() puts them back. Cases these
 * kernels do not cover (NCHW, non-float32, broadcast batch shapes other than 1 vs n, dilated gradients) go to the
 * stock kernel.
 */
export const CURIO_WEBGPU_KERNEL_NAMES = ['BatchMatMul', 'Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'] as const;

export type CurioWebgpuKernelName = (typeof CURIO_WEBGPU_KERNEL_NAMES)[number];

/** The opt-in switch: CURIO_WEBGPU_KERNELS=1 in the environment (or a comma list of kernel names). */
export function curioWebgpuKernelsRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  return curioWebgpuKernelSelection(env).length > 0;
}

/**
 * Which kernels CURIO_WEBGPU_KERNELS asks for: '1' all of them, a comma list (e.g. 'Conv2DBackpropFilter') those,
 * anything else none. An unknown name is an error, so a typo does not silently measure the stock kernels.
 */
export function curioWebgpuKernelSelection(env: NodeJS.ProcessEnv = process.env): CurioWebgpuKernelName[] {
  const value = (env.CURIO_WEBGPU_KERNELS ?? '').trim();
  if (value === '1') return [...CURIO_WEBGPU_KERNEL_NAMES];
  if (value === '' || value === '0') return [];
  return parseCurioWebgpuKernelNames(value);
}

export function parseCurioWebgpuKernelNames(list: string): CurioWebgpuKernelName[] {
  return list.split(',').map((raw) => {
    const name = raw.trim();
    if (!(CURIO_WEBGPU_KERNEL_NAMES as readonly string[]).includes(name)) {
      throw new Error(`unknown Curio webgpu kernel "${name}": expected 1 or a comma list of ${CURIO_WEBGPU_KERNEL_NAMES.join(', ')}`);
    }
    return name as CurioWebgpuKernelName;
  });
}

const stock = new Map<string, tf.KernelConfig>();

export function curioWebgpuKernelsRegistered(): boolean {
  return stock.size > 0;
}

/**
 * Registers Curio's kernels (all, or those named) for tfjs backend 'webgpu'. Call it after the webgpu backend
 * package has been loaded (initBackend with 'webgpu' or 'webgpu-gl' does that); while Curio's kernels are
 * registered a second call is a no-op. Returns the kernel names now served by Curio.
 */
export function registerCurioWebgpuKernels(names: readonly CurioWebgpuKernelName[] = CURIO_WEBGPU_KERNEL_NAMES): string[] {
  if (stock.size > 0) return [...stock.keys()];
  for (const name of names) {
    const config = tf.getKernel(name, 'webgpu');
    if (!config) {
      throw new Error(`tfjs-backend-webgpu has no '${name}' kernel registered yet: activate the webgpu backend (initBackend 'webgpu' or 'webgpu-gl') first`);
    }
    stock.set(name, config);
  }
  const own: Record<CurioWebgpuKernelName, tf.KernelFunc> = {
    BatchMatMul: batchMatMul,
    Conv2D: conv2d,
    Conv2DBackpropInput: conv2dBackpropInput,
    Conv2DBackpropFilter: conv2dBackpropFilter,
  };
  for (const name of names) {
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel({ kernelName: name, backendName: 'webgpu', kernelFunc: own[name] });
  }
  return [...stock.keys()];
}

/** Puts the stock tfjs-backend-webgpu kernels back. */
export function unregisterCurioWebgpuKernels(): void {
  for (const [name, config] of stock) {
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel(config);
  }
  stock.clear();
}

function fallback(name: string, params: Parameters<tf.KernelFunc>[0]): ReturnType<tf.KernelFunc> {
  const config = stock.get(name);
  if (!config) throw new Error(`no stock webgpu '${name}' kernel to fall back to`);
  return config.kernelFunc(params);
}

function tileOf(backend: WebGPUBackend): GemmTile {
  return tileFor(backend.device.limits);
}

type Uniforms = { type: string; data: number[] }[];

/** How many times each Curio shader variant was dispatched in this process (tests check the kernels really ran). */
export const curioKernelDispatches = new Map<string, number>();

function runGemm(backend: WebGPUBackend, variant: GemmVariant, inputs: tf.TensorInfo[], batch: number, m: number, n: number, k: number, extra: number[]): tf.TensorInfo {
  const tile = tileOf(backend);
  const { splits, kChunk } = batch === 1 ? splitKFor(m, n, k, tile) : { splits: 1, kChunk: k };
  const program = new GemmProgram(batch, m, n, variant, tile, splits);
  const key = splits > 1 ? `${variant.key}_splitK` : variant.key;
  curioKernelDispatches.set(key, (curioKernelDispatches.get(key) ?? 0) + 1);
  const uniforms: Uniforms = [m, n, k, kChunk, ...extra].map((v) => ({ type: 'int32', data: [v] }));
  const out = backend.runWebGPUProgram(program, inputs, 'float32', uniforms as never);
  if (splits === 1) return out;
  const sum = backend.runWebGPUProgram(new SplitSumProgram(m * n), [view(out, [splits * m * n])], 'float32', [{ type: 'int32', data: [splits] }] as never);
  backend.disposeData(out.dataId);
  return view(sum, [1, m, n]);
}

/** A view of the same GPU buffer with another shape: what the stock Reshape does, without a reference count. */
function view(t: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

function batchMatMul(params: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { inputs, attrs } = params;
  const backend = params.backend as unknown as WebGPUBackend;
  const a = inputs.a as tf.TensorInfo;
  const b = inputs.b as tf.TensorInfo;
  const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return fallback('BatchMatMul', params) as tf.TensorInfo;
  const aOuter = a.shape.slice(0, -2);
  const bOuter = b.shape.slice(0, -2);
  const batchA = aOuter.reduce((p, d) => p * d, 1);
  const batchB = bOuter.reduce((p, d) => p * d, 1);
  const m = transposeA ? a.shape.at(-1)! : a.shape.at(-2)!;
  const k = transposeA ? a.shape.at(-2)! : a.shape.at(-1)!;
  const kB = transposeB ? b.shape.at(-1)! : b.shape.at(-2)!;
  const n = transposeB ? b.shape.at(-2)! : b.shape.at(-1)!;
  if (k !== kB) throw new Error(`BatchMatMul: inner dimensions differ (${k} and ${kB}) for shapes [${a.shape}] and [${b.shape}], transposeA=${transposeA}, transposeB=${transposeB}`);
  // Batches must match or one side must be a single matrix; anything else broadcast is left to the stock kernel.
  const sameOuter = aOuter.length === bOuter.length && aOuter.every((d, i) => d === bOuter[i]);
  if (!sameOuter && batchA !== 1 && batchB !== 1) return fallback('BatchMatMul', params) as tf.TensorInfo;
  const outer = batchA >= batchB ? aOuter : bOuter;
  const batch = Math.max(batchA, batchB);
  const a3 = view(a, [batchA, a.shape.at(-2)!, a.shape.at(-1)!]);
  const b3 = view(b, [batchB, b.shape.at(-2)!, b.shape.at(-1)!]);
  const out = runGemm(backend, matmulVariant(transposeA, transposeB), [a3, b3], batch, m, n, k, [batchA, batchB]);
  return view(out, [...outer, m, n]);
}

interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function convUniforms(info: tf.backend_util.Conv2DInfo): number[] {
  return [
    info.batchSize, info.inHeight, info.inWidth, info.inChannels,
    info.outHeight, info.outWidth, info.outChannels,
    info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth,
    info.padInfo.top, info.padInfo.left, info.dilationHeight, info.dilationWidth,
  ];
}

function convInfo(xShape: number[], filterShape: number[], attrs: ConvAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
}

function conv2d(params: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const backend = params.backend as unknown as WebGPUBackend;
  const x = params.inputs.x as tf.TensorInfo;
  const filter = params.inputs.filter as tf.TensorInfo;
  const attrs = params.attrs as unknown as ConvAttrs;
  if (attrs.dataFormat === 'NCHW' || x.dtype !== 'float32' || filter.dtype !== 'float32') return fallback('Conv2D', params) as tf.TensorInfo;
  const info = convInfo(x.shape, filter.shape, attrs);
  const m = info.batchSize * info.outHeight * info.outWidth;
  const k = info.filterHeight * info.filterWidth * info.inChannels;
  const out = runGemm(backend, CONV2D_FORWARD, [x, filter], 1, m, info.outChannels, k, convUniforms(info));
  return view(out, info.outShape);
}

function conv2dBackpropInput(params: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const backend = params.backend as unknown as WebGPUBackend;
  const dy = params.inputs.dy as tf.TensorInfo;
  const filter = params.inputs.filter as tf.TensorInfo;
  const attrs = params.attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
  if (attrs.dataFormat === 'NCHW' || dy.dtype !== 'float32' || filter.dtype !== 'float32') return fallback('Conv2DBackpropInput', params) as tf.TensorInfo;
  const info = convInfo(attrs.inputShape, filter.shape, { ...attrs, dilations: 1 });
  const m = info.batchSize * info.inHeight * info.inWidth;
  const k = info.filterHeight * info.filterWidth * info.outChannels;
  const out = runGemm(backend, CONV2D_BACKPROP_INPUT, [dy, filter], 1, m, info.inChannels, k, convUniforms(info));
  return view(out, [...attrs.inputShape]);
}

function conv2dBackpropFilter(params: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const backend = params.backend as unknown as WebGPUBackend;
  const x = params.inputs.x as tf.TensorInfo;
  const dy = params.inputs.dy as tf.TensorInfo;
  const attrs = params.attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
  if (attrs.dataFormat === 'NCHW' || x.dtype !== 'float32' || dy.dtype !== 'float32') return fallback('Conv2DBackpropFilter', params) as tf.TensorInfo;
  const info = convInfo(x.shape, attrs.filterShape, { ...attrs, dilations: 1 });
  const m = info.filterHeight * info.filterWidth * info.inChannels;
  const k = info.batchSize * info.outHeight * info.outWidth;
  const out = runGemm(backend, CONV2D_BACKPROP_FILTER, [x, dy], 1, m, info.outChannels, k, convUniforms(info));
  return view(out, [...attrs.filterShape]);
}
