// Training throughput: one SimCLR step (two 32×32 views → backbone → projector → NT-Xent → backward → LARS) for the
// `small` net and ResNet-18, on each tfjs backend available here, side by side with PyTorch CPU (Debian
// python3-torch, 2 threads) on the same architectures, as ratios in one run.
//
//   npx tsx bench/train/train.bench.ts [--backends wasm,webgpu-gl[,cpu,webgpu]] [--nets small,resnet18] [--batch 256]
//                                      [--budget SECONDS per backend×net] [--no-torch]
//
// A backend too slow for one batch-256 step within the budget is measured at the largest power-of-two batch
// that fits (the figure says which batch). The pure-JS cpu backend is left out by default: it takes ~25 s for a
// 4-image step at 8 px here, so even a probe step at 32 px would not fit a budget. The PyTorch peer runs after the tfjs measurements, never concurrently.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../../main/compute/index.js';
import { buildMlp, simclrProjector } from '../../main/train/heads.js';
import { ntXentLoss } from '../../main/train/losses/nt-xent.js';
import { Rng } from '../../main/train/nn/init.js';
import { createOptimizer } from '../../main/train/optim/optimizer.js';
import { createBackbone } from '../../main/train/models/index.js';
import { report, repoRoot, type Figure } from '../lib.js';

const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: 'wasm,webgpu-gl' },
    nets: { type: 'string', default: 'small,resnet18' },
    batch: { type: 'string', default: '256' },
    budget: { type: 'string', default: '60' },
    'no-torch': { type: 'boolean', default: false },
    python: { type: 'string', default: '/usr/bin/python3' },
    /** cuda on the H200 (bench/device/train-h200.sh): the peer is then PyTorch CUDA fp32 */
    'torch-device': { type: 'string', default: 'cpu' },
  },
});
const BATCH = Number(values.batch);
const BUDGET_S = Number(values.budget);
const IMAGE = 32;
const nets = values.nets.split(',');
const backends = values.backends.split(',') as BackendName[];

interface Row {
  backend: string;
  net: string;
  batch: number;
  steps: number;
  seconds: number;
  imagesPerSecond: number;
  backboneParams: number;
  note?: string;
}

function log(line: string): void {
  process.stderr.write(`[train-bench] ${line}\n`);
}

/**
 * The SimCLR step of main/train/methods/simclr.ts, assembled here from the same engine parts (backbone, the
 * SimCLR projector from heads.ts, ntXentLoss, the LARS optimizer) so that the loss can be read back
 * asynchronously: Method.trainStep reads it with dataSync(), which tfjs-backend-webgpu cannot do in Node (it needs
 * OffscreenCanvas). Same modules, kernels and arithmetic; both views go through the backbone as one batch.
 */
