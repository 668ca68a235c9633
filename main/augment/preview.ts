import sharp from 'sharp';
import {
  issuePath,
  parsePipelineSpec,
  PipelineSpecError,
  presetFor,
  PRESET_METHODS,
  type PipelineSpec,
  type PresetMethod,
} from '../../shared/contract/augment.js';
import { methodFromName } from '../../shared/contract/pipeline-checks.js';
import {
  PREVIEW_MAX_K,
  PreviewInput,
  type PipelineRef,
  type PreviewImage,
  type PreviewOutput,
  type PreviewView,
} from '../../shared/contract/pipelines.js';
import type { Catalog, DatasetImage } from '../catalog/catalog.js';
import { invalid } from '../common/errors.js';
import { mulberry32, shuffleInPlace } from '../common/random.js';
import { currentBackend, initBackend, type BackendPreference } from '../compute/index.js';
import { ImageCache } from '../train/runs/image-cache.js';
import { typicalImageSize } from '../train/runs/runner.js';
import type { PipelineStore } from './pipeline-store.js';
import { rgbToRgba, toBytes } from './bytes.js';
import { describeViews } from './ops.js';
import { augmentRounds } from './preview-rounds.js';
import { PreviewThread, type AugmentRound } from './preview-thread.js';

/**
 * The designer's live preview, made by the training data path itself: the samples are decoded by the training
 * ImageCache (sharp, cover-resize to the run's image size) and augmented by augmentBatch with the request's seed,
 * so the preview for seed s shows the pixels a training step with augmentation seed s produces for those images.
 *
 * What is slow is done once: the backend is initialised on the first call, and each dataset's samples are decoded
 * (and their source tiles encoded) once per image size, a few entries kept, and reused across edits.
 *
 * With `thread: 'worker'` (the server) the augmentation runs on a worker thread with its own backend
 * (preview-worker.ts), so the main thread keeps serving requests while a preview computes; decoding and PNG
 * encoding are sharp's, which runs on libuv's threads either way.
 */

interface SampleSet {
  key: string;
  images: DatasetImage[];
  cache: ImageCache;
  /** the encoded source tiles, by format and sample index: they do not change between edits */
  sources: Map<PreviewInput['format'], Promise<PreviewImage>[]>;
}

const KEEP_SAMPLE_SETS = 6;

/** The sample images of a dataset: a fixed seeded draw, so edits and resamples keep showing the same pictures. */
export function previewSampleImages(images: readonly DatasetImage[], datasetId: number, count = PREVIEW_MAX_K): DatasetImage[] {
  const order = shuffleInPlace(
    images.map((_, i) => i),
    mulberry32((0x5eed ^ datasetId) >>> 0),
  );
  return order.slice(0, count).map((i) => images[i]!);
}

/** The augmentBatch seed of a preview's `round`: round 0 is the request's seed, later rounds are fresh draws. */
export function roundSeed(seed: number, round: number): number {
  if (round === 0) return seed;
  return (Math.imul((seed ^ 0x85ebca6b) >>> 0, 0x9e3779b1) + Math.imul(round, 0xc2b2ae35)) >>> 1;
}

/**
 * Which (round, view) fills each of m columns. A spec with fewer views than m is run again with the next round's
 * seed. A multi-crop spec showing fewer columns than it has views shows both kinds: its globals, then locals.
 */
export function previewColumns(kinds: readonly PreviewView['kind'][], m: number): { round: number; view: number }[] {
  const total = kinds.length;
  if (m >= total || !kinds.includes('local') || m < 2) {
    return Array.from({ length: m }, (_, c) => ({ round: Math.floor(c / total), view: c % total }));
  }
  const globals = kinds.map((k, i) => (k === 'global' ? i : -1)).filter((i) => i >= 0);
  const locals = kinds.map((k, i) => (k === 'local' ? i : -1)).filter((i) => i >= 0);
  const showLocals = Math.min(locals.length, Math.max(1, Math.floor(m / 2)));
  const showGlobals = Math.min(globals.length, m - showLocals);
  const views = [...globals.slice(0, showGlobals), ...locals.slice(0, m - showGlobals)];
  return views.map((view) => ({ round: 0, view }));
}

