// Two of issue 7's webgpu changes, each against the path it replaces, alternating in one process:
//   --what fused:    BN + ReLU forward + backward at a shape of the small net, the fused kernels
//                    (compute/webgpu/fused.ts) vs the composed stock ops (CURIO_WEBGPU_FUSED=0)
//   --what bias-relu: relu(x + b) forward + backward (dx and db) on --shape (last axis = channels), the fused
//                    shaders vs add, relu and their stock gradients; wall and process CPU ms per pass
//   --what readback: SimCLR steps of the small net, the loss read every step (Method.trainStep) vs read in one batch
//                    every --every steps (trainStepDeferred + one stacked data(), as the session does)
//
//   npx tsx bench/profile/fused-readback.ts --what fused [--backend webgpu-gl] [--shape 16,32,32,32] [--reps 5]
//   npx tsx bench/profile/fused-readback.ts --what bias-relu [--backend webgpu-gl] [--shape 256,2048] [--reps 5]
//   npx tsx bench/profile/fused-readback.ts --what readback [--backend webgpu-gl] [--image-size 8] [--batch 4] [--steps 10] [--rounds 2]
import os from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, parseBackendPreference } from '../../main/compute/index.js';
import { createMethod } from '../../main/train/methods/index.js';
import { biasRelu } from '../../main/compute/webgpu/fused.js';
import { BatchNorm } from '../../main/train/nn/layers.js';

const { values } = parseArgs({
  options: {
    what: { type: 'string', default: 'fused' },
    backend: { type: 'string', default: 'webgpu-gl' },
    shape: { type: 'string', default: '16,32,32,32' },
    reps: { type: 'string', default: '5' },
    'image-size': { type: 'string', default: '8' },
    batch: { type: 'string', default: '4' },
    steps: { type: 'string', default: '10' },
    every: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
  },
});

const load = () => os.loadavg()[0]!.toFixed(1);
await initBackend({ prefer: parseBackendPreference(values.backend), skipTrainCheck: true });
console.log(`backend ${tf.getBackend()} (${values.backend}), load ${load()}`);