function simclrStep(net: string, batch: number) {
  const backbone = createBackbone(net, { imageSize: IMAGE, seed: 0 });
  const projector = buildMlp(new Rng(1), simclrProjector(backbone.outputDim));
  const named = [...backbone.namedParameters('backbone.'), ...projector.namedParameters('projector.')];
  const optimizer = createOptimizer('lars', named, { weightDecay: 1e-6, momentum: 0.9 });
  const vars = named.map(([, v]) => v);
  const x = tf.randomUniform([2 * batch, IMAGE, IMAGE, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const lr = (0.3 * batch) / 256;
  return {
    async step(): Promise<number> {
      const { value, grads } = tf.variableGrads(() => {
        const z = projector.forward(backbone.forward(x, { training: true }), { training: true });
        const [z1, z2] = tf.split(z, 2, 0) as [tf.Tensor2D, tf.Tensor2D];
        return ntXentLoss(z1, z2, 0.5);
      }, vars);
      optimizer.step(grads, lr);
      tf.dispose(grads);
      const loss = (await value.data())[0]!;
      value.dispose();
      if (!Number.isFinite(loss)) throw new Error(`loss is ${loss}`);
      return loss;
    },
    dispose() {
      x.dispose();
      backbone.dispose();
      projector.dispose();
    },
  };
}

async function stepTime(net: string, batch: number, steps: number, budgetS: number): Promise<{ steps: number; seconds: number }> {
  const s = simclrStep(net, batch);
  try {
    await s.step(); // warm-up: kernels compile, buffers allocate
    const t0 = performance.now();
    let n = 0;
    while (n < steps) {
      await s.step();
      n++;
      if ((performance.now() - t0) / 1000 > budgetS) break;
    }
    return { steps: n, seconds: (performance.now() - t0) / 1000 };
  } finally {
    s.dispose();
  }
}

async function measure(backend: BackendName, net: string): Promise<Row | null> {
  const backboneParams = (() => {
    const b = createBackbone(net, { imageSize: IMAGE, seed: 0 });
    const n = b.numParameters();
    b.dispose();
    return n;
  })();
  // a probe at batch 8 estimates the cost of a full step before committing to one
  const probe = await stepTime(net, 8, 1, Infinity);
  const perImage = probe.seconds / 8;
  let batch = BATCH;
  let note: string | undefined;
  // warm-up + timed steps must fit the budget: at least two steps of the chosen batch
  while (batch > 8 && perImage * batch * 3 > BUDGET_S) batch /= 2;
  if (batch !== BATCH) note = `batch ${BATCH} would take ~${(perImage * BATCH).toFixed(0)} s per step; measured at batch ${batch}`;
  if (batch === 8 && perImage * 8 * 3 > BUDGET_S) {
    return { backend, net, batch: 8, steps: 1, seconds: probe.seconds, imagesPerSecond: 8 / probe.seconds, backboneParams, note: 'one batch-8 step (the probe) only: over budget' };
  }
  log(`${backend} ${net}: probe ${(1 / perImage).toFixed(1)} img/s at batch 8, measuring batch ${batch}`);
  const r = await stepTime(net, batch, 50, BUDGET_S * 0.6);
  return { backend, net, batch, steps: r.steps, seconds: r.seconds, imagesPerSecond: (batch * r.steps) / r.seconds, backboneParams, ...(note ? { note } : {}) };
}

interface TorchRow {
  net: string;
  batch: number;
  threads: number;
  backboneParams: number;
  steps: number;
  seconds: number;
  imagesPerSecond: number;
  torch: string;
}

function torchPeer(batchFor: Map<string, number>): Map<string, TorchRow> | string {
  const script = path.join(repoRoot, 'bench', 'train', 'torch_simclr.py');
  const out = new Map<string, TorchRow>();
  for (const net of nets) {
    const batch = batchFor.get(net) ?? BATCH;
    const r = spawnSync(values.python, [script, '--nets', net, '--batch', String(batch), '--budget', String(BUDGET_S * 0.6), '--threads', '2', '--device', values['torch-device']], {
      encoding: 'utf8',
      timeout: (BUDGET_S * 4 + 120) * 1000,
    });
    if (r.status !== 0) return `PyTorch peer failed (${values.python}): ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`;
    const row = JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchRow;
    out.set(`${net}@${batch}`, row);
  }
  return out;
}

const rows: Row[] = [];
const unavailable: Record<string, string> = {};
for (const backend of backends) {
  try {
    const choice = await initBackend({ prefer: backend });
    log(`${backend}: ${choice.device ?? choice.tfBackend}`);
  } catch (err) {
    unavailable[backend] = (err as Error).message;
    log(`${backend}: unavailable (${(err as Error).message})`);
    continue;
  }
  let overBudget = false;
  for (const net of nets) {
    if (overBudget) {
      // nets are listed smallest first: once one cannot fit a batch-8 step in the budget, larger ones cannot either
      unavailable[`${backend}/${net}`] = 'skipped: a smaller net was already over the time budget on this backend';
      continue;
    }
    try {
      const row = await measure(backend, net);
      if (row?.note?.startsWith('one batch-8 step')) overBudget = true;
      if (row) {
        rows.push(row);
        log(`${backend} ${net}: ${row.imagesPerSecond.toFixed(2)} img/s at batch ${row.batch} (${row.steps} steps in ${row.seconds.toFixed(1)} s)`);
      }
    } catch (err) {
      unavailable[`${backend}/${net}`] = (err as Error).message.split('\n')[0]!;
      log(`${backend} ${net}: failed (${unavailable[`${backend}/${net}`]})`);
    }
  }
}

// The peer runs at the batch each net was measured at on the fastest backend, so each ratio compares like with like.
const best = new Map<string, Row>();
for (const r of rows) if (!best.has(r.net) || r.imagesPerSecond > best.get(r.net)!.imagesPerSecond) best.set(r.net, r);
let torch: Map<string, TorchRow> | string = 'skipped (--no-torch)';
if (!values['no-torch']) {
  const batches = new Map<string, number>();
  for (const [net, r] of best) batches.set(net, r.batch);
  log(`PyTorch ${values['torch-device']} peer at batches ${[...batches].map(([n, b]) => `${n}:${b}`).join(', ')}`);
  torch = torchPeer(batches);
  if (typeof torch === 'string') log(torch);
}

const peerName = values['torch-device'] === 'cpu' ? 'CPU' : values['torch-device'].toUpperCase();
const figures: Figure[] = [];
for (const r of rows) {
  const peer = typeof torch === 'string' ? undefined : torch.get(`${r.net}@${r.batch}`);
  figures.push({ bench: 'train', figure: `${r.backend} ${r.net} SimCLR step b${r.batch}`, value: Number(r.imagesPerSecond.toFixed(3)), unit: 'img/s', ...(r.note ? { note: r.note } : {}) });
  if (peer) {
    if (peer.backboneParams !== r.backboneParams) throw new Error(`${r.net}: PyTorch net has ${peer.backboneParams} parameters, Curio's ${r.backboneParams}`);
    figures.push({ bench: 'train', figure: `${r.backend} ${r.net} vs PyTorch ${peerName}`, value: Number((r.imagesPerSecond / peer.imagesPerSecond).toFixed(4)), unit: `× (1/${(peer.imagesPerSecond / r.imagesPerSecond).toFixed(0)})` });
  }
}
if (typeof torch !== 'string') {
  for (const p of torch.values()) figures.push({ bench: 'train', figure: `PyTorch ${peerName} ${p.net} SimCLR step b${p.batch}${values['torch-device'] === 'cpu' ? ` (${p.threads} threads)` : ''}`, value: Number(p.imagesPerSecond.toFixed(3)), unit: 'img/s', note: `torch ${p.torch}` });
}
const file = report('train', figures, { rows, torch: typeof torch === 'string' ? torch : [...torch.values()], unavailable, budgetSeconds: BUDGET_S });
if (Object.keys(unavailable).length > 0) process.stdout.write(`unavailable: ${JSON.stringify(unavailable)}\n`);
fs.accessSync(file);
