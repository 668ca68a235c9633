import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DatasetImage } from '../catalog/catalog.js';
import { CurioError, conflict, invalid } from '../common/errors.js';
import type { JobContext } from '../common/jobs.js';
import { type BackendPreference, currentBackend, initBackend } from '../compute/index.js';
import { type Backbone, createBackbone, defaultPatchSize, isBackboneName } from '../train/models/index.js';
import type { ModuleState } from '../train/nn/module.js';
import { readCheckpoint } from '../train/runs/checkpoint.js';
import type { CheckpointMeta } from '../train/runs/protocol.js';
import type { RunStore } from '../train/runs/run-store.js';
import { decodeForEncoder } from './decode.js';
import { describeRuntime, type EncoderRuntime, openFrozenEncoder } from './encoder-runtime.js';
import type { FeatureMatrix } from './features.js';
import { DEFAULT_PIXEL_SIZE, pixelFeaturesFromImages } from './pixels.js';

/**
 * Features of a frozen encoder over a dataset, for the linear probe and kNN.
 *
 * Resize rule (stated in every report): each image is resized to cover the encoder's training image size and
 * centre-cropped to a square of that size, in sRGB with EXIF orientation applied, as values in [0, 1]: the same
 * decode the training data path uses, so the encoder sees test images the way it saw its training images.
 */
export const RESIZE_RULE =
  'Images are resized to cover the encoder’s training image size and centre-cropped to that square (sRGB, EXIF orientation applied, values in [0, 1]), the same decode pretraining used.';

/** Where an encoder's weights come from. A run brings its architecture; a random init names it. */
export type EncoderSource =
  | {
      kind: 'run';
      runId: number;
      step: number;
      epoch: number;
      method: string;
      backbone: string;
      imageSize: number;
      patchSize: number | null;
      /** the backbone's parameters and buffers, names without the `backbone.` prefix */
      state: ModuleState;
    }
  | { kind: 'random'; backbone: string; imageSize: number; patchSize: number | null; seed: number };

const BACKBONE_PREFIX = 'modules/backbone.';

/** The online backbone of a run's last checkpoint; a run without one is refused with the reason. */
export function runEncoder(store: RunStore, runId: number): Extract<EncoderSource, { kind: 'run' }> {
  const run = store.get(runId);
  const file = run.checkpoint;
  if (!file || !fs.existsSync(file)) throw conflict(`run ${runId} has no checkpoint yet; let it train a little first`);
  let ckpt;
  try {
    ckpt = readCheckpoint<CheckpointMeta>(file);
  } catch (err) {
    throw new CurioError('failed', `run ${runId}: ${(err as Error).message}`);
  }
  const state: ModuleState = {};
  for (const [name, t] of Object.entries(ckpt.tensors)) {
    if (name.startsWith(BACKBONE_PREFIX)) state[name.slice(BACKBONE_PREFIX.length)] = t;
  }
  if (Object.keys(state).length === 0) throw new CurioError('failed', `checkpoint ${file} of run ${runId} holds no backbone weights`);
  const config = ckpt.meta.config;
  return {
    kind: 'run',
    runId,
    step: ckpt.meta.step,
    epoch: ckpt.meta.epoch,
    method: config.method,
    backbone: config.backbone,
    imageSize: config.imageSize,
    patchSize: config.patchSize ?? null,
    state,
  };
}

/**
 * A random-init encoder. A ViT needs a size its patch divides, so the size is rounded down to a multiple of the
 * patch (at least one patch).
 */
export function randomEncoder(backbone: string, imageSize: number, seed: number, patchSize?: number | null): Extract<EncoderSource, { kind: 'random' }> {
  if (!isBackboneName(backbone)) throw invalid(`unknown backbone "${backbone}"`);
  let size = imageSize;
  let patch: number | null = null;
  if (backbone.startsWith('vit')) {
    patch = patchSize ?? defaultPatchSize(imageSize);
    size = Math.max(patch, Math.floor(imageSize / patch) * patch);
  }
  return { kind: 'random', backbone, imageSize: size, patchSize: patch, seed };
}

/** The same architecture as `e`, randomly initialised: the baseline that shows what training bought. */
export function randomTwin(e: EncoderSource, seed: number): Extract<EncoderSource, { kind: 'random' }> {
  return { kind: 'random', backbone: e.backbone, imageSize: e.imageSize, patchSize: e.patchSize, seed };
}

/** Names the weights: run id + checkpoint step, or random:<backbone>:<size>:<seed>. */
export function encoderKey(e: EncoderSource): string {
  if (e.kind === 'run') return `run:${e.runId}:${e.step}`;
  return `random:${e.backbone}:${e.imageSize}:${e.seed}${e.patchSize !== null ? `:p${e.patchSize}` : ''}`;
}

