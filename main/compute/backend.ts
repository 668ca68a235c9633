import { createRequire } from 'node:module';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { loadNativeKernels, NATIVE_TF_BACKEND, registerNativeBackend } from './native.js';
import { registerWasmConv2DBackpropFilter } from './wasm-conv-grad.js';
import { guardWasmHeap } from './wasm-heap.js';
import { curioWebgpuKernelSelection, curioWebgpuKernelsRequested, registerCurioWebgpuKernels } from './webgpu/index.js';

/**
 * The one place that picks the tfjs backend. Candidates, fastest first (the order 'auto' tries):
 * - webgpu: Dawn (npm `webgpu`) on a hardware adapter + @tensorflow/tfjs-backend-webgpu.
 * - tensorflow: @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node (optionalDependencies; often absent).
 * - native: tfjs's cpu backend with Curio's C kernels (main/compute/native/curio_cpu.c: conv and matmul as
 *   im2col + OpenBLAS SGEMM, batch norm's broadcasts and reductions); built by `npm run build` where a C compiler
 *   exists, and needs OpenBLAS (or Accelerate) at run time.
 * - wasm: @tensorflow/tfjs-backend-wasm (XNNPACK) plus our Conv2DBackpropFilter, so it can train.
 * - webgpu-gl: Dawn's OpenGL ES backend on a software rasteriser (llvmpipe); a CPU path, slower than wasm.
 * - cpu: tfjs's pure-JS kernels; always there, slowest.
 * Every attempt ends up in `tried` with its reason, so the UI and `--backend` errors can say why.
 */
export const BACKEND_NAMES = ['webgpu', 'tensorflow', 'native', 'wasm', 'webgpu-gl', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendPreference = 'auto' | BackendName;
export const AUTO_ORDER: readonly BackendName[] = BACKEND_NAMES;

export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  reason: string;
}

export interface BackendChoice {
  /** Curio's name for the path (webgpu-gl is tfjs backend 'webgpu' on a GL adapter). */
  backend: BackendName;
  /** What tf.getBackend() reports. */
  tfBackend: string;
  reason: string;
  tried: BackendAttempt[];
  /** Adapter or library description where known, e.g. the GPU name. */
  device?: string;
}

export class BackendUnavailableError extends Error {
  constructor(
    message: string,
    readonly tried: BackendAttempt[],
  ) {
    super(message);
    this.name = 'BackendUnavailableError';
  }
}

export interface InitBackendOptions {
  prefer?: BackendPreference;
  /** Skip the tiny conv-gradient step that proves a backend can train (tests that only switch backends). */
  skipTrainCheck?: boolean;
}

