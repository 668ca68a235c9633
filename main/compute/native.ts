import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';

/**
 * The `native` CPU backend: tfjs's pure-JS `cpu` backend with its hot kernels replaced by Curio's addon
 * (main/compute/native/curio_cpu.c): convolution forward and both gradients and batched matmul as im2col + SGEMM on
 * a BLAS found at run time (OpenBLAS, Accelerate), and the NHWC broadcast and reduction patterns of batch norm.
 * Everything else is the stock cpu kernel, so any op a model uses still works. A shape the addon does not cover
 * (NCHW, int tensors, unusual broadcasts) goes to the stock kernel too.
 *
 * The addon is optional: `npm run build` compiles it where a C compiler and Node's headers exist, and loading it
 * needs OpenBLAS (Debian: libopenblas0-pthread). Where either is missing, `loadNativeKernels` throws a one-line
 * reason and initBackend moves on to wasm.
 */
export const NATIVE_TF_BACKEND = 'curio-native';

interface Addon {
  init(threads: number): string;
  conv2d(x: Float32Array, w: Float32Array, out: Float32Array, dims: Int32Array): void;
  conv2dBackpropInput(dy: Float32Array, w: Float32Array, dx: Float32Array, dims: Int32Array): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, dims: Int32Array): void;
  matmul(a: Float32Array, b: Float32Array, c: Float32Array, dims: Int32Array): void;
  binaryStrided(op: number, a: Float32Array, b: Float32Array, out: Float32Array, dims: Int32Array): void;
  unary(op: number, x: Float32Array, out: Float32Array, alpha: number, beta?: number): void;
  transpose(x: Float32Array, out: Float32Array, shape: Int32Array, perm: Int32Array): void;
  bnForward(x: Float32Array, w: Float32Array, b: Float32Array, y: Float32Array, mean: Float32Array, variance: Float32Array, rows: number, c: number, eps: number): void;
  bnBackward(dy: Float32Array, x: Float32Array, w: Float32Array, mean: Float32Array, variance: Float32Array, dx: Float32Array, dw: Float32Array, db: Float32Array, rows: number, c: number, eps: number): void;
  mirrorPad(x: Float32Array, out: Float32Array, shape: Int32Array, before: Int32Array, after: Int32Array, offset: 0 | 1): void;
  depthwiseConv2d(x: Float32Array, w: Float32Array, out: Float32Array, dims: Int32Array): void;
  cropAndResize(image: Float32Array, boxes: Float32Array, boxInd: Int32Array, out: Float32Array, dims: Int32Array, extrapolation: number): void;
  sumMiddle(x: Float32Array, out: Float32Array, outer: number, mid: number, inner: number): void;
}

const require = createRequire(import.meta.url);
let addon: { native: Addon; library: string } | null = null;
let registered = false;
let nativeKernelNames: string[] = [];

/** The kernels the native backend replaces (empty until registerNativeBackend). */
export function replacedKernels(): readonly string[] {
  return nativeKernelNames;
}

/** Where the built addon is looked for: $CURIO_NATIVE_ADDON, then dist/native/ of this package (unpacked from asar). */
export function nativeAddonPath(): string {
  if (process.env.CURIO_NATIVE_ADDON) return process.env.CURIO_NATIVE_ADDON;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) break;
    dir = path.dirname(dir);
  }
  return path.join(dir, 'dist', 'native', 'curio_cpu.node').replace(`app.asar${path.sep}`, `app.asar.unpacked${path.sep}`);
}

/** Loads the addon and its BLAS once; returns the BLAS description. Throws a one-line reason when it cannot. */
export function loadNativeKernels(threads = os.availableParallelism()): string {
  if (!addon) {
    const file = nativeAddonPath();
    if (!fs.existsSync(file)) {
      throw new Error(`the native CPU kernels are not built (${path.basename(file)} missing; \`npm run build\` builds them where a C compiler exists)`);
    }
    let native: Addon;
    try {
      native = require(file) as Addon;
    } catch (err) {
      throw new Error(`the native CPU kernels do not load: ${(err as Error).message.split('\n')[0]}`);
    }
    const library = native.init(threads);
    addon = { native, library };
  }
  return addon.library;
}

