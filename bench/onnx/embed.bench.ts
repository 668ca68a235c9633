// Embedding throughput for CIFAR-sized images: a Curio encoder forward in tfjs (wasm backend, inference mode) vs
// the same encoder exported to ONNX and run by onnxruntime-node (CPU provider). Inference only: the images are
// seeded random floats already in NHWC, so decoding is not timed (it is the same for both).
// Options: --backbones small,resnet18 --size 32 --batch 256 --threads 2 --seconds 8
import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import { initBackend } from '../../main/compute/backend.js';
import { encoderToOnnx } from '../../main/onnx/encoder.js';
import { createOnnxEmbedderFromBytes } from '../../main/onnx/runtime.js';
import { createBackbone } from '../../main/train/models/index.js';
import { Rng } from '../../main/train/nn/index.js';
import { atLeast, report, type Figure } from '../lib.js';

const argText = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const backbones = argText('backbones', 'small,resnet18').split(',');
const size = Number(argText('size', '32'));
const batch = Number(argText('batch', '256'));
const threads = Number(argText('threads', String(Math.min(2, os.availableParallelism()))));
const seconds = Number(argText('seconds', '8'));

/** Runs `step` (one batch) after one warm-up call until `seconds` have passed; images per second. */
/**
 * Also images per CPU-second of this process (all threads): on a machine other people load, the wall-clock
 * rate says what we got, the CPU rate what the work costs.
 */
async function throughput(step: () => Promise<void>): Promise<{ imgPerS: number; imgPerCpuS: number; batches: number }> {
  await step();
  let batches = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000 || batches < 2) {
    await step();
    batches++;
  }
  const cpu = process.cpuUsage(c0);
  const images = batches * batch;
  return { imgPerS: images / ((performance.now() - t0) / 1000), imgPerCpuS: images / ((cpu.user + cpu.system) / 1e6), batches };
}

const backend = await initBackend({ prefer: 'wasm', skipTrainCheck: true });
const rng = new Rng(1);
const images = Float32Array.from({ length: batch * size * size * 3 }, () => rng.normal());
const figures: Figure[] = [];
const loadBefore = os.loadavg()[0]!;
for (const name of backbones) {
  const model = createBackbone(name, { imageSize: size, seed: 3 });
  const ort = await createOnnxEmbedderFromBytes(encoderToOnnx({ backbone: name, imageSize: size, tensors: await model.getState() }), { threads });
  const o = await throughput(async () => {
    await ort.embed(images, batch);
  });
  await ort.close();
  const input = tf.tensor4d(images, [batch, size, size, 3]);
  const t = await throughput(async () => {
    const y = model.forward(input, { training: false });
    await y.data();
    y.dispose();
  });
  input.dispose();
  model.dispose();
  const label = `${name} ${size} px, batch ${batch}`;
  figures.push(
    { bench: 'onnx', figure: `${label}, ORT ${threads} threads, img/s`, value: Math.round(o.imgPerS), unit: 'img/s', ...(name === 'small' ? atLeast(o.imgPerS, 1000) : {}) },
    { bench: 'onnx', figure: `${label}, ORT, img per CPU-second`, value: Math.round(o.imgPerCpuS), unit: 'img/CPU-s' },
    { bench: 'onnx', figure: `${label}, tfjs ${backend.backend}, img/s`, value: Math.round(t.imgPerS), unit: 'img/s' },
    { bench: 'onnx', figure: `${label}, tfjs ${backend.backend}, img per CPU-second`, value: Math.round(t.imgPerCpuS), unit: 'img/CPU-s' },
    { bench: 'onnx', figure: `${label}, ORT / tfjs`, value: +(o.imgPerS / t.imgPerS).toFixed(1), unit: '×' },
  );
}
report('onnx-embed', figures, { loadBefore, loadAfter: os.loadavg()[0], threads, batch, size, tfjsBackend: backend.backend });
