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
  const corner = tf.slice(t, [0, 0], [1, 1]);
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