type KernelFunc = tf.KernelConfig['kernelFunc'];
interface CpuBackendLike {
  data: { get(dataId: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
}

/**
 * Registers the `curio-native` tfjs backend: a fresh instance of the cpu backend with every cpu kernel registered
 * under the new name and the hot ones replaced. Idempotent.
 */
export function registerNativeBackend(): void {
  if (registered) return;
  if (!addon) loadNativeKernels();
  const cpuFactory = tf.findBackendFactory('cpu');
  if (!cpuFactory) throw new Error("tfjs's cpu backend is not registered");
  const stock = new Map<string, KernelFunc>();
  for (const config of tf.getKernelsForBackend('cpu')) {
    stock.set(config.kernelName, config.kernelFunc);
    tf.registerKernel({ ...config, backendName: NATIVE_TF_BACKEND });
  }
  const overrides = nativeKernels(addon!.native, stock);
  nativeKernelNames = Object.keys(overrides);
  for (const [kernelName, kernelFunc] of Object.entries(overrides)) {
    tf.unregisterKernel(kernelName, NATIVE_TF_BACKEND);
    tf.registerKernel({ kernelName, backendName: NATIVE_TF_BACKEND, kernelFunc });
  }
  registerBatchNorm(addon!.native);
  tf.registerBackend(NATIVE_TF_BACKEND, cpuFactory, 0);
  registered = true;
}

/** Curio's fused training batch norm: a kernel of the native backend only (see batchNormTrain). */
export const BATCH_NORM_TRAIN = 'CurioBatchNormTrain';
const BATCH_NORM_TRAIN_GRAD = 'CurioBatchNormTrainGrad';

/**
 * Batch norm in training mode as one kernel on the native backend: [y, mean, variance] of x over every axis but the
 * last, with the affine weight and bias. Its gradient is one more kernel, instead of the ~20 broadcast, reduction
 * and elementwise kernels tf.moments and the arithmetic around it take forward and backward. Null on every other
 * backend (the caller composes the ops as before).
 */
export function batchNormTrain(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): [tf.Tensor, tf.Tensor, tf.Tensor] | null {
  if (!registered || tf.getBackend() !== NATIVE_TF_BACKEND || x.dtype !== 'float32' || x.rank < 2 || x.size === 0) return null;
  return tf.engine().runKernel(BATCH_NORM_TRAIN, { x, weight, bias } as unknown as tf.NamedTensorMap, { eps } as unknown as tf.NamedAttrMap) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
}

function registerBatchNorm(native: Addon): void {
  tf.registerKernel({
    kernelName: BATCH_NORM_TRAIN,
    backendName: NATIVE_TF_BACKEND,
    kernelFunc: (args) => {
      const backend = args.backend as unknown as CpuBackendLike;
      const { x, weight, bias } = args.inputs as { x: tf.TensorInfo; weight: tf.TensorInfo; bias: tf.TensorInfo };
      const { eps } = args.attrs as unknown as { eps: number };
      const c = x.shape[x.shape.length - 1]!;
      const xv = f32(backend, x)!;
      const y = new Float32Array(xv.length);
      const mean = new Float32Array(c);
      const variance = new Float32Array(c);
      native.bnForward(xv, f32(backend, weight)!, f32(backend, bias)!, y, mean, variance, xv.length / c, c, eps);
      return [backend.makeTensorInfo(x.shape.slice(), 'float32', y), backend.makeTensorInfo([c], 'float32', mean), backend.makeTensorInfo([c], 'float32', variance)];
    },
  });
  tf.registerKernel({
    kernelName: BATCH_NORM_TRAIN_GRAD,
    backendName: NATIVE_TF_BACKEND,
    kernelFunc: (args) => {
      const backend = args.backend as unknown as CpuBackendLike;
      const { dy, x, weight, mean, variance } = args.inputs as Record<'dy' | 'x' | 'weight' | 'mean' | 'variance', tf.TensorInfo>;
      const { eps } = args.attrs as unknown as { eps: number };
      const c = x.shape[x.shape.length - 1]!;
      const xv = f32(backend, x)!;
      const dx = new Float32Array(xv.length);
      const dw = new Float32Array(c);
      const db = new Float32Array(c);
      native.bnBackward(f32(backend, dy)!, xv, f32(backend, weight)!, f32(backend, mean)!, f32(backend, variance)!, dx, dw, db, xv.length / c, c, eps);
      return [backend.makeTensorInfo(x.shape.slice(), 'float32', dx), backend.makeTensorInfo([c], 'float32', dw), backend.makeTensorInfo([c], 'float32', db)];
    },
  });
  tf.registerGradient({
    kernelName: BATCH_NORM_TRAIN,
    inputsToSave: ['x', 'weight'],
    outputsToSave: [false, true, true],
    gradFunc: (dy, saved, attrs) => {
      const [x, weight, mean, variance] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      // only y carries a gradient: mean and variance feed the running statistics, which are not differentiated
      const dyY = Array.isArray(dy) ? dy[0]! : dy;
      const [dx, dw, db] = tf.engine().runKernel(BATCH_NORM_TRAIN_GRAD, { dy: dyY, x, weight, mean, variance } as unknown as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as unknown as tf.Tensor[];
      return { x: () => dx!, weight: () => dw!, bias: () => db! };
    },
  });
}

function f32(backend: CpuBackendLike, t: tf.TensorInfo): Float32Array | null {
  if (t.dtype !== 'float32') return null;
  const v = backend.data.get(t.dataId).values;
  return v instanceof Float32Array ? v : null;
}

function convDims(info: tf.backend_util.Conv2DInfo): Int32Array {
  return Int32Array.from([
    info.batchSize, info.inHeight, info.inWidth, info.inChannels,
    info.filterHeight, info.filterWidth, info.outChannels, info.outHeight, info.outWidth,
    info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left,
    info.dilationHeight, info.dilationWidth,
  ]);
}

/** Ops of the addon's binaryStrided; 16 set means the operands are swapped (b ∘ a). */
const BINARY_OPS: Record<string, number> = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, SquaredDifference: 4 };
/** Ops of the addon's unary. */
const UNARY_OPS: Record<string, number> = { Relu: 0, Step: 1, Square: 2, Neg: 3, Sqrt: 4, Rsqrt: 5, Exp: 6, Abs: 7 };

type Shape4 = [number, number, number, number];
interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: string;
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape?: Shape4;
  filterShape?: Shape4;
}
interface ConvKernel {
  inputs: [string, string];
  geometry(a: tf.TensorInfo, b: tf.TensorInfo, attrs: ConvAttrs): [x: Shape4, filter: Shape4, dilations: number | [number, number]];
  output(info: tf.backend_util.Conv2DInfo): number[];
  run(a: Float32Array, b: Float32Array, out: Float32Array, dims: Int32Array): void;
}

function nativeKernels(native: Addon, stock: Map<string, KernelFunc>): Record<string, KernelFunc> {
  const fallback = (name: string) => stock.get(name)!;
  const out: Record<string, KernelFunc> = {};

  // The three convolution kernels differ only in which two tensors they take, which shapes define the
  // convolution, and what they return.
  const conv: Record<'Conv2D' | 'Conv2DBackpropInput' | 'Conv2DBackpropFilter', ConvKernel> = {
    Conv2D: {
      inputs: ['x', 'filter'],
      geometry: (x, filter, attrs) => [x.shape as Shape4, filter.shape as Shape4, attrs.dilations ?? 1],
      output: (info) => info.outShape,
      run: (x, filter, out, dims) => native.conv2d(x, filter, out, dims),
    },
    Conv2DBackpropInput: {
      inputs: ['dy', 'filter'],
      geometry: (_dy, filter, attrs) => [attrs.inputShape!, filter.shape as Shape4, 1],
      output: (info) => info.inShape,
      run: (dy, filter, out, dims) => native.conv2dBackpropInput(dy, filter, out, dims),
    },
    Conv2DBackpropFilter: {
      inputs: ['x', 'dy'],
      geometry: (x, _dy, attrs) => [x.shape as Shape4, attrs.filterShape!, 1],
      output: (info) => info.filterShape,
      run: (x, dy, out, dims) => native.conv2dBackpropFilter(x, dy, out, dims),
    },
  };
  for (const [name, kernel] of Object.entries(conv)) {
    out[name] = (args) => {
      const backend = args.backend as unknown as CpuBackendLike;
      const inputs = args.inputs as Record<string, tf.TensorInfo>;
      const attrs = args.attrs as unknown as ConvAttrs;
      const a = inputs[kernel.inputs[0]]!;
      const b = inputs[kernel.inputs[1]]!;
      const av = f32(backend, a);
      const bv = f32(backend, b);
      if (attrs.dataFormat === 'NCHW' || !av || !bv) return fallback(name)(args);
      const [xShape, filterShape, dilations] = kernel.geometry(a, b, attrs);
      const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, attrs.strides, dilations, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
      const shape = kernel.output(info);
      const result = new Float32Array(shape.reduce((p, d) => p * d, 1));
      if (result.length > 0) kernel.run(av, bv, result, convDims(info));
      return backend.makeTensorInfo(shape, 'float32', result);
    };
  }

  out.BatchMatMul = (args) => {
    const backend = args.backend as unknown as CpuBackendLike;
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const av = f32(backend, a);
    const bv = f32(backend, b);
    const ra = a.shape.length;
    const rb = b.shape.length;
    if (!av || !bv || ra < 2 || rb < 2) return fallback('BatchMatMul')(args);
    const outerA = a.shape.slice(0, -2);
    const outerB = b.shape.slice(0, -2);
    const batchA = outerA.reduce((p, d) => p * d, 1);
    const batchB = outerB.reduce((p, d) => p * d, 1);
    const sameOuter = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
    if (!sameOuter && batchA !== 1 && batchB !== 1) return fallback('BatchMatMul')(args);
    const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
    const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
    const kb = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
    const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
    if (k !== kb) return fallback('BatchMatMul')(args); // the stock kernel throws tfjs's own message
    const outer = batchA >= batchB ? (outerA.length >= outerB.length ? outerA : outerB) : outerB;
    const batch = Math.max(batchA, batchB);
    const result = new Float32Array(batch * m * n);
    if (result.length > 0) native.matmul(av, bv, result, Int32Array.from([batchA, batchB, m, n, k, transposeA ? 1 : 0, transposeB ? 1 : 0]));
    return backend.makeTensorInfo([...outer, m, n], 'float32', result);
  };

  for (const [name, op] of Object.entries(BINARY_OPS)) {
    out[name] = (args) => binary(native, args, op) ?? fallback(name)(args);
  }

  for (const [name, op] of Object.entries(UNARY_OPS)) {
    out[name] = (args) => {
      const backend = args.backend as unknown as CpuBackendLike;
      const { x } = args.inputs as { x: tf.TensorInfo };
      const xv = f32(backend, x);
      if (!xv) return fallback(name)(args);
      const alpha = name === 'Step' ? ((args.attrs as { alpha?: number } | undefined)?.alpha ?? 0) : 0;
      const result = new Float32Array(xv.length);
      native.unary(op, xv, result, alpha);
      return backend.makeTensorInfo(x.shape.slice(), 'float32', result);
    };
  }
  out.Pow = (args) => {
    const backend = args.backend as unknown as CpuBackendLike;
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const av = f32(backend, a);
    const bv = f32(backend, b);
    if (!av || !bv || bv.length !== 1 || b.shape.length > a.shape.length) return fallback('Pow')(args);
    const result = new Float32Array(av.length);
    native.unary(bv[0] === 2 ? 2 : 8, av, result, bv[0]!);
    return backend.makeTensorInfo(a.shape.slice(), 'float32', result);
  };

  out.ClipByValue = (args) => {
    const backend = args.backend as unknown as CpuBackendLike;
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { clipValueMin, clipValueMax } = args.attrs as unknown as { clipValueMin: number; clipValueMax: number };
    const xv = f32(backend, x);
    if (!xv) return fallback('ClipByValue')(args);
    const result = new Float32Array(xv.length);
    native.unary(9, xv, result, clipValueMin, clipValueMax);
    return backend.makeTensorInfo(x.shape.slice(), 'float32', result);
  };

  // The augmentation path (main/augment): forward-only kernels, on the same images the training step then sees.
  out.Transpose = (args) => {
    const backend = args.backend as unknown as CpuBackendLike;
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { perm } = args.attrs as unknown as { perm: number[] };
    const xv = f32(backend, x);
    if (!xv || x.shape.length < 1 || x.shape.length > 8) return fallback('Transpose')(args);
    const result = new Float32Array(xv.length);
    native.transpose(xv, result, Int32Array.from(x.shape), Int32Array.from(perm));
    return backend.makeTensorInfo(perm.map((p) => x.shape[p]!), 'float32', result);
  };

  out.MirrorPad = (args) => {
    const backend = args.backend as unknown as CpuBackendLike;
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { paddings, mode } = args.attrs as unknown as { paddings: [number, number][]; mode: 'reflect' | 'symmetric' };
    const xv = f32(backend, x);
    if (!xv || x.shape.length < 1 || x.shape.length > 8 || xv.length === 0) return fallback('MirrorPad')(args);
    const outShape = x.shape.map((d, i) => paddings[i]![0] + d + paddings[i]![1]);
    const result = new Float32Array(outShape.reduce((p, d) => p * d, 1));
    native.mirrorPad(xv, result, Int32Array.from(x.shape), Int32Array.from(paddings.map((p) => p[0])), Int32Array.from(paddings.map((p) => p[1])), mode === 'reflect' ? 0 : 1);
    return backend.makeTensorInfo(outShape, 'float32', result);
  };

  out.DepthwiseConv2dNative = (args) => {
    const backend = args.backend as unknown as CpuBackendLike;
    const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
    const a = args.attrs as unknown as { strides: number | [number, number]; pad: never; dataFormat: string; dilations: number | [number, number]; dimRoundingMode?: never };
    const xv = f32(backend, x);
    const wv = f32(backend, filter);
    if (a.dataFormat === 'NCHW' || !xv || !wv) return fallback('DepthwiseConv2dNative')(args);
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
      a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, true, 'channelsLast');
    const result = new Float32Array(info.batchSize * info.outHeight * info.outWidth * info.outChannels);
    if (result.length > 0) {
      const dims = convDims(info);
      dims[6] = filter.shape[3]!; // the channel multiplier
      native.depthwiseConv2d(xv, wv, result, dims);
    }
    return backend.makeTensorInfo(info.outShape, 'float32', result);
  };