export class PreviewService {
  private readonly sets: SampleSet[] = [];
  private readonly defaultSizes = new Map<string, number>();
  private backend: Promise<string> | null = null;
  private readonly thread: PreviewThread | null;

  constructor(
    private readonly catalog: Catalog,
    private readonly options: { backend?: BackendPreference; pipelines?: PipelineStore; thread?: 'main' | 'worker' } = {},
  ) {
    this.thread = options.thread === 'worker' ? new PreviewThread(options.backend ?? 'auto') : null;
    // the server makes this service when the designer opens (its preset request), so the worker's start-up and
    // backend load overlap with the user looking at the page rather than delaying the first preview
    this.thread?.start();
  }

  /** Stops the worker thread, if there is one. */
  close(): Promise<void> {
    return this.thread?.close() ?? Promise.resolve();
  }

  /** The spec a preview ref names at a given image size, and the method it is meant for. */
  resolvePipeline(ref: PipelineRef, imageSize: number): { spec: PipelineSpec; method: PresetMethod | null } {
    if (typeof ref === 'string') {
      if ((PRESET_METHODS as readonly string[]).includes(ref)) {
        return { spec: presetFor(ref as PresetMethod, imageSize), method: ref as PresetMethod };
      }
      const saved = this.options.pipelines?.find(ref);
      if (!saved) {
        throw invalid(`pipeline: "${ref}" is neither a preset (${PRESET_METHODS.join(', ')}) nor a saved pipeline`, [`pipeline: unknown "${ref}"`]);
      }
      return { spec: parsePipelineSpec(saved.spec), method: saved.method };
    }
    try {
      const spec = parsePipelineSpec(ref);
      return { spec, method: methodFromName(spec.name) };
    } catch (err) {
      if (err instanceof PipelineSpecError) throw invalid(err.message, err.issues);
      throw err;
    }
  }

  /** The image size a run on this dataset would use by default. */
  datasetImageSize(datasetId: number): number {
    const images = this.catalog.datasetImages(datasetId);
    return typicalImageSize(images);
  }

