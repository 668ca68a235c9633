import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../compute/index.js';
import { augmentBatch } from '../../augment/index.js';
import { parsePipelineSpec } from '../../../shared/contract/augment.js';
import { mulberry32, shuffleInPlace } from '../../common/random.js';
import { createMethod } from '../methods/index.js';
import { createBackbone } from '../models/index.js';
import type { Method, MethodOptions, MethodState, StepRates } from '../methods/base.js';
import { BatchQueue, type BatchJob, type PreparedBatch } from './batch-queue.js';
import { readCheckpoint, writeCheckpoint, type TensorData } from './checkpoint.js';
import { ImageCache } from './image-cache.js';
import { CHECKPOINT_FILE, type CheckpointMeta, type RunSummary, type SessionInput, type WorkerMessage } from './protocol.js';
import { methodDefaults } from './defaults.js';
import { defaultReadbackEvery, readbackEveryFromEnv, StepMetricWindow } from './step-metrics.js';

/** How the loop is steered from outside (the worker's message port, or a test). */
export interface SessionControl {
  readonly stopRequested: boolean;
  readonly pauseRequested: boolean;
  /** Resolves when a pause ends (resume) or a stop arrives. */
  waitForResume(): Promise<void>;
}

/** What tests may change about a session: method sizes (tiny heads), and the prefetch depth. */
export interface SessionOptions {
  methodOptions?: Partial<MethodOptions>;
  prefetchDepth?: number;
  /** read the step losses every this many steps (default: CURIO_METRICS_EVERY, else by backend) */
  readbackEvery?: number;
}

/** Batches prepared ahead of the step that trains: one in the worker, one waiting. */
const PREFETCH_DEPTH = 2;
const MONITOR_K = 20;
const MONITOR_T = 0.07;
/** images whose embedding std is tracked when the run has no labeled monitor set */
const STD_SAMPLE = 256;

/**
 * One pretraining run: decode the images (on decode worker threads), pick the backend, build the method, then
 * loop over a seeded schedule of batches → augmented views → method.trainStep. A batch worker prepares the next
 * batches while a step trains (on wasm/cpu it also augments them there, with the same backend and seed), so
 * dataWait is only what the prefetch could not hide. It streams step and epoch metrics, writes a checkpoint every
 * checkpointMinutes and at the end, and on resume continues from the checkpoint's step with its optimizer state
 * and the same data order.
 */