  out.CropAndResize = (args) => {
    const backend = args.backend as unknown as CpuBackendLike;
    const { image, boxes, boxInd } = args.inputs as { image: tf.TensorInfo; boxes: tf.TensorInfo; boxInd: tf.TensorInfo };
    const { cropSize, method, extrapolationValue } = args.attrs as unknown as { cropSize: [number, number]; method: string; extrapolationValue: number };
    const iv = f32(backend, image);
    const bv = f32(backend, boxes);
    const ind = backend.data.get(boxInd.dataId).values;
    if (!iv || !bv || !(ind instanceof Int32Array) || image.shape.length !== 4) return fallback('CropAndResize')(args);
    const [batch, h, w, c] = image.shape as [number, number, number, number];
    const nb = boxes.shape[0]!;
    const result = new Float32Array(nb * cropSize[0] * cropSize[1] * c);
    if (result.length > 0 && h > 0 && w > 0) {
      native.cropAndResize(iv, bv, ind, result, Int32Array.from([batch, h, w, c, nb, cropSize[0], cropSize[1], method === 'nearest' ? 1 : 0]), extrapolationValue);
    }
    return backend.makeTensorInfo([nb, cropSize[0], cropSize[1], c], 'float32', result);
  };

  out.Sum = (args) => reduce(native, args, false) ?? fallback('Sum')(args);
  out.Mean = (args) => reduce(native, args, true) ?? fallback('Mean')(args);
  return out;
}