  async preview(request: PreviewInput): Promise<PreviewOutput> {
    const t0 = performance.now();
    const parsed = PreviewInput.safeParse(request);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${issuePath(i.path)}: ${i.message}`);
      throw invalid(issues.join('; '), issues);
    }
    const input = parsed.data;
    // the worker loads its backend while the samples decode
    this.thread?.start();
    if (!this.thread) await this.ensureBackend();
    const { set, imageSize, cached } = await this.samples(input.datasetId, input.size);
    const { spec, method } = this.resolvePipeline(input.pipeline, imageSize);
    const k = Math.min(input.k, set.images.length);
    const t1 = performance.now();

    const described = describeViews(spec, imageSize);
    const columns = previewColumns(
      described.map((d) => d.kind),
      input.m,
    );
    const rounds = Math.max(...columns.map((c) => c.round)) + 1;
    const indices = Array.from({ length: k }, (_, i) => i);
    const pixels = set.cache.batch(indices);
    // only the views the columns show (each view has its own random streams, so the others need not exist)
    const wanted: AugmentRound[] = Array.from({ length: rounds }, (_, round) => ({
      seed: roundSeed(input.seed, round),
      views: [...new Set(columns.filter((c) => c.round === round).map((c) => c.view))],
    }));
    const { rounds: computed, backend } = this.thread
      ? await this.thread.augment(pixels, [k, imageSize, imageSize, 3], spec, wanted)
      : await this.augmentHere(pixels, [k, imageSize, imageSize, 3], spec, wanted);
    const viewPixels = (round: number, view: number) => computed[round]![wanted[round]!.views.indexOf(view)]!;
    const t2 = performance.now();

    const encode = (rgb: Uint8Array, offset: number, size: number) => encodeImage(rgb, offset, size, input.format);
    const per = imageSize * imageSize * 3;
    let sources = set.sources.get(input.format);
    if (!sources) set.sources.set(input.format, (sources = []));
    const samples = await Promise.all(
      indices.map(async (b) => ({
        imageId: set.images[b]!.id,
        label: set.images[b]!.label,
        source: await (sources[b] ??= encode(toBytes(pixels, b * per, per, 3), 0, imageSize)),
        views: await Promise.all(
          columns.map(({ round, view }) => {
            const size = described[view]!.size;
            return encode(viewPixels(round, view), b * size * size * 3, size);
          }),
        ),
      })),
    );
    const t3 = performance.now();
    return {
      datasetId: input.datasetId,
      imageSize,
      seed: input.seed,
      spec: spec as unknown as Record<string, unknown>,
      method,
      views: columns.map(({ round, view }) => ({ view, round, seed: roundSeed(input.seed, round), kind: described[view]!.kind, size: described[view]!.size })),
      samples,
      timings: { decodeMs: t1 - t0, augmentMs: t2 - t1, encodeMs: t3 - t2, totalMs: t3 - t0, cached },
      backend,
    };
  }

  /** augmentBatch on this thread, one call per round. */
  private async augmentHere(pixels: Float32Array, shape: [number, number, number, 3], spec: PipelineSpec, wanted: AugmentRound[]): Promise<{ rounds: Uint8Array[][]; backend: string }> {
    const backend = await this.ensureBackend();
    return { rounds: await augmentRounds(pixels, shape, spec, wanted), backend };
  }

  private ensureBackend(): Promise<string> {
    const active = currentBackend();
    if (active) return Promise.resolve(active.backend);
    this.backend ??= initBackend({ prefer: this.options.backend ?? 'auto' }).then(
      (b) => b.backend,
      (err) => {
        this.backend = null;
        throw err;
      },
    );
    return this.backend;
  }

  /** The dataset's decoded samples at `size` (the run default when absent), decoded once and kept. */
  private async samples(datasetId: number, size: number | undefined): Promise<{ set: SampleSet; imageSize: number; cached: boolean }> {
    const dataset = this.catalog.getDataset(datasetId);
    if (dataset.okCount === 0) {
      throw invalid(`datasetId: dataset "${dataset.name}" has no usable images to preview`, ['datasetId: the dataset is empty']);
    }
    // A dataset that gains or loses images (an import, a re-created name) gets a new key.
    const prefix = `${datasetId}:${dataset.okCount}:${dataset.createdAt}`;
    let images: DatasetImage[] | null = null;
    let imageSize = size ?? this.defaultSizes.get(prefix);
    if (imageSize === undefined) {
      images = this.catalog.datasetImages(datasetId);
      imageSize = typicalImageSize(images);
      this.defaultSizes.set(prefix, imageSize);
    }
    const key = `${prefix}:${imageSize}`;
    const hit = this.sets.find((s) => s.key === key);
    if (hit) {
      this.sets.splice(this.sets.indexOf(hit), 1);
      this.sets.unshift(hit);
      return { set: hit, imageSize, cached: true };
    }
    images ??= this.catalog.datasetImages(datasetId);
    const chosen = previewSampleImages(images, datasetId);
    const cache = await ImageCache.load(
      chosen.map((i) => ({ path: i.path, label: i.label })),
      imageSize,
    );
    const set: SampleSet = { key, images: chosen, cache, sources: new Map() };
    this.sets.unshift(set);
    if (this.sets.length > KEEP_SAMPLE_SETS) this.sets.length = KEEP_SAMPLE_SETS;
    return { set, imageSize, cached: false };
  }
}

export { toBytes } from './bytes.js';

/** One size×size tile of 8-bit RGB at `offset`, as the request's format: a PNG data URL, or raw RGBA in base64. */
async function encodeImage(rgb: Uint8Array, offset: number, size: number, format: 'png' | 'raw'): Promise<PreviewImage> {
  if (format === 'raw') {
    return { width: size, height: size, data: Buffer.from(rgbToRgba(rgb, offset, size * size)).toString('base64') };
  }
  const tile = Buffer.from(rgb.buffer, rgb.byteOffset + offset, size * size * 3);
  const png = await sharp(tile, { raw: { width: size, height: size, channels: 3 } })
    .png({ compressionLevel: 2 })
    .toBuffer();
  return { width: size, height: size, data: `data:image/png;base64,${png.toString('base64')}` };
}