export async function runSession(
  input: SessionInput,
  post: (m: WorkerMessage) => void,
  control: SessionControl,
  options: SessionOptions = {},
): Promise<RunSummary> {
  const started = performance.now();
  const { config } = input;
  const log = (line: string) => post({ type: 'log', line });
  const pipeline = parsePipelineSpec(config.pipeline);

  // The decode workers and the batch worker start first, so their start-up and the decoding overlap the backend's
  // start-up (wasm compile, the train check) and building the method
  const batchWorker = BatchQueue.spawnWorker();
  // until the queue owns it, a failure on the way there must not leave the thread running
  const abandon = (err: unknown): never => {
    void batchWorker.terminate();
    throw err;
  };
  log(`decoding ${input.images.length} training images at ${config.imageSize} px on worker threads`);
  const decoded = (async () => {
    const train = await ImageCache.load(input.images, config.imageSize);
    // Without a labeled held-out set, the embedding std (collapse check) is still measured, on the first training
    // images: a fixed set, so the curve compares like with like.
    const monitor = input.monitor.length > 0 ? await ImageCache.load(input.monitor, config.imageSize) : train;
    return { train, monitor };
  })();
  decoded.catch(() => undefined); // a backend failure below is the error to report; decoding then just ends

  const backend = await initBackend({ prefer: config.backend }).catch(abandon);
  post({ type: 'backend', backend: backend.backend, reason: backend.reason });
  log(`backend ${backend.backend}: ${backend.reason}`);
  const { train: cache, monitor: monitorCache } = await decoded.catch(abandon);
  const monitorLabels: (string | null)[] =
    input.monitor.length > 0 ? input.monitor.map((m) => m.label) : new Array<string | null>(Math.min(STD_SAMPLE, cache.count)).fill(null);

  const batchSize = Math.min(config.batchSize, cache.count);
  if (batchSize < 2) abandon(new Error(`a run needs at least 2 images, the dataset has ${cache.count}`));
  const stepsPerEpoch = Math.floor(cache.count / batchSize);
  let resumed: ReturnType<typeof readCheckpoint<CheckpointMeta>> | null = null;
  try {
    if (input.resumeFrom) resumed = readCheckpoint<CheckpointMeta>(input.resumeFrom);
  } catch (err) {
    abandon(err);
  }
  const totalSteps = resumed?.meta.totalSteps ?? estimateTotalSteps(config, stepsPerEpoch);

  // Batches are prepared ahead in the batch worker (and augmented there on the CPU backends), in the order a pure
  // schedule of (seed, epoch, batch) gives, so a resumed run sees the same batches and views.
  const from = resumed ? { step: resumed.meta.step, epoch: resumed.meta.epoch, batchInEpoch: resumed.meta.batchInEpoch } : { step: 0, epoch: 0, batchInEpoch: 0 };
  const wanted = backend.backend === 'native' || backend.backend === 'wasm' || backend.backend === 'cpu' ? backend.backend : null;
  const openQueue = (augmentOn: typeof wanted, worker?: Worker) =>
    BatchQueue.open({
      ...(worker ? { worker } : {}),
      cache,
      pipeline: config.pipeline,
      augmentOn,
      jobs: batchSchedule(from, { seed: config.seed, count: cache.count, batchSize, stepsPerEpoch, totalSteps }),
      depth: options.prefetchDepth ?? PREFETCH_DEPTH,
    });
  const queueOpening = openQueue(wanted, batchWorker).then(
    (queue) => ({ queue, augmentOn: wanted }),
    async (err: unknown) => {
      if (wanted === null) throw err;
      // the same views come out either way; only the overlap is lost
      log(`the batch worker cannot augment on ${wanted} (${(err as Error).message}); augmenting on the training thread`);
      return { queue: await openQueue(null), augmentOn: null };
    },
  );
  queueOpening.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled
  // if building the method fails first, the queue is closed once it has opened
  const closeQueue = () => queueOpening.then(({ queue }) => queue.close(), () => undefined);

  let method: Method;
  try {
    method = createMethod(config.method, {
      backbone:
        config.patchSize === undefined
          ? config.backbone
          : (seed: number) => createBackbone(config.backbone, { imageSize: config.imageSize, seed, patchSize: config.patchSize! }),
      imageSize: config.imageSize,
      seed: config.seed,
      totalSteps,
      ...methodDefaults(config, totalSteps, batchSize),
      ...options.methodOptions,
    });
    if (resumed) method.setState(stateFromCheckpoint(resumed.tensors, resumed.meta));
  } catch (err) {
    await closeQueue();
    throw err;
  }
  let step = 0;
  let epoch = 0;
  let batchInEpoch = 0;
  if (resumed) {
    step = resumed.meta.step;
    epoch = resumed.meta.epoch;
    batchInEpoch = resumed.meta.batchInEpoch;
    log(`resumed from ${input.resumeFrom} at step ${step} (epoch ${epoch}, batch ${batchInEpoch})`);
  }

  const checkpointFile = path.join(input.runDir, CHECKPOINT_FILE);
  // the step counter and the losses a checkpoint stands for are all read and reported before it is written
  const saveCheckpoint = async () => {
    await stepMetrics.flush();
    tick();
    const state = await method.getState();
    const tensors: Record<string, TensorData> = {};
    for (const [k, v] of Object.entries(state.modules)) tensors[`modules/${k}`] = v;
    for (const [k, v] of Object.entries(state.optimizer.slots)) tensors[`optimizer/${k}`] = v;
    const { slots: _slots, ...optimizerRest } = state.optimizer;
    writeCheckpoint<CheckpointMeta>(checkpointFile, {
      meta: { runId: input.runId, step, epoch, batchInEpoch, totalSteps, activeMs, config, optimizer: optimizerRest, savedAt: new Date().toISOString() },
      tensors,
    });
    post({ type: 'checkpoint', file: checkpointFile, step });
  };

  // A time budget counts the time spent in the training loop, across resumes and without pauses; setup (backend,
  // decoding) is not part of it, and every session trains at least one step, so a run always reports a loss.
  const budgetMs = config.minutes !== undefined ? config.minutes * 60_000 : Infinity;
  let activeMs = resumed?.meta.activeMs ?? 0;
  let lastTick = performance.now();
  const tick = () => {
    const now = performance.now();
    activeMs += now - lastTick;
    lastTick = now;
  };
  // The schedules (LR warm-up and cosine, BYOL's EMA, DINO's teacher temperature) run over totalSteps. A time budget
  // has no known step count, so its schedules follow the share of the budget spent instead: step k of the
  // nominal totalSteps is where activeMs/budget puts it. (Scheduling over the nominal count itself would leave a
  // 15-minute CPU run in the first percent of its LR warm-up.)
  const scheduleStep = (realStep: number, spentMs: number): number =>
    Number.isFinite(budgetMs) ? Math.min(totalSteps - 1, Math.max(0, Math.floor((spentMs / budgetMs) * totalSteps))) : realStep;
  let stepsThisSession = 0;
  const checkpointEvery = config.checkpointMinutes * 60_000;
  let lastCheckpoint = performance.now();
  let lastKnn: number | null = null;
  let lastStd: number | null = null;
  let imagesSeen = 0;
  let trainTime = 0;
  let stopped = false;

  const { queue, augmentOn } = await queueOpening.catch((err: unknown) => {
    method.dispose();
    throw err;
  });
  log(`batches prepared ${augmentOn ? `and augmented (${augmentOn}) ` : ''}in a worker thread, ${options.prefetchDepth ?? PREFETCH_DEPTH} ahead`);
  // Per-step losses stay on the device and are read in one batch every readEvery steps (1: every step, read before
  // the weights are updated, the CPU backends' default where a read costs nothing)
  const readEvery = options.readbackEvery ?? readbackEveryFromEnv() ?? defaultReadbackEvery(backend.backend);
  const stepMetrics = new StepMetricWindow(readEvery, input.runId, (metrics) => post({ type: 'metrics', metrics }));
  if (readEvery > 1) log(`step losses are read from the device every ${readEvery} steps, in one batch`);

  try {
    outer: while (step < totalSteps) {
      // batchInEpoch counts the batches of this epoch already trained, so a checkpoint taken anywhere resumes at the
      // next one
      while (batchInEpoch < stepsPerEpoch) {
        tick();
        // a step's device work is queued synchronously (only a loss readback awaits, and on cpu/wasm that resolves
        // at once): yield once per step so control messages (pause, stop) and I/O get through
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (control.pauseRequested) {
          await saveCheckpoint();
          lastCheckpoint = performance.now();
          post({ type: 'status', status: 'paused' });
          await control.waitForResume();
          lastTick = performance.now();
          if (!control.stopRequested) post({ type: 'status', status: 'running' });
        }
        if (control.stopRequested) {
          stopped = true;
          break outer;
        }
        if (step >= totalSteps || (stepsThisSession > 0 && activeMs > budgetMs)) break outer;
        // dataWait: from asking for the batch to holding its views as tensors, whatever part was not prefetched
        const t0 = performance.now();
        const batch = await queue.next();
        if (!batch || batch.step !== step || batch.epoch !== epoch || batch.batchInEpoch !== batchInEpoch) {
          throw new Error(`batch schedule out of step: expected step ${step} (epoch ${epoch}, batch ${batchInEpoch}), got ${batch ? `step ${batch.step}` : 'none'}`);
        }
        const n = batch.indices.length;
        const views = viewTensors(batch, config.imageSize, pipeline);
        const t1 = performance.now();
        let loss: number | tf.Scalar;
        let rates: StepRates;
        try {
          if (readEvery === 1) {
            const { loss: value, ...rest } = await method.trainStep(views, scheduleStep(step, activeMs));
            loss = value;
            rates = rest as StepRates;
          } else {
            ({ loss, metrics: rates } = await method.trainStepDeferred(views, scheduleStep(step, activeMs)));
          }
        } finally {
          tf.dispose(views);
        }
        const t2 = performance.now();
        step++;
        batchInEpoch++;
        stepsThisSession++;
        imagesSeen += n;
        trainTime += t2 - t0;
        stepMetrics.add({
          step,
          epoch,
          loss,
          lr: rates.lr,
          images: n,
          dataWaitMs: t1 - t0,
          stepMs: t2 - t0,
          ...liveMemory(stepMetrics.heldTensors),
          time: new Date().toISOString(),
        });
        if (stepMetrics.full) await stepMetrics.flush();
        if (performance.now() - lastCheckpoint > checkpointEvery) {
          await saveCheckpoint();
          lastCheckpoint = performance.now();
        }
      }
      // an epoch ended: monitor it, after its steps' losses
      await stepMetrics.flush();
      epoch++;
      batchInEpoch = 0;
      const monitor = await monitorEpoch(method, monitorCache, monitorLabels);
      lastKnn = monitor.knnTop1;
      lastStd = monitor.embeddingStd;
      post({ type: 'metrics', metrics: { runId: input.runId, kind: 'epoch', step, epoch, ...monitor, time: new Date().toISOString() } });
      log(`epoch ${epoch}: loss ${stepMetrics.lastLoss?.toFixed(4)}, kNN ${monitor.knnTop1 === null ? 'n/a' : (100 * monitor.knnTop1).toFixed(1) + '%'}, embedding std ${monitor.embeddingStd.toFixed(4)}`);
    }
    await stepMetrics.flush();
    if (!stopped && batchInEpoch > 0) {
      // a time budget ended mid-epoch: one last monitor point, so the final numbers describe the final weights
      const monitor = await monitorEpoch(method, monitorCache, monitorLabels);
      lastKnn = monitor.knnTop1;
      lastStd = monitor.embeddingStd;
      post({ type: 'metrics', metrics: { runId: input.runId, kind: 'epoch', step, epoch, ...monitor, time: new Date().toISOString() } });
    }
    await saveCheckpoint();
  } finally {
    stepMetrics.dispose();
    await queue.close();
    method.dispose();
  }
  return {
    steps: step,
    epochs: epoch,
    loss: stepMetrics.lastLoss,
    knnTop1: lastKnn,
    embeddingStd: lastStd,
    imagesPerSecond: trainTime + stepMetrics.readMs > 0 ? imagesSeen / ((trainTime + stepMetrics.readMs) / 1000) : 0,
    seconds: (performance.now() - started) / 1000,
    backend: backend.backend,
    checkpoint: checkpointFile,
  };
}

