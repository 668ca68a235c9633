// Augmentation designer: preview latency (augment.preview for K=8 × M=4 at 96 px, decoded samples cached, as the
// designer sees it after an edit) and batched augmentation throughput on the compute backend at 32 and 224 px.
// Options: --backend auto|wasm|cpu|… --batch 256 --repeats 5 --thread worker|main (where the preview augments:
// worker, as `curio serve` does, or the calling thread, as the CLI does) --ops (only the CPU time of each op alone:
// augmentBatch of 8 random 96-px images into 2 views (DINO: 10), per call)
// Images: CIFAR-10 JPEGs from ../shared when present (the first 64, upscaled by the ImageCache like a run would),
// else generated shapes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { presetFor, type PresetMethod } from '../../shared/contract/augment.js';
import { augmentBatch } from '../../main/augment/index.js';
import { PipelineStore } from '../../main/augment/pipeline-store.js';
import { PreviewService } from '../../main/augment/preview.js';
import { initBackend, parseBackendPreference } from '../../main/compute/index.js';
import { importFolders } from '../../main/ingest/import.js';
import { createServices } from '../../main/services.js';
import { mulberry32 } from '../../main/common/random.js';
import { atMost, cifarArchive, report, tempDir, type Figure } from '../lib.js';

const argOf = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const backendPref = parseBackendPreference(argOf('backend') ?? 'auto');
const batch = Number(argOf('batch') ?? 256);
const repeats = Number(argOf('repeats') ?? 5);
const thread = argOf('thread') === 'main' ? 'main' : 'worker';

if (process.argv.includes('--ops')) {
  const backend = await initBackend({ prefer: backendPref });
  const x = tf.randomUniform([8, 96, 96, 3]) as tf.Tensor4D;
  const crop = { op: 'random_resized_crop' as const, size: 96, scale: [0.08, 1] as [number, number] };
  const cases: [string, Parameters<typeof augmentBatch>[1]][] = [
    ['nothing (a copy)', { ops: [] }],
    ['random_resized_crop', { ops: [crop] }],
    ['crop + horizontal_flip p 0.5', { ops: [crop, { op: 'horizontal_flip', p: 0.5 }] }],
    ['horizontal_flip p 1 (no crop)', { ops: [{ op: 'horizontal_flip', p: 1 }] }],
    ['random_grayscale p 1', { ops: [{ op: 'random_grayscale', p: 1 }] }],
    ['color_jitter p 1', { ops: [{ op: 'color_jitter', p: 1 }] }],
    ['gaussian_blur p 1, sigma 0.1–2', { ops: [{ op: 'gaussian_blur', p: 1 }] }],
    ['solarize p 1', { ops: [{ op: 'solarize', p: 1 }] }],
    ['SimCLR preset', presetFor('simclr', 96)],
    ['BYOL preset', presetFor('byol', 96)],
    ['DINO preset (10 views)', presetFor('dino', 96)],
  ];
  const figures: Figure[] = [];
  for (const [label, spec] of cases) {
    const run = async (seed: number) => {
      const views = augmentBatch(x, spec, seed);
      await Promise.all(views.map((v) => v.data()));
      tf.dispose(views);
    };
    await run(0);
    const reps = Math.max(8, repeats);
    const cpu0 = process.cpuUsage();
    for (let r = 0; r < reps; r++) await run(r + 1);
    const cpu = process.cpuUsage(cpu0);
    figures.push({ bench: 'augment', figure: `op ${label}, 8 images at 96 px`, value: +((cpu.user + cpu.system) / 1000 / reps).toFixed(1), unit: 'CPU ms/call' });
  }
  x.dispose();
  report('augment-ops', figures, { backend: backend.backend, loadAvg: os.loadavg() });
  process.exit(0);
}