/**
 * a ∘ b for float32 tensors where one operand broadcasts into the other's shape (the output's): per channel, per
 * row, per image and channel, scalars, or the same shape. Both orders are handled; a broadcast of both operands
 * (or more than four alternating runs of broadcast dimensions) goes to the stock kernel.
 */
function binary(native: Addon, args: Parameters<KernelFunc>[0], op: number): tf.TensorInfo | null {
  const backend = args.backend as unknown as CpuBackendLike;
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const av = f32(backend, a);
  const bv = f32(backend, b);
  if (!av || !bv) return null;
  let dims = broadcastDims(a.shape, b.shape);
  if (dims) {
    const out = new Float32Array(av.length);
    if (out.length > 0) native.binaryStrided(op, av, bv, out, dims);
    return backend.makeTensorInfo(a.shape.slice(), 'float32', out);
  }
  dims = broadcastDims(b.shape, a.shape);
  if (dims) {
    const out = new Float32Array(bv.length);
    if (out.length > 0) native.binaryStrided(op | 16, bv, av, out, dims);
    return backend.makeTensorInfo(b.shape.slice(), 'float32', out);
  }
  return null;
}

/**
 * How b broadcasts into a's shape, for the addon's binaryStrided: a's shape collapsed to four dimensions
 * [d0..d3] and b's strides over them (0 where b is broadcast). Null when b does not broadcast into a, or when
 * the collapsed view needs more than four dimensions.
 */