/** The engine's live tensors, less the unread step losses the metric window holds (4 bytes each). */
function liveMemory(held: number): { memoryBytes: number; numTensors: number } {
  const mem = tf.memory();
  return { memoryBytes: mem.numBytes - 4 * held, numTensors: mem.numTensors - held };
}

/** A prepared batch as the step's view tensors: as they came (augmented in the worker), or augmented here on the device. */
function viewTensors(batch: PreparedBatch, size: number, pipeline: ReturnType<typeof parsePipelineSpec>): tf.Tensor4D[] {
  if ('views' in batch) return batch.views.map((v) => tf.tensor4d(v.data, v.shape));
  // tidy cannot span an await: the views are made in one, the step awaited outside it, then disposed
  return tf.tidy(() => augmentBatch(tf.tensor4d(batch.x, [batch.indices.length, size, size, 3]), pipeline, batch.seed));
}

/**
 * Every batch from a point of the run to its end: epoch e's images in epochOrder(seed, e), cut into stepsPerEpoch
 * batches, step s augmented with stepSeed(seed, s). A pure function of the counters a checkpoint stores.
 */
export function* batchSchedule(
  from: { step: number; epoch: number; batchInEpoch: number },
  run: { seed: number; count: number; batchSize: number; stepsPerEpoch: number; totalSteps: number },
): Generator<BatchJob> {
  let { step, epoch, batchInEpoch } = from;
  let order = epochOrder(run.count, run.seed, epoch);
  while (step < run.totalSteps) {
    if (batchInEpoch >= run.stepsPerEpoch) {
      epoch++;
      batchInEpoch = 0;
      order = epochOrder(run.count, run.seed, epoch);
    }
    const indices = order.slice(batchInEpoch * run.batchSize, (batchInEpoch + 1) * run.batchSize);
    yield { step, epoch, batchInEpoch, indices, seed: stepSeed(run.seed, step) };
    step++;
    batchInEpoch++;
  }
}

