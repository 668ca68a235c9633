import fs from 'node:fs';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { localCropSize, parsePipelineSpec, presetFor, PRESET_METHODS, type PipelineSpec, type PresetMethod } from '../../../shared/contract/augment.js';
import type { Run, RunConfig, RunConfigInput } from '../../../shared/contract/train.js';
import { RunConfig as RunConfigSchema } from '../../../shared/contract/train.js';
import type { DatasetImage } from '../../catalog/catalog.js';
import { CurioError, conflict, invalid, notFound } from '../../common/errors.js';
import { mulberry32, shuffleInPlace } from '../../common/random.js';
import { prepareWorkerEnvironment } from '../../compute/backend.js';
import { spawnModuleWorker } from '../../evaluate/workers.js';
import type { Services } from '../../services.js';
import { CHECKPOINT_FILE, type ControlMessage, type RunImage, type RunSummary, type SessionInput, type WorkerMessage } from './protocol.js';
import { RunStore } from './run-store.js';

/** The largest image size a run picks by itself; bigger data is trained at this size unless --image-size says otherwise. */
export const MAX_DEFAULT_IMAGE_SIZE = 224;

interface LiveRun {
  worker: Worker;
  done: Promise<RunOutcome>;
}

export interface RunOutcome {
  runId: number;
  status: Run['status'];
  summary: RunSummary | null;
  error: string | null;
}

/**
 * Starts, steers and records pretraining runs. Each run trains in its own worker thread; this class relays its
 * messages into the catalog (metrics, logs, status) and onto the event bus, so the app stays responsive and a
 * restart finds every run's history.
 */
export class RunManager {
  readonly store: RunStore;
  private readonly live = new Map<number, LiveRun>();

  constructor(private readonly services: Services) {
    this.store = new RunStore(services.catalog);
    const interrupted = this.store.markInterrupted();
    if (interrupted > 0) services.bus.log('warn', 'train', `${interrupted} run(s) were cut off by a restart; resume them from their last checkpoint`);
  }

  runDir(runId: number): string {
    return path.join(path.dirname(this.services.catalog.path), 'runs', String(runId));
  }

  /** Validates the config against the dataset, records the run, and starts its worker. */
  start(input: RunConfigInput): { runId: number; done: Promise<RunOutcome> } {
    const parsed = RunConfigSchema.safeParse(input);
    if (!parsed.success) throw invalid(`bad run config: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ')}`);
    const config = parsed.data;
    const { catalog } = this.services;
    const datasetId = catalog.datasetIdByName(config.dataset);
    const images = catalog.datasetImages(datasetId);
    if (images.length < 2) throw invalid(`dataset "${config.dataset}" has ${images.length} usable images; a run needs at least 2`);
    const resolved = resolveConfig(config, images);
    const runId = this.store.create(`${config.method}-${config.backbone}`, datasetId, resolved);
    return { runId, done: this.launch(runId, null) };
  }

  /** Continues a paused run, or restarts a stopped, failed or interrupted one from its last checkpoint. */
  resume(runId: number): { done: Promise<RunOutcome> } {
    const run = this.store.get(runId);
    const live = this.live.get(runId);
    if (live) {
      this.post(runId, { type: 'resume' });
      return { done: live.done };
    }
    if (run.status === 'done') throw conflict(`run ${runId} has finished; start a new run to train further`);
    const checkpoint = run.checkpoint ?? path.join(this.runDir(runId), CHECKPOINT_FILE);
    if (!fs.existsSync(checkpoint)) throw conflict(`run ${runId} has no checkpoint to resume from`);
    return { done: this.launch(runId, checkpoint) };
  }

  pause(runId: number): boolean {
    return this.post(runId, { type: 'pause' });
  }

  stop(runId: number): boolean {
    return this.post(runId, { type: 'stop' });
  }

  isLive(runId: number): boolean {
    return this.live.has(runId);
  }

  async stopAll(): Promise<void> {
    const pending = [...this.live.entries()].map(([id, l]) => {
      this.post(id, { type: 'stop' });
      return l.done;
    });
    await Promise.allSettled(pending);
  }

  private post(runId: number, message: ControlMessage): boolean {
    const live = this.live.get(runId);
    if (!live) {
      this.store.get(runId); // not-found error for an unknown id
      return false;
    }
    live.worker.postMessage(message);
    return true;
  }