export function parseBackendPreference(value: string): BackendPreference {
  if (value === 'auto' || (BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendPreference;
  throw new Error(`unknown backend "${value}": expected one of auto, ${BACKEND_NAMES.join(', ')}`);
}

interface Prepared {
  tfName: string;
  device?: string;
}

const require = createRequire(import.meta.url);
let current: BackendChoice | null = null;
/** Which Dawn adapter is behind the tfjs 'webgpu' registration right now. */
let webgpuFlavour: 'webgpu' | 'webgpu-gl' | null = null;

export function currentBackend(): BackendChoice | null {
  return current;
}

/**
 * Chooses and activates a backend. With prefer 'auto' (the default) it takes the first of AUTO_ORDER that
 * initialises and passes a one-step conv-gradient check; with a named backend it uses that one or throws
 * BackendUnavailableError naming the reason.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendChoice> {
  const prefer = options.prefer ?? 'auto';
  const order = prefer === 'auto' ? AUTO_ORDER : [prefer];
  const tried: BackendAttempt[] = [];
  for (const name of order) {
    try {
      const prepared = await activate(name);
      if (!options.skipTrainCheck) await trainCheck();
      const reason =
        prefer === 'auto'
          ? tried.length === 0
            ? `${name} is the fastest available backend`
            : `${name} is the fastest backend that works here (${tried.map((t) => `${t.name}: ${t.reason}`).join('; ')})`
          : `${name} was requested`;
      tried.push({ name, ok: true, reason: 'initialised and passed a conv-gradient step' });
      current = { backend: name, tfBackend: tf.getBackend(), reason, tried, ...(prepared.device ? { device: prepared.device } : {}) };
      return current;
    } catch (err) {
      tried.push({ name, ok: false, reason: oneLine(err) });
    }
  }
  if (prefer !== 'auto') {
    throw new BackendUnavailableError(`backend "${prefer}" is not available: ${tried[0]?.reason ?? 'unknown reason'}`, tried);
  }
  throw new BackendUnavailableError(`no tfjs backend could train here: ${tried.map((t) => `${t.name}: ${t.reason}`).join('; ')}`, tried);
}

/**
 * Sets, on the main thread, the process environment a backend needs before a worker thread initialises it. Dawn's
 * OpenGL ES path (webgpu-gl) reads EGL_PLATFORM with getenv(); a worker's process.env is a private copy that never
 * reaches getenv, so setting it inside the worker (as activateWebgpu does) has no effect there. Only for an
 * explicit webgpu-gl: 'auto' takes wasm first, and the variable would also reach child processes started later.
 */
export function prepareWorkerEnvironment(prefer: BackendPreference): void {
  if (prefer === 'webgpu-gl' && isMainThread) process.env.EGL_PLATFORM ??= 'surfaceless';
}

async function activate(name: BackendName): Promise<Prepared> {
  switch (name) {
    case 'cpu':
      return setOrThrow('cpu', {});
    case 'native':
      return activateNative();
    case 'wasm':
      return activateWasm();
    case 'tensorflow':
      return activateTensorflow();
    case 'webgpu':
      return activateWebgpu('webgpu');
    case 'webgpu-gl':
      return activateWebgpu('webgpu-gl');
  }
}

async function setOrThrow(tfName: string, prepared: Omit<Prepared, 'tfName'>): Promise<Prepared> {
  const ok = await tf.setBackend(tfName);
  if (!ok || tf.getBackend() !== tfName) throw new Error(`tf.setBackend('${tfName}') failed`);
  await tf.ready();
  return { tfName, ...prepared };
}

async function activateNative(): Promise<Prepared> {
  const library = loadNativeKernels();
  registerNativeBackend();
  return setOrThrow(NATIVE_TF_BACKEND, { device: `CPU kernels on ${library}` });
}

let wasmPathsSet = false;

async function activateWasm(): Promise<Prepared> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (!wasmPathsSet) {
    // In Node the backend cannot locate its .wasm files on its own; they sit next to its entry point.
    const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    wasm.setWasmPaths(dir.replace(/\\/g, '/') + '/');
    wasmPathsSet = true;
  }
  registerWasmConv2DBackpropFilter();
  const prepared = await setOrThrow('wasm', { device: 'WebAssembly SIMD (XNNPACK)' });
  guardWasmHeap();
  return prepared;
}

async function activateTensorflow(): Promise<Prepared> {
  const reasons: string[] = [];
  // Variables keep TypeScript from resolving packages that are optional and usually not installed.
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
      if (!tf.findBackend('tensorflow') && !tf.findBackendFactory('tensorflow')) {
        reasons.push(`${pkg} loaded but registered no 'tensorflow' backend (a second copy of tfjs-core?)`);
        continue;
      }
      return await setOrThrow('tensorflow', { device: pkg });
    } catch (err) {
      reasons.push(isModuleNotFound(err) ? `${pkg} is not installed` : `${pkg} failed to load: ${oneLine(err)}`);
    }
  }
  throw new Error(reasons.join('; '));
}

interface DawnAdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  type?: string;
}

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|software|softpipe/i;