function estimateTotalSteps(config: SessionInput['config'], stepsPerEpoch: number): number {
  if (config.epochs !== undefined) return config.epochs * stepsPerEpoch;
  // A time budget: the schedules need a length, so take a generous bound; the deadline ends the run.
  if (config.minutes !== undefined) return Math.max(stepsPerEpoch, Math.ceil(config.minutes * 60 * 50));
  return 100 * stepsPerEpoch;
}

/** The image order of an epoch: a permutation seeded by (seed, epoch), so a resumed run sees the same batches. */
export function epochOrder(count: number, seed: number, epoch: number): Uint32Array {
  const order = Array.from({ length: count }, (_, i) => i);
  shuffleInPlace(order, mulberry32((seed * 1_000_003 + epoch * 7919 + 1) >>> 0));
  return Uint32Array.from(order);
}

/** The augmentation seed of a step: a function of (run seed, step), so a resumed step draws the same views. */
export function stepSeed(seed: number, step: number): number {
  return (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca6b)) >>> 1;
}

function stateFromCheckpoint(tensors: Record<string, TensorData>, meta: CheckpointMeta): MethodState {
  const modules: Record<string, TensorData> = {};
  const slots: Record<string, TensorData> = {};
  for (const [k, v] of Object.entries(tensors)) {
    if (k.startsWith('modules/')) modules[k.slice('modules/'.length)] = v;
    else if (k.startsWith('optimizer/')) slots[k.slice('optimizer/'.length)] = v;
  }
  return { modules, optimizer: { ...(meta.optimizer as object), slots } } as MethodState;
}