  private launch(runId: number, resumeFrom: string | null): Promise<RunOutcome> {
    const { catalog, bus } = this.services;
    const run = this.store.get(runId);
    const config = run.config as SessionInput['config'];
    const datasetId = run.datasetId;
    if (datasetId === null) throw notFound(`the dataset of run ${runId} was deleted`);
    const { train, monitor } = splitMonitor(catalog.datasetImages(datasetId), config.monitorSize, config.seed);
    const runDir = this.runDir(runId);
    fs.mkdirSync(runDir, { recursive: true });
    const input: SessionInput = { runId, config, images: train, monitor, runDir, resumeFrom };
    prepareWorkerEnvironment(config.backend);
    const worker = spawnModuleWorker(new URL('./worker.js', import.meta.url), input);
    const setStatus = (status: Run['status'], error: string | null = null, line?: string) => {
      this.store.setStatus(runId, status, error);
      bus.emit('onDidRunStatus', { runId, status, error, ...(line ? { line } : {}) });
    };
    setStatus('running');
    this.store.setOwner(runId, process.pid);
    const done = new Promise<RunOutcome>((resolve) => {
      let outcome: RunOutcome | null = null;
      // curves restart from the checkpoint's step: points logged after it are replaced by the resumed ones
      let resumedStepChecked = resumeFrom === null;
      worker.on('message', (m: WorkerMessage) => {
        switch (m.type) {
          case 'backend':
            this.store.setBackend(runId, m.backend, m.reason);
            break;
          case 'metrics':
            if (!resumedStepChecked) {
              this.store.truncateMetricsAfter(runId, m.metrics.step - 1);
              resumedStepChecked = true;
            }
            this.store.addMetrics(m.metrics);
            bus.emit('onDidRunMetrics', m.metrics);
            break;
          case 'log':
            this.store.log(runId, m.line);
            bus.emit('onDidRunStatus', { runId, status: 'running', error: null, line: m.line });
            break;
          case 'checkpoint':
            this.store.setCheckpoint(runId, m.file);
            break;
          case 'status':
            setStatus(m.status);
            break;
          case 'done':
            outcome = { runId, status: m.stopped ? 'stopped' : 'done', summary: m.summary, error: null };
            setStatus(outcome.status);
            // the port keeps the worker's loop alive; its work is over, so end it
            void worker.terminate();
            break;
          case 'error':
            outcome = { runId, status: 'failed', summary: null, error: m.message };
            this.store.log(runId, `error: ${m.message}`);
            setStatus('failed', m.message);
            void worker.terminate();
            break;
        }
      });
      worker.on('error', (err) => {
        outcome ??= { runId, status: 'failed', summary: null, error: err.message };
        setStatus('failed', err.message);
      });
      worker.on('exit', () => {
        this.live.delete(runId);
        if (!outcome) {
          outcome = { runId, status: 'failed', summary: null, error: 'the training worker exited unexpectedly' };
          setStatus('failed', outcome.error);
        }
        resolve(outcome);
      });
    });
    this.live.set(runId, { worker, done });
    return done;
  }
}

/**
 * Fills in what the user left to the data: the image size and the augmentation pipeline. `localCrops` sets how
 * many local crops DINO's multi-crop adds to its 2 global crops (sizes follow the data: 32/16 px at 32 px, 224/96
 * at 224); the other methods train on exactly 2 views, so they refuse local crops, and every method refuses a
 * pipeline whose views it cannot take, here rather than at the first step.
 */
export function resolveConfig(config: RunConfig, images: readonly DatasetImage[]): SessionInput['config'] {
  const imageSize = config.imageSize ?? typicalImageSize(images);
  let pipeline: PipelineSpec;
  if (config.pipeline === undefined) pipeline = presetFor(defaultPreset(config.method), imageSize);
  else if (typeof config.pipeline === 'string') {
    if (!(PRESET_METHODS as readonly string[]).includes(config.pipeline)) {
      throw invalid(`unknown pipeline preset "${config.pipeline}"; presets: ${PRESET_METHODS.join(', ')}`);
    }
    pipeline = presetFor(config.pipeline as PresetMethod, imageSize);
  } else {
    try {
      pipeline = parsePipelineSpec(config.pipeline);
    } catch (err) {
      throw invalid(`bad pipeline: ${(err as Error).message}`);
    }
  }
  if (config.localCrops !== undefined) pipeline = withLocalCrops(pipeline, config.method, config.localCrops, imageSize);
  checkViewsFit(pipeline, config.method);
  return { ...config, imageSize, pipeline };
}