export function broadcastDims(a: readonly number[], b: readonly number[]): Int32Array | null {
  if (b.length > a.length) return null;
  const lead = a.length - b.length;
  const bFull = [...new Array<number>(lead).fill(1), ...b];
  // b's row-major strides, with 0 wherever it broadcasts
  const strides = new Array<number>(a.length).fill(0);
  let acc = 1;
  for (let k = a.length - 1; k >= 0; k--) {
    const da = a[k]!;
    const db = bFull[k]!;
    if (db !== da && db !== 1) return null;
    strides[k] = db === 1 && da !== 1 ? 0 : acc;
    acc *= db;
  }
  // drop size-1 dimensions, then merge neighbours that are both broadcast or both contiguous in b
  const dims: number[] = [];
  const st: number[] = [];
  for (let k = 0; k < a.length; k++) {
    const d = a[k]!;
    if (d === 1) continue;
    const s = strides[k]!;
    const j = dims.length - 1;
    if (j >= 0 && ((s === 0 && st[j] === 0) || (s !== 0 && st[j] === s * d))) {
      dims[j]! *= d;
      st[j] = s;
    } else {
      dims.push(d);
      st.push(s);
    }
  }
  if (dims.length > 4) return null;
  while (dims.length < 4) {
    dims.unshift(1);
    st.unshift(0);
  }
  return Int32Array.from([...dims, ...st]);
}