export function buildBackbone(e: EncoderSource): Backbone {
  const options = { imageSize: e.imageSize, seed: e.kind === 'random' ? e.seed : 0, ...(e.patchSize !== null ? { patchSize: e.patchSize } : {}) };
  const backbone = createBackbone(e.backbone, options);
  if (e.kind === 'run') {
    try {
      backbone.setState(e.state);
    } catch (err) {
      backbone.dispose();
      throw new CurioError('failed', `run ${e.runId}: the checkpoint does not fit a ${e.backbone} backbone: ${(err as Error).message}`);
    }
  }
  return backbone;
}

/**
 * What a dataset's features depend on: its images' content, in the order the catalog lists them (sha256, or path
 * and size where an image has no hash). Re-importing changed files changes it, so a stale cache is never read.
 */
export function datasetContentHash(images: readonly DatasetImage[]): string {
  const h = createHash('sha256');
  for (const img of images) h.update(`${img.id}\t${img.sha256 ?? `${img.path}:${img.bytes ?? ''}`}\n`);
  return h.digest('hex');
}

/** The features folder beside a catalog (a temp folder for an in-memory catalog). */
export function featureDirFor(catalogPath: string): string {
  if (catalogPath === ':memory:') return path.join(os.tmpdir(), `curio-features-${process.pid}`);
  return path.join(path.dirname(path.resolve(catalogPath)), 'features');
}

const MAGIC = Buffer.from('CURIOFT1');

interface CacheHeader {
  key: string;
  n: number;
  dim: number;
  /** which runtime wrote the features (absent in files written before it was recorded, and for raw pixels) */
  runtime?: ExtractionRuntime;
}

/** The cache file for a full key: a hash of it, so no name from a dataset or run reaches the file system. */
export function featureCacheFile(dir: string, key: string): string {
  return path.join(dir, `${createHash('sha256').update(key).digest('hex').slice(0, 40)}.bin`);
}

export function readFeatureCache(file: string, key: string): FeatureMatrix | null {
  return readFeatureCacheEntry(file, key)?.features ?? null;
}

function readFeatureCacheEntry(file: string, key: string): { features: FeatureMatrix; runtime: ExtractionRuntime | null } | null {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return null;
  }
  if (buf.length < 12 || !buf.subarray(0, 8).equals(MAGIC)) return null;
  const headerLen = buf.readUInt32LE(8);
  if (12 + headerLen > buf.length) return null;
  let header: CacheHeader;
  try {
    header = JSON.parse(buf.subarray(12, 12 + headerLen).toString()) as CacheHeader;
  } catch {
    return null;
  }
  if (header.key !== key) return null;
  const bytes = header.n * header.dim * 4;
  if (buf.length !== 12 + headerLen + bytes) return null;
  const data = new Float32Array(header.n * header.dim);
  new Uint8Array(data.buffer).set(buf.subarray(12 + headerLen));
  const r = header.runtime;
  const runtime = r && (r.runtime === 'onnxruntime' || r.runtime === 'tfjs') ? { runtime: r.runtime, fallback: typeof r.fallback === 'string' ? r.fallback : null } : null;
  return { features: { data, n: header.n, dim: header.dim }, runtime };
}

/** Atomic: a temp file in the same folder renamed over the target, so a reader never sees half a file. */
export function writeFeatureCache(file: string, key: string, f: FeatureMatrix, runtime: ExtractionRuntime | null = null): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const header = Buffer.from(JSON.stringify({ key, n: f.n, dim: f.dim, ...(runtime ? { runtime } : {}) } satisfies CacheHeader));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    fs.writeFileSync(tmp, Buffer.concat([MAGIC, len, header, new Uint8Array(f.data.buffer, f.data.byteOffset, f.data.byteLength)]));
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** Which runtime computed a feature matrix, and why not ONNX Runtime when it was tfjs. */
export interface ExtractionRuntime {
  runtime: 'onnxruntime' | 'tfjs';
  fallback: string | null;
}

export interface CachedFeatures {
  features: FeatureMatrix;
  cached: boolean;
  file: string;
  key: string;
  /** the runtime that computed them (on a cache hit: as the cache file records it; null for raw pixels or an older file) */
  runtime: ExtractionRuntime | null;
}

export interface ExtractOptions {
  encoder: EncoderSource;
  images: readonly DatasetImage[];
  datasetId: number;
  cacheDir: string;
  ctx?: JobContext | undefined;
  /** progress phase name, e.g. "features: train" */
  phase?: string;
  batchSize?: number;
  /** a tfjs compute backend; naming one other than 'auto' runs the encoder on tfjs (see openFrozenEncoder) */
  backend?: BackendPreference;
  /** 'auto' (default): ONNX Runtime when it can run the encoder, else tfjs; the others force one */
  runtime?: EncoderRuntime;
  /** ONNX Runtime intra-op threads; default all cores */
  threads?: number;
  /** told which runtime was chosen, before the first batch */
  onRuntime?: (r: ExtractionRuntime) => void;
}

/** The full cache key: encoder + dataset id + dataset content. */
export function featureKey(encoder: string, datasetId: number, images: readonly DatasetImage[]): string {
  return `${encoder}|dataset:${datasetId}|content:${datasetContentHash(images)}`;
}