/** DINO's local-crop scale range (Caron et al. 2021, App. D: local crops cover 5–40% of the image). */
const LOCAL_SCALE: [number, number] = [0.05, 0.4];
/** DINO's global-crop scale range (ibid.: 40–100%), used when the pipeline had no multi-crop of its own. */
const GLOBAL_SCALE: [number, number] = [0.4, 1];

/**
 * The pipeline with `count` local crops: an existing multi-crop keeps its sizes and scales and changes only the
 * count; a pipeline without one gets DINO's (2 globals at its crop size, locals at localCropSize). Re-parsed, so
 * an override naming a view that no longer exists is reported.
 */
export function withLocalCrops(pipeline: PipelineSpec, method: RunConfig['method'], count: number, imageSize: number): PipelineSpec {
  if (method !== 'dino') {
    if (count === 0) return pipeline;
    throw invalid(`localCrops is DINO's multi-crop; ${method} trains on exactly 2 views and cannot use local crops (leave localCrops out or set it to 0)`);
  }
  const crop = pipeline.ops.find((o) => o.op === 'random_resized_crop');
  const multiCrop = pipeline.multiCrop
    ? { ...pipeline.multiCrop, local: { ...pipeline.multiCrop.local, count } }
    : {
        global: { count: 2, size: crop?.size ?? imageSize, scale: GLOBAL_SCALE },
        local: { count, size: localCropSize(crop?.size ?? imageSize), scale: LOCAL_SCALE },
      };
  try {
    return parsePipelineSpec({ ...pipeline, multiCrop });
  } catch (err) {
    throw invalid(`localCrops ${count} does not fit the pipeline: ${(err as Error).message}`);
  }
}

/** DINO takes 2 global crops (its teacher sees exactly those) plus any locals; the others take exactly 2 views. */
function checkViewsFit(pipeline: PipelineSpec, method: RunConfig['method']): void {
  const mc = pipeline.multiCrop;
  if (method === 'dino') {
    const globals = mc ? mc.global.count : pipeline.views;
    if (globals !== 2) throw invalid(`DINO needs exactly 2 global crops (its teacher sees those), the pipeline makes ${globals}`);
    if (mc && mc.local.count > 0 && mc.local.size > mc.global.size) {
      throw invalid(`DINO's local crops (${mc.local.size} px) must not be larger than its global crops (${mc.global.size} px)`);
    }
    return;
  }
  const views = mc ? mc.global.count + mc.local.count : pipeline.views;
  if (mc && mc.local.count > 0) throw invalid(`${method} cannot use multi-crop local crops; only DINO can (the pipeline has ${mc.local.count})`);
  if (views !== 2) throw invalid(`${method} trains on exactly 2 views, the pipeline makes ${views}`);
}

function defaultPreset(method: RunConfig['method']): PresetMethod {
  return method;
}

/** The median of the images' shorter sides, capped at MAX_DEFAULT_IMAGE_SIZE: 32 for CIFAR, 28 for MNIST. */
export function typicalImageSize(images: readonly DatasetImage[]): number {
  const sides = images
    .map((i) => Math.min(i.width ?? 0, i.height ?? 0))
    .filter((s) => s > 0)
    .sort((a, b) => a - b);
  if (sides.length === 0) return 32;
  const median = sides[Math.floor(sides.length / 2)]!;
  return Math.max(8, Math.min(MAX_DEFAULT_IMAGE_SIZE, median));
}

/**
 * Holds out a labeled subset for the kNN monitor (seeded; at most 10% of the data), when every image has a label.
 * The monitor never trains, so its accuracy measures the representation, not memory.
 */
export function splitMonitor(images: readonly DatasetImage[], monitorSize: number, seed: number): { train: RunImage[]; monitor: RunImage[] } {
  const all = images.map((i) => ({ path: i.path, label: i.label }));
  const labeled = all.length > 0 && all.every((i) => i.label !== null);
  const size = Math.min(monitorSize, Math.floor(all.length * 0.1));
  if (!labeled || size < 10) return { train: all, monitor: [] };
  const order = shuffleInPlace(Array.from(all.keys()), mulberry32(seed ^ 0x6d6f6e));
  const held = new Set(order.slice(0, size));
  return { train: all.filter((_, i) => !held.has(i)), monitor: all.filter((_, i) => held.has(i)) };
}