/**
 * The per-epoch health check: leave-one-out kNN (cosine, k=20, temperature-weighted votes) within the held-out
 * labeled subset, and the std of the L2-normalised embeddings (collapse drives it to 0; healthy is ≈ 1/√d).
 */
export async function monitorEpoch(
  method: Method,
  cache: ImageCache | null,
  labels: (string | null)[],
): Promise<{ knnTop1: number | null; embeddingStd: number }> {
  const n = Math.min(labels.length, cache?.count ?? 0);
  if (!cache || n < 2) return { knnTop1: null, embeddingStd: 0 };
  const feats = await embedAll(method, cache, n);
  const d = feats.length / n;
  normalizeRows(feats, n, d);
  let std = 0;
  for (let j = 0; j < d; j++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += feats[i * d + j]!;
    mean /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (feats[i * d + j]! - mean) ** 2;
    std += Math.sqrt(v / n);
  }
  std /= d;
  const labeled = labels.every((l) => l !== null);
  if (!labeled) return { knnTop1: null, embeddingStd: std };
  const names = [...new Set(labels as string[])];
  const y = labels.map((l) => names.indexOf(l!));
  let correct = 0;
  const sims = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < d; t++) s += feats[i * d + t]! * feats[j * d + t]!;
      sims[j] = j === i ? -Infinity : s;
    }
    const top = topK(sims, Math.min(MONITOR_K, n - 1));
    const votes = new Float64Array(names.length);
    for (const j of top) votes[y[j]!]! += Math.exp(sims[j]! / MONITOR_T);
    let best = 0;
    for (let c = 1; c < votes.length; c++) if (votes[c]! > votes[best]!) best = c;
    if (best === y[i]) correct++;
  }
  return { knnTop1: correct / n, embeddingStd: std };
}

/** Embeddings of the cache's first `count` images (read back asynchronously, as webgpu in Node requires). */
async function embedAll(method: Method, cache: ImageCache, count: number): Promise<Float32Array> {
  const chunks: Float32Array[] = [];
  const chunk = 128;
  for (let start = 0; start < count; start += chunk) {
    const idx = Array.from({ length: Math.min(chunk, count - start) }, (_, i) => start + i);
    const x = cache.batch(idx);
    const out = tf.tidy(() => method.embed(tf.tensor4d(x, [idx.length, cache.size, cache.size, 3])));
    try {
      chunks.push((await out.data()) as Float32Array);
    } finally {
      out.dispose();
    }
  }
  const total = chunks.reduce((s, c) => s + c.length, 0);
  const all = new Float32Array(total);
  let o = 0;
  for (const c of chunks) {
    all.set(c, o);
    o += c.length;
  }
  return all;
}

function normalizeRows(x: Float32Array, n: number, d: number): void {
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[i * d + j]! ** 2;
    const inv = 1 / Math.max(1e-12, Math.sqrt(s));
    for (let j = 0; j < d; j++) x[i * d + j]! *= inv;
  }
}

function topK(values: Float32Array, k: number): number[] {
  const idx = Array.from(values.keys());
  idx.sort((a, b) => values[b]! - values[a]!);
  return idx.slice(0, k);
}
