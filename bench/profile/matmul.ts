// Square fp32 matmul throughput on a webgpu backend, stock tfjs-backend-webgpu vs Curio's tiled kernel
// (main/compute/webgpu), measured in one process: `npx tsx bench/profile/profile.ts --matmul 4096 --backend webgpu`
// (on webgpu-gl/llvmpipe use 512). Each round times `reps` back-to-back matmuls from the first dispatch to the
// completion of the last (a 1×1 slice of the last product is read back; the GPU queue runs in order), minus
// the cost of that readback alone; rounds alternate stock and Curio and each side keeps its best round, since
// the machine may be shared.
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../../main/compute/index.js';
import { registerCurioWebgpuKernels, unregisterCurioWebgpuKernels } from '../../main/compute/webgpu/index.js';
import { report } from '../lib.js';

export interface MatmulBenchOptions {
  backend: BackendName;
  size: number;
  reps: number;
  rounds?: number;
}

async function settle(t: tf.Tensor): Promise<void> {
  const corner = tf.slice(t.reshape([-1]), [0], [1]);
  await corner.data();
  corner.dispose();
}

async function timeRound(a: tf.Tensor2D, b: tf.Tensor2D, reps: number): Promise<number> {
  const t0 = performance.now();
  let last: tf.Tensor | null = null;
  for (let i = 0; i < reps; i++) {
    last?.dispose();
    last = tf.matMul(a, b);
  }
  await settle(last!);
  last!.dispose();
  return performance.now() - t0;
}

export async function runMatmulBench(options: MatmulBenchOptions): Promise<void> {
  const { backend, size, reps } = options;
  const rounds = options.rounds ?? 3;
  if (backend !== 'webgpu' && backend !== 'webgpu-gl') throw new Error(`--matmul compares webgpu kernels: use --backend webgpu or webgpu-gl, not ${backend}`);
  if (!Number.isInteger(size) || size < 1) throw new Error(`--matmul needs a positive integer size, got ${size}`);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps must be a positive integer, got ${reps}`);
  const choice = await initBackend({ prefer: backend, skipTrainCheck: true });
  process.stderr.write(`[matmul] ${backend} (${choice.device ?? ''}), ${size}², ${reps} per round, ${rounds} rounds each\n`);
  const a = tf.randomUniform([size, size], -1, 1, 'float32', 1) as tf.Tensor2D;
  const b = tf.randomUniform([size, size], -1, 1, 'float32', 2) as tf.Tensor2D;
  try {
    // readback alone: what each round pays beyond the matmuls
    await settle(a);
    const r0 = performance.now();
    await settle(a);
    const readbackMs = performance.now() - r0;

    // the two kernels must agree before their speeds mean anything
    const stockProduct = tf.matMul(a, b);
    registerCurioWebgpuKernels();
    const curioProduct = tf.matMul(a, b);
    unregisterCurioWebgpuKernels();
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(stockProduct, curioProduct))));
    const maxAbsDiff = (await diff.data())[0]!;
    tf.dispose([stockProduct, curioProduct, diff]);
    if (!(maxAbsDiff <= 1e-3 * Math.sqrt(size))) throw new Error(`Curio's matmul differs from stock by ${maxAbsDiff} at ${size}²`);

    const best = { stock: Infinity, curio: Infinity };
    // warm-up both: shader compilation and buffer allocation stay out of the rounds
    await timeRound(a, b, 1);
    registerCurioWebgpuKernels();
    await timeRound(a, b, 1);
    unregisterCurioWebgpuKernels();
    for (let r = 0; r < rounds; r++) {
      best.stock = Math.min(best.stock, await timeRound(a, b, reps));
      registerCurioWebgpuKernels();
      best.curio = Math.min(best.curio, await timeRound(a, b, reps));
      unregisterCurioWebgpuKernels();
    }
    const flops = 2 * size ** 3 * reps;
    const gflops = (ms: number) => flops / (Math.max(ms - readbackMs, 1e-3) * 1e6);
    const stock = gflops(best.stock);
    const curio = gflops(best.curio);
    report(
      'profile-matmul',
      [
        { bench: 'matmul', figure: `${backend} ${size}² fp32 stock tfjs`, value: Number(stock.toFixed(2)), unit: 'GFLOP/s' },
        { bench: 'matmul', figure: `${backend} ${size}² fp32 Curio tiled`, value: Number(curio.toFixed(2)), unit: 'GFLOP/s' },
        { bench: 'matmul', figure: `${backend} ${size}² Curio / stock`, value: Number((curio / stock).toFixed(3)), unit: '×' },
      ],
      { backend, device: choice.device, size, reps, rounds, readbackMs, bestRoundMs: best, maxAbsDiff },
    );
  } finally {
    unregisterCurioWebgpuKernels();
    tf.dispose([a, b]);
  }
}