if (values.what === 'fused') {
  const shape = values.shape.split(',').map(Number);
  const c = shape.at(-1)!;
  const bn = new BatchNorm(c);
  const x = tf.randomNormal(shape, 0, 1, 'float32', 1);
  const pass = async () => {
    const t0 = performance.now();
    const { value, grads } = tf.variableGrads(() => tf.sum(bn.forwardRelu(x, { training: true })) as tf.Scalar, [bn.weight!, bn.bias!]);
    const gx = tf.grad((xx: tf.Tensor) => tf.sum(bn.forwardRelu(xx, { training: true })))(x);
    await Promise.all([value.data(), gx.data(), ...Object.values(grads).map((g) => g.data())]);
    tf.dispose([value, gx, ...Object.values(grads)]);
    return performance.now() - t0;
  };
  const times: Record<string, number[]> = { composed: [], fused: [] };
  for (const mode of ['composed', 'fused']) {
    process.env.CURIO_WEBGPU_FUSED = mode === 'fused' ? '1' : '0';
    await pass(); // compile the shaders
  }
  for (let r = 0; r < Number(values.reps); r++) {
    for (const mode of ['composed', 'fused'] as const) {
      process.env.CURIO_WEBGPU_FUSED = mode === 'fused' ? '1' : '0';
      times[mode]!.push(await pass());
    }
  }
  const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
  console.log(`BN+ReLU on [${shape}], 2 forwards + 2 backwards per pass (variableGrads and grad of x), ms per pass:`);
  for (const [mode, t] of Object.entries(times)) console.log(`  ${mode.padEnd(9)} median ${median(t).toFixed(1)}  all ${t.map((v) => v.toFixed(0)).join(' ')}`);
  console.log(`  composed/fused ${(median(times.composed!) / median(times.fused!)).toFixed(2)}x, load ${load()}`);
} else if (values.what === 'bias-relu') {
  const shape = values.shape.split(',').map(Number);
  const c = shape.at(-1)!;
  const x = tf.randomNormal(shape, 0, 1, 'float32', 1);
  const b = tf.randomNormal([c], 0, 0.5, 'float32', 2);
  const dy = tf.randomNormal(shape, 0, 1, 'float32', 3);
  const f = (xx: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(biasRelu(xx, bb) ?? tf.relu(tf.add(xx, bb)), dy));
  const pass = async () => {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const { value, grads } = tf.valueAndGrads(f)([x, b]);
    await Promise.all([value.data(), ...grads.map((g) => g.data())]);
    tf.dispose([value, ...grads]);
    const cpu = process.cpuUsage(cpu0);
    return { wall: performance.now() - t0, cpu: (cpu.user + cpu.system) / 1000 };
  };
  const times: Record<string, { wall: number; cpu: number }[]> = { composed: [], fused: [] };
  for (const mode of ['composed', 'fused']) {
    process.env.CURIO_WEBGPU_FUSED = mode === 'fused' ? '1' : '0';
    await pass(); // compile the shaders
  }
  for (let r = 0; r < Number(values.reps); r++) {
    for (const mode of ['composed', 'fused'] as const) {
      process.env.CURIO_WEBGPU_FUSED = mode === 'fused' ? '1' : '0';
      times[mode]!.push(await pass());
    }
  }
  const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
  console.log(`bias + ReLU on [${shape}], forward + backward (dx, db) per pass, ms per pass:`);
  for (const [mode, t] of Object.entries(times)) {
    console.log(`  ${mode.padEnd(9)} wall median ${median(t.map((v) => v.wall)).toFixed(1)}  cpu median ${median(t.map((v) => v.cpu)).toFixed(1)}  wall all ${t.map((v) => v.wall.toFixed(0)).join(' ')}`);
  }
  const ratio = (k: 'wall' | 'cpu') => (median(times.composed!.map((v) => v[k])) / median(times.fused!.map((v) => v[k]))).toFixed(2);
  console.log(`  composed/fused wall ${ratio('wall')}x, cpu ${ratio('cpu')}x, load ${load()}`);
} else {
  const size = Number(values['image-size']);
  const batch = Number(values.batch);
  const steps = Number(values.steps);
  const every = Number(values.every);
  const method = createMethod('simclr', { backbone: 'small', imageSize: size, seed: 1, totalSteps: 1000, hiddenDim: 64, outDim: 32 });
  const views = [0, 1].map((i) => tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', i) as tf.Tensor4D);
  let step = 0;
  const syncRun = async () => {
    for (let i = 0; i < steps; i++) await method.trainStep(views, step++);
  };
  const batchedRun = async () => {
    let held: tf.Scalar[] = [];
    const read = async () => {
      const s = tf.stack(held);
      await s.data();
      tf.dispose([s, ...held]);
      held = [];
    };
    for (let i = 0; i < steps; i++) {
      held.push((await method.trainStepDeferred(views, step++)).loss);
      if (held.length >= every) await read();
    }
    if (held.length > 0) await read();
  };
  await syncRun(); // compile
  const per: Record<string, number[]> = { 'every step': [], [`every ${every}`]: [] };
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const [name, f] of [['every step', syncRun], [`every ${every}`, batchedRun]] as const) {
      const t0 = performance.now();
      await f();
      per[name]!.push((performance.now() - t0) / steps);
    }
  }
  console.log(`SimCLR small net, ${size} px, batch ${batch} (2 views), ${steps} steps per round, ms per step:`);
  for (const [name, t] of Object.entries(per)) console.log(`  loss read ${name.padEnd(10)} ${t.map((v) => v.toFixed(1)).join(' ')}`);
  console.log(`load ${load()}`);
  method.dispose();
}
process.exit(0);
