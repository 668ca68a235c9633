// Where a training step's time goes, per kernel category, on one backend: the SimCLR step of
// bench/train/train.bench.ts (two views as one batch → backbone → projector → NT-Xent → backward → LARS).
//
//   npx tsx bench/profile/profile.ts [--backend wasm|webgpu|webgpu-gl|cpu] [--net small|resnet18|vit-tiny]
//                                    [--batch 32] [--steps 3] [--image-size 32] [--custom-kernels [--kernels A,B]]
//   npx tsx bench/profile/profile.ts --matmul 512 [--backend webgpu-gl] [--reps 5]
//   npx tsx bench/profile/profile.ts --conv [--backend webgpu-gl] [--batch 16] [--reps 5]
//
// Kernel times come from tf.profile(): its kernelTimeMs is the backend's own timer, i.e. the wall time of the
// (synchronous) kernel on wasm/cpu and the GPU timestamp-query time on webgpu where the adapter has
// 'timestamp-query'. Where the backend reports no time (Dawn's OpenGL ES adapter has no timestamp queries), each
// distinct kernel signature of the step (name, input shapes, attributes) is replayed in isolation on random inputs
// and timed as wall time to completion per call; the table then says "replayed". Overhead is the wall time of an
// unprofiled step minus the summed kernel time: dispatch, JS, tape bookkeeping, readback and, on a GPU, idle time.
//
// Batch norm and layer norm are tfjs composites (moments + elementwise); their kernels, forward and backward, are
// attributed to "batch norm" by tagging the norm modules' forward calls and the gradient functions they put on the
// tape. Everything the optimizer runs is "optimizer update".
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, parseBackendPreference, type BackendName } from '../../main/compute/index.js';
import { parseCurioWebgpuKernelNames, registerCurioWebgpuKernels } from '../../main/compute/webgpu/index.js';
import { buildMlp, simclrProjector } from '../../main/train/heads.js';
import { ntXentLoss } from '../../main/train/losses/nt-xent.js';
import { BatchNorm, LayerNorm } from '../../main/train/nn/layers.js';
import { Rng } from '../../main/train/nn/init.js';
import { createOptimizer } from '../../main/train/optim/optimizer.js';
import { createBackbone } from '../../main/train/models/index.js';
import { report, type Figure } from '../lib.js';
import { runConvBench, runMatmulBench } from './matmul.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    net: { type: 'string', default: 'small' },
    batch: { type: 'string', default: '32' },
    steps: { type: 'string', default: '3' },
    'image-size': { type: 'string', default: '32' },
    'custom-kernels': { type: 'boolean', default: false },
    /** with --custom-kernels: only these (comma list), e.g. Conv2DBackpropFilter */
    kernels: { type: 'string' },
    matmul: { type: 'string' },
    conv: { type: 'boolean', default: false },
    reps: { type: 'string', default: '5' },
  },
});

export const CATEGORIES = [
  'conv forward',
  'conv backprop input',
  'conv backprop filter',
  'matmul',
  'batch norm',
  'elementwise',
  'reductions',
  'optimizer update',
  'other',
] as const;
export type Category = (typeof CATEGORIES)[number];