const dir = tempDir('augment-bench');
const images = path.join(dir, 'images');
fs.mkdirSync(images, { recursive: true });
let source = 'generated shapes 120×96';
if (fs.existsSync(cifarArchive)) {
  // only a few files from the archive: a preview needs 32 images
  const { execFileSync } = await import('node:child_process');
  const list = execFileSync('tar', ['tzf', cifarArchive], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    .split('\n')
    .filter((f) => f.endsWith('.jpg'));
  const pick = list.filter((_, i) => i % Math.floor(list.length / 64) === 0).slice(0, 64);
  execFileSync('tar', ['xzf', cifarArchive, '-C', images, ...pick]);
  source = 'CIFAR-10 train JPEGs (64, 32×32)';
} else {
  for (let i = 0; i < 64; i++) {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="96"><rect width="120" height="96" fill="hsl(${(i * 47) % 360},60%,45%)"/><circle cx="${20 + i}" cy="40" r="20" fill="white"/></svg>`;
    await sharp(Buffer.from(svg)).png().toFile(path.join(images, `${i}.png`));
  }
}

const backend = await initBackend({ prefer: backendPref });
const services = createServices({ dbPath: path.join(dir, 'catalog.sqlite'), mode: 'browser' });
const { promise } = services.jobs.start('import', (ctx) =>
  importFolders(services.catalog, { folders: [images], dataset: 'bench', labelsFromFolders: false, thumbnailDir: services.thumbnailDir }, ctx),
);
const { datasetId } = await promise;
const preview = new PreviewService(services.catalog, { pipelines: new PipelineStore(services.catalog), backend: backendPref, thread });

const figures: Figure[] = [];

/**
 * The longest the caller's event loop went without running a 1 ms interval timer while `f` ran: what other
 * requests to a server would wait. (perf_hooks' monitorEventLoopDelay misses a block that starts before its first
 * sample, which is where a preview's synchronous work sits.)
 */
async function longestStall<T>(f: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
  let last = performance.now();
  let max = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - last);
    last = now;
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, 5));
  max = 0;
  last = performance.now();
  const result = await f();
  clearInterval(timer);
  return { result, stallMs: Math.max(max, performance.now() - last) };
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// Preview latency: first call decodes; later calls are edits (new spec or seed) on cached samples.
for (const method of ['simclr', 'byol', 'dino'] as PresetMethod[]) {
  const cold = await preview.preview({ datasetId, pipeline: method, k: 8, m: 4, size: 96, seed: 0 });
  const warm: { total: number; augment: number; encode: number; cpu: number; blocked: number; busy: number }[] = [];
  for (let r = 0; r < Math.max(5, repeats); r++) {
    const cpu0 = process.cpuUsage();
    // the caller's event loop busy time (not waiting for I/O or the worker): what it cannot spend on other requests
    const elu0 = performance.eventLoopUtilization();
    const { result: out, stallMs } = await longestStall(() => preview.preview({ datasetId, pipeline: method, k: 8, m: 4, size: 96, seed: r + 1 }));
    const busy = performance.eventLoopUtilization(elu0).active;
    const cpu = process.cpuUsage(cpu0);
    warm.push({ total: out.timings.totalMs, augment: out.timings.augmentMs, encode: out.timings.encodeMs, cpu: (cpu.user + cpu.system) / 1000, blocked: stallMs, busy });
  }
  const total = median(warm.map((w) => w.total));
  figures.push({ bench: 'augment', figure: `preview ${method} K=8 M=4 96px, edit (median)`, value: +total.toFixed(1), unit: 'ms', ...atMost(total, 300) });
  figures.push({ bench: 'augment', figure: `  of which augment / PNG encode`, value: +median(warm.map((w) => w.augment)).toFixed(1), unit: `ms / ${median(warm.map((w) => w.encode)).toFixed(1)} ms` });
  // on a shared machine the wall time includes waiting for a core; the CPU time is what the preview itself costs
  figures.push({ bench: 'augment', figure: `  CPU time of the process per edit (median)`, value: +median(warm.map((w) => w.cpu)).toFixed(1), unit: 'ms' });
  figures.push({ bench: 'augment', figure: `  caller's event loop busy per edit (median)`, value: +median(warm.map((w) => w.busy)).toFixed(1), unit: `ms (${thread} thread)` });
  figures.push({ bench: 'augment', figure: `  longest event-loop stall of the caller (median)`, value: +median(warm.map((w) => w.blocked)).toFixed(1), unit: `ms (${thread} thread)` });
  figures.push({ bench: 'augment', figure: `preview ${method} first call (decode)`, value: +cold.timings.totalMs.toFixed(0), unit: 'ms' });
}

// Throughput: augmentBatch on a batch of random images, views read back (data()) so async backends finish.
for (const size of [32, 224]) {
  for (const method of ['simclr', 'dino'] as PresetMethod[]) {
    const n = size === 224 ? Math.min(batch, 32) : batch;
    const rand = mulberry32(size);
    const x = tf.tensor4d(Float32Array.from({ length: n * size * size * 3 }, () => rand()), [n, size, size, 3]);
    const spec = presetFor(method, size);
    const run = async (seed: number) => {
      const views = augmentBatch(x, spec, seed);
      await Promise.all(views.map((v) => v.data()));
      tf.dispose(views);
    };
    await run(0);
    const t0 = performance.now();
    const reps = size === 224 ? Math.min(repeats, 2) : repeats;
    const cpu0 = process.cpuUsage();
    for (let r = 0; r < reps; r++) await run(r + 1);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const perSecond = (n * reps) / seconds;
    const perCpuSecond = (n * reps) / ((cpu.user + cpu.system) / 1e6);
    const views = spec.multiCrop ? spec.multiCrop.global.count + spec.multiCrop.local.count : spec.views;
    figures.push({ bench: 'augment', figure: `throughput ${method} ${size}px batch ${n} (${views} views)`, value: +perSecond.toFixed(1), unit: 'images/s' });
    figures.push({ bench: 'augment', figure: `  per CPU-second of the process`, value: +perCpuSecond.toFixed(1), unit: 'images/CPU-s' });
    x.dispose();
  }
}

await preview.close();
services.close();
fs.rmSync(dir, { recursive: true, force: true });
report('augment', figures, { backend: backend.backend, source, thread, loadAvg: os.loadavg() });