async function activateWebgpu(flavour: 'webgpu' | 'webgpu-gl'): Promise<Prepared> {
  if (tf.getBackend() === 'webgpu' && webgpuFlavour === flavour && current?.backend === flavour) {
    return { tfName: 'webgpu', ...(current.device ? { device: current.device } : {}) };
  }
  let dawn: typeof import('webgpu');
  try {
    dawn = await import('webgpu');
  } catch (err) {
    throw new Error(`the npm package "webgpu" (Dawn) does not load: ${oneLine(err)}`);
  }
  if (flavour === 'webgpu-gl') {
    // Dawn's GL backend on a headless machine needs EGL without a display (Mesa's surfaceless platform).
    process.env.EGL_PLATFORM ??= 'surfaceless';
  }
  let gpu: GPU;
  try {
    gpu = dawn.create(flavour === 'webgpu-gl' ? ['backend=opengles'] : []) as unknown as GPU;
  } catch (err) {
    throw new Error(`Dawn could not start: ${oneLine(err)}`);
  }
  const adapter = await gpu.requestAdapter(
    flavour === 'webgpu-gl'
      ? ({ featureLevel: 'compatibility' } as GPURequestAdapterOptions)
      : { powerPreference: 'high-performance' },
  );
  if (!adapter) {
    throw new Error(
      flavour === 'webgpu-gl'
        ? `Dawn found no OpenGL ES adapter (needs EGL_PLATFORM=surfaceless${isMainThread ? '' : ' in the process environment before the worker thread starts,'} and Debian libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri)`
        : 'Dawn found no hardware GPU adapter (no Vulkan/Metal/D3D12 device)',
    );
  }
  const info = ((adapter as unknown as { info?: DawnAdapterInfo }).info ?? {}) as DawnAdapterInfo;
  const label = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unnamed adapter';
  const software =
    (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
    info.type === 'CPU' ||
    SOFTWARE_ADAPTER.test(label);
  if (flavour === 'webgpu' && software) {
    throw new Error(`Dawn's only adapter is a software one (${label}); that path is 'webgpu-gl'`);
  }

  Object.assign(globalThis, dawn.globals);
  installNavigatorGpu(gpu);
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  const limits = adapter.limits;
  const requiredFeatures: GPUFeatureName[] = [];
  if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    },
  });
  // The package registers its own 'webgpu' factory on import when navigator.gpu exists; ours replaces it so
  // that the adapter is the one chosen above (and so that webgpu and webgpu-gl can swap in one process).
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(device, info as unknown as GPUAdapterInfo), 3);
  webgpuFlavour = flavour;
  const prepared = await setOrThrow('webgpu', { device: label });
  // Opt-in: Curio's tiled GEMM / implicit-GEMM conv shaders (main/compute/webgpu) in place of the stock ones.
  if (curioWebgpuKernelsRequested(process.env)) {
    const names = registerCurioWebgpuKernels(curioWebgpuKernelSelection(process.env));
    prepared.device = `${label}; Curio kernels: ${names.join(', ')}`;
  }
  return prepared;
}

function installNavigatorGpu(gpu: GPU): void {
  const g = globalThis as { navigator?: object };
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
}

/**
 * One forward+backward conv step on tiny tensors: proves the backend has every kernel a conv net trains with.
 * Reads back asynchronously: on webgpu in Node, dataSync() needs OffscreenCanvas and throws.
 */
async function trainCheck(): Promise<void> {
  const w = tf.tidy(() => tf.variable(tf.randomNormal([3, 3, 3, 4], 0, 0.1, 'float32', 2)));
  const x = tf.randomUniform([2, 5, 5, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  try {
    const { value, grads } = tf.variableGrads(() => tf.conv2d(x, w as tf.Variable<tf.Rank.R4>, 2, 'same').relu().mean() as tf.Scalar, [w]);
    const g = await grads[w.name]!.data();
    tf.dispose([value, grads]);
    if (g.length !== 3 * 3 * 3 * 4 || !g.every(Number.isFinite)) throw new Error('conv gradient check gave non-finite values');
  } finally {
    tf.dispose([w, x]);
  }
}

function isModuleNotFound(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!.trim();
}