const CONV_FORWARD = new Set(['Conv2D', 'FusedConv2D', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2D']);
const CONV_INPUT = new Set(['Conv2DBackpropInput', 'DepthwiseConv2dNativeBackpropInput']);
const CONV_FILTER = new Set(['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter']);
const MATMUL = new Set(['BatchMatMul', '_FusedMatMul']);
const REDUCTIONS = new Set(['Sum', 'Mean', 'Max', 'Min', 'Prod', 'All', 'Any', 'ArgMax', 'ArgMin', 'LogSumExp', 'Softmax', 'LogSoftmax']);
// Data movement and shape kernels: not arithmetic, listed under "other".
const MOVEMENT = new Set(['Reshape', 'Transpose', 'Concat', 'Slice', 'SplitV', 'Pack', 'Unpack', 'GatherV2', 'Tile', 'Pad', 'PadV2', 'Identity', 'Cast', 'Fill', 'ZerosLike', 'OnesLike', 'Range', 'OneHot', 'StridedSlice', 'MirrorPad', 'BroadcastTo']);

function categorise(name: string, scope: Scope): Category {
  if (scope === 'optimizer') return 'optimizer update';
  if (CONV_FORWARD.has(name)) return 'conv forward';
  if (CONV_INPUT.has(name)) return 'conv backprop input';
  if (CONV_FILTER.has(name)) return 'conv backprop filter';
  if (MATMUL.has(name)) return 'matmul';
  if (scope === 'norm') return 'batch norm';
  if (REDUCTIONS.has(name)) return 'reductions';
  if (MOVEMENT.has(name)) return 'other';
  return 'elementwise';
}

type Scope = 'model' | 'norm' | 'optimizer';

interface KernelCall {
  name: string;
  scope: Scope;
  inputs: Record<string, { shape: number[]; dtype: tf.DataType }>;
  attrs: Record<string, unknown>;
  /** the recorded kernel this one ran inside (tfjs clones a kernel's saved tensors with Identity inside it) */
  parent: number | null;
  /** the backend timer's reading for this kernel under tf.profile (includes kernels run inside it) */
  timeMs: Promise<number> | null;
}

/**
 * Records every kernel the active backend runs, with the scope it ran in, by wrapping the backend's registered
 * kernel functions. Norm modules and their tape entries set the 'norm' scope; the optimizer phase sets 'optimizer'.
 */
class KernelRecorder {
  calls: KernelCall[] = [];
  /** tf.profile scopes not backed by a registered kernel (tf.customGrad forwards): name → count */
  scopes = new Map<string, number>();
  recording = false;
  /** the engine profiler's kernels in progress, innermost last, each with the recorded call it timed */
  private readonly frames: { name: string; call: number | null }[] = [];
  private scope: Scope = 'model';
  private readonly restore: (() => void)[] = [];

  install(backendName: string): void {
    for (const config of tf.getKernelsForBackend(backendName)) {
      const original = config.kernelFunc;
      const wrapped: tf.KernelFunc = (params) => {
        if (this.recording) {
          const inputs: KernelCall['inputs'] = {};
          for (const [key, t] of Object.entries(params.inputs)) if (t) inputs[key] = { shape: [...t.shape], dtype: t.dtype };
          const frame = this.frames.at(-1);
          const enclosing = this.frames.findLast((f) => f !== frame && f.call !== null);
          const index = this.calls.length;
          this.calls.push({ name: config.kernelName, scope: this.scope, inputs, attrs: { ...(params.attrs ?? {}) }, parent: enclosing?.call ?? null, timeMs: null });
          if (frame && frame.call === null && frame.name === config.kernelName) frame.call = index;
        }
        return original(params);
      };
      tf.unregisterKernel(config.kernelName, backendName);
      tf.registerKernel({ ...config, kernelFunc: wrapped });
      this.restore.push(() => {
        tf.unregisterKernel(config.kernelName, backendName);
        tf.registerKernel(config);
      });
    }
    for (const cls of [BatchNorm, LayerNorm]) {
      const proto = cls.prototype as { forward: (...args: unknown[]) => tf.Tensor };
      const forward = proto.forward;
      proto.forward = (function (this: unknown, ...args: unknown[]) {
        return recorder.inScope('norm', () => forward.apply(this, args));
      }) as typeof forward;
      this.restore.push(() => {
        proto.forward = forward;
      });
    }
    // The engine's profiler times each kernel with the backend's timer; tie each reading to its recorded call.
    const profiler = (tf.engine() as unknown as { profiler: { profileKernel: (name: string, inputs: unknown, f: () => unknown) => { timeMs: Promise<number> } } }).profiler;
    const profileKernel = profiler.profileKernel;
    profiler.profileKernel = function (this: unknown, name: string, inputs: unknown, f: () => unknown) {
      const frame = { name, call: null as number | null };
      recorder.frames.push(frame);
      let result: { timeMs: Promise<number> };
      try {
        result = profileKernel.call(this, name, inputs, f);
      } finally {
        recorder.frames.pop();
      }
      if (frame.call !== null) recorder.calls[frame.call]!.timeMs = result.timeMs;
      else if (recorder.recording) recorder.scopes.set(name, (recorder.scopes.get(name) ?? 0) + 1);
      return result;
    };
    this.restore.push(() => {
      profiler.profileKernel = profileKernel;
    });
    // Tape entries remember the scope they were recorded in, so a norm's backward kernels count as norm.
    const engine = tf.engine() as unknown as { addTapeNode: (...args: unknown[]) => void; state: { activeTape: { gradient?: (dys: unknown) => unknown }[] } };
    const addTapeNode = engine.addTapeNode;
    engine.addTapeNode = function (this: typeof engine, ...args: unknown[]) {
      addTapeNode.apply(this, args);
      const node = this.state.activeTape[this.state.activeTape.length - 1];
      const scope = recorder.scope;
      if (node?.gradient && scope !== 'model') {
        const gradient = node.gradient;
        node.gradient = (dys) => recorder.inScope(scope, () => gradient(dys));
      }
    };
    this.restore.push(() => {
      engine.addTapeNode = addTapeNode;
    });
  }

  inScope<T>(scope: Scope, f: () => T): T {
    const previous = this.scope;
    this.scope = scope;
    try {
      return f();
    } finally {
      this.scope = previous;
    }
  }

  uninstall(): void {
    for (const r of this.restore.reverse()) r();
    this.restore.length = 0;
  }
}

const recorder = new KernelRecorder();

function simclrStep(net: string, batch: number, imageSize: number) {
  const backbone = createBackbone(net, { imageSize, seed: 0 });
  const projector = buildMlp(new Rng(1), simclrProjector(backbone.outputDim));
  const named = [...backbone.namedParameters('backbone.'), ...projector.namedParameters('projector.')];
  const optimizer = createOptimizer('lars', named, { weightDecay: 1e-6, momentum: 0.9 });
  const vars = named.map(([, v]) => v);
  const x = tf.randomUniform([2 * batch, imageSize, imageSize, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const lr = (0.3 * batch) / 256;
  return {
    /** Runs one step; returns the loss tensor without reading it (the caller decides when to read back). */
    run(): tf.Scalar {
      const { value, grads } = tf.variableGrads(() => {
        const z = projector.forward(backbone.forward(x, { training: true }), { training: true });
        const [z1, z2] = tf.split(z, 2, 0) as [tf.Tensor2D, tf.Tensor2D];
        return ntXentLoss(z1, z2, 0.5);
      }, vars);
      recorder.inScope('optimizer', () => optimizer.step(grads, lr));
      tf.dispose(grads);
      return value;
    },
    dispose() {
      x.dispose();
      backbone.dispose();
      projector.dispose();
      optimizer.dispose?.();
    },
  };
}

interface CategoryRow {
  category: Category;
  calls: number;
  ms: number;
  share: number;
}

interface KernelRow {
  name: string;
  category: Category;
  calls: number;
  ms: number;
}

function keyOf(call: KernelCall): string {
  return `${call.name}|${JSON.stringify(call.inputs)}|${JSON.stringify(call.attrs)}`;
}

/** Wall time per call of one kernel signature, run alone on random inputs; null where it cannot be replayed. */
async function replayKernel(call: KernelCall, reps: number): Promise<number | null> {
  const inputs: tf.NamedTensorMap = {};
  try {
    for (const [key, spec] of Object.entries(call.inputs)) {
      inputs[key] = spec.dtype === 'float32' ? tf.randomUniform(spec.shape, 0.5, 1.5, 'float32', 3) : tf.zeros(spec.shape, spec.dtype);
    }
    const runOnce = () => {
      const out = tf.engine().runKernel(call.name, inputs, call.attrs as tf.NamedAttrMap);
      return Array.isArray(out) ? out : [out];
    };
    const settle = async (outs: tf.Tensor[]) => {
      await outs[0]!.data();
      tf.dispose(outs);
    };
    await settle(runOnce()); // compile and allocate
    const t0 = performance.now();
    let last: tf.Tensor[] = [];
    for (let i = 0; i < reps; i++) {
      tf.dispose(last);
      last = runOnce();
    }
    await settle(last);
    return (performance.now() - t0) / reps;
  } catch {
    return null;
  } finally {
    tf.dispose(Object.values(inputs));
  }
}

async function profileTraining(): Promise<void> {
  const backend = parseBackendPreference(values.backend) as BackendName;
  const net = values.net;
  const batch = Number(values.batch);
  const steps = Number(values.steps);
  const imageSize = Number(values['image-size']);
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`--batch must be a positive integer, got ${values.batch}`);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps must be a positive integer, got ${values.steps}`);
  const choice = await initBackend({ prefer: backend });
  if (values['custom-kernels']) {
    if (tf.getBackend() !== 'webgpu') throw new Error(`--custom-kernels replaces webgpu kernels: use --backend webgpu or webgpu-gl, not ${backend}`);
    registerCurioWebgpuKernels(values.kernels ? parseCurioWebgpuKernelNames(values.kernels) : undefined);
  }
  process.stderr.write(`[profile] ${backend} (${choice.device ?? choice.tfBackend}), ${net} batch ${batch}×2 views at ${imageSize} px, ${steps} steps\n`);

  const step = simclrStep(net, batch, imageSize);
  recorder.install(tf.getBackend());
  try {
    await (async () => {
      const v = step.run();
      await v.data();
      v.dispose();
    })(); // warm-up: shaders compile, buffers allocate

    // Unprofiled wall time per step, each step read back as training does.
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) {
      const v = step.run();
      await v.data();
      v.dispose();
    }
    const wallMs = (performance.now() - t0) / steps;

    // One profiled step: the kernels in order, with the backend's timings.
    recorder.calls = [];
    recorder.scopes.clear();
    recorder.recording = true;
    const tp = performance.now();
    await tf.profile(async () => {
      const v = step.run();
      await v.data();
      v.dispose();
      return null as unknown as tf.Tensor;
    });
    const profiledWallMs = performance.now() - tp;
    recorder.recording = false;
    const calls = recorder.calls;
    // A kernel that ran another through the engine counts only its own time (its reading minus its children's).
    // Profile scopes that are not registered kernels (tf.customGrad forwards) contain their inner kernels' time
    // and are not added.
    const totalMs = await Promise.all(calls.map(async (c) => (c.timeMs ? Number(await c.timeMs) : 0)));
    const selfMs = [...totalMs];
    calls.forEach((c, i) => {
      if (c.parent !== null) selfMs[c.parent]! -= totalMs[i]!;
    });
    const untimed = calls.filter((c) => c.timeMs === null).length;
    if (untimed > 0) process.stderr.write(`[profile] ${untimed} of ${calls.length} kernels got no profiler reading\n`);
    if (recorder.scopes.size > 0) process.stderr.write(`[profile] profile scopes that are not kernels (not added): ${[...recorder.scopes].map(([n, c]) => `${n}×${c}`).join(', ')}\n`);
    const aligned = untimed === 0;
    const backendTimed = totalMs.some((ms) => ms > 0);

    let perCall: number[];
    let timing: string;
    if (backendTimed) {
      perCall = selfMs;
      timing = tf.getBackend() === 'webgpu' ? 'GPU timestamp queries (tf.profile)' : 'backend timer around each synchronous kernel (tf.profile)';
    } else {
      timing = `replayed: each distinct kernel signature run alone ${values.reps}× on random inputs, wall time to completion per call (the backend reports no kernel time)`;
      const cache = new Map<string, number | null>();
      const distinct = new Map<string, KernelCall>();
      for (const c of calls) distinct.set(keyOf(c), c);
      process.stderr.write(`[profile] backend reports no kernel time; replaying ${distinct.size} distinct kernels\n`);
      recorder.uninstall();
      for (const [key, c] of distinct) cache.set(key, await replayKernel(c, Number(values.reps)));
      const failed = [...cache.values()].filter((v) => v === null).length;
      if (failed > 0) process.stderr.write(`[profile] ${failed} kernel signatures could not be replayed (counted as 0 ms)\n`);
      perCall = calls.map((c) => cache.get(keyOf(c)) ?? 0);
    }

    const byCategory = new Map<Category, CategoryRow>(CATEGORIES.map((c) => [c, { category: c, calls: 0, ms: 0, share: 0 }]));
    const byKernel = new Map<string, KernelRow>();
    // A kernel that runs others through the engine (the wasm filter gradient: StridedSlice, Concat, BatchMatMul)
    // owns their time: each kernel is filed under its outermost kernel's category.
    const rootOf = (i: number): KernelCall => {
      let c = calls[i]!;
      while (c.parent !== null) c = calls[c.parent]!;
      return c;
    };
    calls.forEach((c, i) => {
      const root = rootOf(i);
      const category = categorise(root.name, root.scope);
      const row = byCategory.get(category)!;
      row.calls++;
      row.ms += perCall[i]!;
      const k = `${category}|${c.name}`;
      const kr = byKernel.get(k) ?? { name: c.name, category, calls: 0, ms: 0 };
      kr.calls++;
      kr.ms += perCall[i]!;
      byKernel.set(k, kr);
    });
    const kernelMs = perCall.reduce((a, b) => a + b, 0);
    
    // A synchronous backend timer (wasm, cpu) measured the kernels inside the profiled step, so its overhead is that
    // step's wall minus its kernels; GPU timestamps and replays are set against the unprofiled steps' wall, since
    // profiling a GPU submits every kernel on its own.
    const syncTimer = backendTimed && tf.getBackend() !== 'webgpu';
    const referenceMs = syncTimer ? profiledWallMs : wallMs;
    const overheadMs = referenceMs - kernelMs;
    for (const r of byCategory.values()) r.share = r.ms / referenceMs;

    const table = [
      `${'category'.padEnd(22)} ${'calls'.padStart(6)} ${'ms/step'.padStart(10)} ${'share'.padStart(7)}`,
      ...[...byCategory.values()].map((r) => `${r.category.padEnd(22)} ${String(r.calls).padStart(6)} ${r.ms.toFixed(1).padStart(10)} ${(100 * r.share).toFixed(1).padStart(6)}%`),
      `${'kernels total'.padEnd(22)} ${String(calls.length).padStart(6)} ${kernelMs.toFixed(1).padStart(10)} ${((100 * kernelMs) / referenceMs).toFixed(1).padStart(6)}%`,
      `${'dispatch/readback'.padEnd(22)} ${''.padStart(6)} ${overheadMs.toFixed(1).padStart(10)} ${((100 * overheadMs) / referenceMs).toFixed(1).padStart(6)}%`,
      `${'wall, profiled step'.padEnd(22)} ${''.padStart(6)} ${profiledWallMs.toFixed(1).padStart(10)}${syncTimer ? '   (shares are of this)' : ''}`,
      `${'wall, plain steps'.padEnd(22)} ${''.padStart(6)} ${wallMs.toFixed(1).padStart(10)}${syncTimer ? '' : '   (shares are of this)'}   mean of ${steps}`,
    ];
    const top = [...byKernel.values()].sort((a, b) => b.ms - a.ms).slice(0, 12);
    process.stdout.write(
      `\n${backend} ${net} batch ${batch} (${2 * batch} images/step) at ${imageSize} px${values['custom-kernels'] ? `, Curio webgpu kernels (${values.kernels ?? 'all'})` : ''}; timing: ${timing}\n` +
        `${table.join('\n')}\n\ntop kernels:\n${top.map((k) => `  ${k.name.padEnd(28)} ${k.category.padEnd(22)} ${String(k.calls).padStart(5)} ${k.ms.toFixed(1).padStart(10)} ms`).join('\n')}\n`,
    );
    const figures: Figure[] = [
      { bench: 'profile', figure: `${backend} ${net} b${batch} wall per step`, value: Number(wallMs.toFixed(2)), unit: 'ms' },
      { bench: 'profile', figure: `${backend} ${net} b${batch} throughput`, value: Number(((2 * batch * 1000) / wallMs).toFixed(2)), unit: 'img/s' },
      ...[...byCategory.values()].map((r) => ({ bench: 'profile', figure: `${r.category}`, value: Number(r.ms.toFixed(2)), unit: 'ms/step' })),
      { bench: 'profile', figure: 'dispatch/readback overhead', value: Number(overheadMs.toFixed(2)), unit: 'ms/step' },
    ];
    report('profile', figures, {
      backend,
      device: choice.device,
      net,
      batch,
      imageSize,
      steps,
      customKernels: values['custom-kernels'] ? (values.kernels ?? 'all') : false,
      timing,
      wallMsPerStep: wallMs,
      profiledStepWallMs: profiledWallMs,
      kernelMsPerStep: kernelMs,
      overheadMsPerStep: overheadMs,
      categories: [...byCategory.values()],
      kernels: [...byKernel.values()].sort((a, b) => b.ms - a.ms),
      scopesAligned: aligned,
    });
  } finally {
    recorder.uninstall();
    step.dispose();
  }
}

if (values.conv) {
  await runConvBench({ backend: parseBackendPreference(values.backend) as BackendName, batch: Number(values.batch), reps: Number(values.reps) });
} else if (values.matmul !== undefined) {
  await runMatmulBench({ backend: parseBackendPreference(values.backend) as BackendName, size: Number(values.matmul), reps: Number(values.reps) });
} else {
  await profileTraining();
}