export interface ConvBenchOptions {
  backend: BackendName;
  /** images per conv call */
  batch: number;
  reps: number;
  rounds?: number;
}

/** Time per call of `run`, best of `rounds` rounds of `reps` back-to-back calls, to completion. */
async function bestOf(run: () => tf.Tensor, reps: number, rounds: number, readbackMs: number): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    let last: tf.Tensor | null = null;
    for (let i = 0; i < reps; i++) {
      last?.dispose();
      last = run();
    }
    await settle(last!);
    last!.dispose();
    best = Math.min(best, (performance.now() - t0 - readbackMs) / reps);
  }
  return best;
}

/**
 * The conv layers of the `small` net at 32 px (3×3, NHWC, 'same'), forward and both gradients, stock vs Curio,
 * alternating in one process: `npx tsx bench/profile/profile.ts --conv --backend webgpu-gl --batch 16`.
 */
export async function runConvBench(options: ConvBenchOptions): Promise<void> {
  const { backend, batch, reps } = options;
  const rounds = options.rounds ?? 2;
  if (backend !== 'webgpu' && backend !== 'webgpu-gl') throw new Error(`--conv compares webgpu kernels: use --backend webgpu or webgpu-gl, not ${backend}`);
  const choice = await initBackend({ prefer: backend, skipTrainCheck: true });
  process.stderr.write(`[conv] ${backend} (${choice.device ?? ''}), batch ${batch}, ${reps} per round, best of ${rounds}\n`);
  const layers: { name: string; hw: number; cin: number; cout: number; stride: number }[] = [
    { name: '32²·32→32', hw: 32, cin: 32, cout: 32, stride: 1 },
    { name: '32²·32→64 s2', hw: 32, cin: 32, cout: 64, stride: 2 },
    { name: '16²·64→64', hw: 16, cin: 64, cout: 64, stride: 1 },
    { name: '8²·128→128', hw: 8, cin: 128, cout: 128, stride: 1 },
    { name: '4²·192→192', hw: 4, cin: 192, cout: 192, stride: 1 },
  ];
  const rows: { layer: string; kernel: string; stockMs: number; curioMs: number; speedup: number }[] = [];
  const probe = tf.zeros([4]);
  await settle(probe);
  const r0 = performance.now();
  await settle(probe);
  const readbackMs = performance.now() - r0;
  probe.dispose();
  try {
    for (const l of layers) {
      const x = tf.randomUniform([batch, l.hw, l.hw, l.cin], -1, 1, 'float32', 1) as tf.Tensor4D;
      const w = tf.randomUniform([3, 3, l.cin, l.cout], -0.1, 0.1, 'float32', 2) as tf.Tensor4D;
      const out = Math.ceil(l.hw / l.stride);
      const dy = tf.randomUniform([batch, out, out, l.cout], -1, 1, 'float32', 3) as tf.Tensor4D;
      const kernels: [string, () => tf.Tensor][] = [
        ['Conv2D', () => tf.conv2d(x, w, l.stride, 'same')],
        ['Conv2DBackpropInput', () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { strides: l.stride, pad: 'same', dataFormat: 'NHWC', inputShape: x.shape } as never) as tf.Tensor],
        ['Conv2DBackpropFilter', () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: l.stride, pad: 'same', dataFormat: 'NHWC', filterShape: w.shape } as never) as tf.Tensor],
      ];
      for (const [kernel, run] of kernels) {
        await settle(run()); // compile the stock shader
        registerCurioWebgpuKernels();
        await settle(run()); // compile Curio's
        unregisterCurioWebgpuKernels();
        const stockMs = await bestOf(run, reps, rounds, readbackMs);
        registerCurioWebgpuKernels();
        const curioMs = await bestOf(run, reps, rounds, readbackMs);
        unregisterCurioWebgpuKernels();
        rows.push({ layer: l.name, kernel, stockMs, curioMs, speedup: stockMs / curioMs });
        process.stderr.write(`[conv] ${l.name} ${kernel}: stock ${stockMs.toFixed(1)} ms, Curio ${curioMs.toFixed(1)} ms\n`);
      }
      tf.dispose([x, w, dy]);
    }
  } finally {
    unregisterCurioWebgpuKernels();
  }
  report(
    'profile-conv',
    rows.map((r) => ({ bench: 'conv', figure: `${r.layer} ${r.kernel} Curio/stock speed`, value: Number(r.speedup.toFixed(3)), unit: '×' })),
    { backend, device: choice.device, batch, reps, rounds, readbackMs, rows },
  );
}