/** Sum or mean over one run of adjacent axes (N·H·W, H·W, the last axis, …); null otherwise. */
function reduce(native: Addon, args: Parameters<KernelFunc>[0], mean: boolean): tf.TensorInfo | null {
  const backend = args.backend as unknown as CpuBackendLike;
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { axis, keepDims } = args.attrs as unknown as { axis?: number | number[] | null; keepDims: boolean };
  const xv = f32(backend, x);
  const rank = x.shape.length;
  if (!xv || rank < 1 || xv.length === 0) return null;
  const given = axis === null || axis === undefined ? x.shape.map((_, i) => i) : Array.isArray(axis) ? axis : [axis];
  if (!given.every((d) => Number.isInteger(d))) return null;
  const axes = [...new Set(given.map((d) => (d < 0 ? d + rank : d)))].sort((p, q) => p - q);
  if (axes.length === 0 || axes.some((d, i) => d < 0 || d >= rank || (i > 0 && d !== axes[i - 1]! + 1))) return null;
  const prod = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);
  const outer = prod(x.shape.slice(0, axes[0]));
  const mid = prod(x.shape.slice(axes[0], axes[axes.length - 1]! + 1));
  const inner = prod(x.shape.slice(axes[axes.length - 1]! + 1));
  const out = new Float32Array(outer * inner);
  native.sumMiddle(xv, out, outer, mid, inner);
  if (mean) for (let i = 0; i < out.length; i++) out[i]! /= mid;
  const shape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
  return backend.makeTensorInfo(shape, 'float32', out);
}