/**
 * The encoder's features [n, dim] over `images`, from the cache when it holds them, else computed and stored.
 *
 * The key names the weights and the data, not the runtime: ONNX Runtime and tfjs features of the same encoder
 * agree to ~1e-6 on features of order 1 (test/main/evaluate/extract-runtime.test.ts checks it, bench/eval measures
 * it over 50,000 images), far below what moves a probe or a kNN vote, so a cache written by one serves the other.
 */
export async function extractFeatures(options: ExtractOptions): Promise<CachedFeatures> {
  const key = featureKey(encoderKey(options.encoder), options.datasetId, options.images);
  return cachedOrCompute(options.cacheDir, key, () => encodeImages(options));
}

/** Raw-pixel features (area-averaged to size × size), cached like an encoder's. */
export async function extractPixelFeatures(options: {
  images: readonly DatasetImage[];
  datasetId: number;
  cacheDir: string;
  size?: number;
  ctx?: JobContext | undefined;
  phase?: string;
}): Promise<CachedFeatures> {
  const size = options.size ?? DEFAULT_PIXEL_SIZE;
  const key = featureKey(`pixels:${size}`, options.datasetId, options.images);
  return cachedOrCompute(options.cacheDir, key, async () => {
    options.ctx?.setPhase(options.phase ?? 'pixel features', options.images.length);
    const features = await pixelFeaturesFromImages(
      options.images.map((i) => i.path),
      {
        size,
        onProgress: (done) => options.ctx?.progress(done),
        ...(options.ctx ? { signal: options.ctx.signal } : {}),
      },
    );
    return { features, runtime: null };
  });
}

async function cachedOrCompute(
  dir: string,
  key: string,
  compute: () => Promise<{ features: FeatureMatrix; runtime: ExtractionRuntime | null }>,
): Promise<CachedFeatures> {
  const file = featureCacheFile(dir, key);
  const hit = readFeatureCacheEntry(file, key);
  if (hit) return { features: hit.features, runtime: hit.runtime, cached: true, file, key };
  const { features, runtime } = await compute();
  writeFeatureCache(file, key, features, runtime);
  return { features, runtime, cached: false, file, key };
}

/** Activates a compute backend once per process; a later call reuses it. */
export async function ensureBackend(prefer: BackendPreference = 'auto'): Promise<string> {
  const current = currentBackend();
  if (current && (prefer === 'auto' || prefer === current.backend)) return current.backend;
  return (await initBackend({ prefer, skipTrainCheck: true })).backend;
}

/**
 * Decodes images by the resize rule to size × size RGB floats in [0, 1], NHWC (decode.ts; images already at the
 * size decode many to one sharp call there, with the same pixels).
 */
export { decodeForEncoder };

/**
 * Batched forward passes of the frozen encoder, on ONNX Runtime when it can run it, else tfjs (openFrozenEncoder
 * says which and why); the next batch decodes (on libvips threads) while this one runs. The rows are the pooled
 * backbone output, not normalised: the probe standardises and kNN normalises them itself.
 */
async function encodeImages(options: ExtractOptions): Promise<{ features: FeatureMatrix; runtime: ExtractionRuntime }> {
  const { encoder, images, ctx } = options;
  if (images.length === 0) throw invalid('cannot extract features of an empty dataset');
  const phase = options.phase ?? 'features';
  ctx?.setPhase(phase, images.length);
  const size = encoder.imageSize;
  const batchSize = Math.max(1, options.batchSize ?? 64);
  const frozen = await openFrozenEncoder(encoder, {
    label: encoderKey(encoder),
    ...(options.runtime ? { runtime: options.runtime } : {}),
    ...(options.backend ? { backend: options.backend } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  });
  const runtime: ExtractionRuntime = { runtime: frozen.runtime, fallback: frozen.fallback };
  options.onRuntime?.(runtime);
  // the job log says which runtime computes the features, and why not ONNX Runtime when it is tfjs
  ctx?.setPhase(`${phase} on ${describeRuntime(frozen)}`, images.length);
  try {
    const dim = frozen.dim;
    const data = new Float32Array(images.length * dim);
    const decode = (start: number) =>
      decodeForEncoder(
        images.slice(start, start + batchSize).map((i) => i.path),
        size,
        ctx?.signal,
      );
    let pending = decode(0);
    for (let start = 0; start < images.length; start += batchSize) {
      const x = await pending;
      ctx?.throwIfCancelled();
      const next = start + batchSize;
      if (next < images.length) {
        pending = decode(next);
        // a failed prefetch is reported when awaited, not as an unhandled rejection meanwhile
        pending.catch(() => undefined);
      }
      const count = x.length / (size * size * 3);
      data.set(await frozen.embed(x, count), start * dim);
      ctx?.progress(Math.min(images.length, start + count));
      // let progress events and cancel requests through between batches
      await new Promise((r) => setImmediate(r));
    }
    return { features: { data, n: images.length, dim }, runtime };
  } finally {
    await frozen.close();
  }
}
