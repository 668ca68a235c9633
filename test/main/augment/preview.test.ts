import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presetFor, type PipelineSpecInput } from '../../../shared/contract/augment.js';
import type { PreviewOutput } from '../../../shared/contract/pipelines.js';
import { augmentBatch } from '../../../main/augment/index.js';
import { PipelineStore } from '../../../main/augment/pipeline-store.js';
import { previewColumns, previewSampleImages, PreviewService, roundSeed } from '../../../main/augment/preview.js';
import { initBackend } from '../../../main/compute/index.js';
import { ImageCache } from '../../../main/train/runs/image-cache.js';
import { stepSeed } from '../../../main/train/runs/session.js';
import { previewFixture, type PreviewFixture } from './preview-fixtures.js';

let fx: PreviewFixture;
let service: PreviewService;

beforeAll(async () => {
  await initBackend({ prefer: 'wasm', skipTrainCheck: true });
  fx = await previewFixture(12);
  service = new PreviewService(fx.services.catalog, { pipelines: new PipelineStore(fx.services.catalog) });
}, 60_000);
afterAll(() => fx?.cleanup());

function rgba(img: { width: number; height: number; data: string }): Uint8Array {
  const bytes = new Uint8Array(Buffer.from(img.data, 'base64'));
  expect(bytes.length).toBe(img.width * img.height * 4);
  return bytes;
}

/**
 * What the training loop (session.ts) feeds a step: the ImageCache decode of the batch's images at the run's image
 * size, then augmentBatch(images, pipeline, seed), read back as 8-bit RGB, on the given backend.
 */
async function trainingViews(
  imagePaths: string[],
  size: number,
  spec: PipelineSpecInput,
  seed: number,
  backend: 'wasm' | 'cpu',
): Promise<{ size: number; bytes: Uint8Array }[]> {
  await initBackend({ prefer: backend, skipTrainCheck: true });
  try {
    const cache = await ImageCache.load(
      imagePaths.map((path) => ({ path, label: null })),
      size,
    );
    const x = cache.batch(imagePaths.map((_, i) => i));
    const views = tf.tidy(() => augmentBatch(tf.tensor4d(x, [imagePaths.length, size, size, 3]), spec, seed));
    const out = [];
    for (const v of views) {
      const data = (await v.data()) as Float32Array;
      out.push({ size: v.shape[1], bytes: Uint8Array.from(data, (f) => Math.round(Math.min(1, Math.max(0, f)) * 255)) });
    }
    tf.dispose(views);
    return out;
  } finally {
    await initBackend({ prefer: 'wasm', skipTrainCheck: true });
  }
}

/** Largest per-channel difference between the preview's RGBA view of image b and the training view's RGB bytes. */
function maxDiff(preview: Uint8Array, training: Uint8Array, b: number, size: number): number {
  let m = 0;
  const per = size * size;
  for (let p = 0; p < per; p++) {
    for (let c = 0; c < 3; c++) m = Math.max(m, Math.abs(preview[p * 4 + c]! - training[(b * per + p) * 3 + c]!));
  }
  return m;
}

describe('augment.preview: the training data path, seed for seed', () => {
  it.each([
    ['simclr', 32],
    ['byol', 40],
    ['dino', 32],
  ] as const)('%s at %i px: every preview view equals the training step view for that seed (wasm preview vs cpu training)', async (method, size) => {
    const seed = stepSeed(7, 3);
    const k = 5;
    const m = method === 'dino' ? 4 : 4;
    const out = await service.preview({ datasetId: fx.datasetId, pipeline: method, k, m, size, seed, format: 'raw' });
    expect(out.imageSize).toBe(size);
    expect(out.samples).toHaveLength(k);
    const spec = presetFor(method, size);
    const images = previewSampleImages(fx.services.catalog.datasetImages(fx.datasetId), fx.datasetId).slice(0, k);
    expect(out.samples.map((s) => s.imageId)).toEqual(images.map((i) => i.id));
    const rounds = new Map<number, { size: number; bytes: Uint8Array }[]>();
    for (const col of out.views) {
      // round 0 is the training step's own seed; later rounds are the preview's extra draws
      const roundSeedUsed = col.round === 0 ? seed : roundSeed(seed, col.round);
      if (!rounds.has(col.round)) rounds.set(col.round, await trainingViews(images.map((i) => i.path), size, spec, roundSeedUsed, 'cpu'));
    }
    let worst = 0;
    out.views.forEach((col, c) => {
      const training = rounds.get(col.round)![col.view]!;
      expect(col.size).toBe(training.size);
      for (let b = 0; b < k; b++) worst = Math.max(worst, maxDiff(rgba(out.samples[b]!.views[c]!), training.bytes, b, col.size));
    });
    // one 8-bit step for wasm-vs-cpu float rounding; a wrong seed, crop or decode differs by far more
    expect(worst).toBeLessThanOrEqual(1);
  }, 60_000);

  it('on a worker thread (the server) gives the same pixels, and runs no tensor kernel on the calling thread', async () => {
    const threaded = new PreviewService(fx.services.catalog, { thread: 'worker', backend: 'wasm' });
    try {
      for (const method of ['byol', 'dino'] as const) {
        const request = { datasetId: fx.datasetId, pipeline: method, k: 4, m: 4, size: 32, seed: 77, format: 'raw' } as const;
        const here = await service.preview(request);
        let there: PreviewOutput | undefined;
        const profile = await tf.profile(async () => {
          there = await threaded.preview(request);
        });
        expect(profile.kernels, 'kernels run on the calling thread').toHaveLength(0);
        expect(there!.backend).toBe('wasm');
        expect(there!.views).toEqual(here.views);
        expect(there!.samples.map((x) => x.views.map((v) => v.data))).toEqual(here.samples.map((x) => x.views.map((v) => v.data)));
      }
    } finally {
      await threaded.close();
    }
    await expect(threaded.preview({ datasetId: fx.datasetId, pipeline: 'simclr', k: 1, m: 1, size: 32, seed: 0 })).resolves.toBeTruthy();
    await threaded.close();
  }, 60_000);

  it('a different seed gives different views; the same seed the same ones', async () => {
    const a = await service.preview({ datasetId: fx.datasetId, pipeline: 'simclr', k: 4, m: 2, size: 32, seed: 1, format: 'raw' });
    const b = await service.preview({ datasetId: fx.datasetId, pipeline: 'simclr', k: 4, m: 2, size: 32, seed: 1, format: 'raw' });
    const c = await service.preview({ datasetId: fx.datasetId, pipeline: 'simclr', k: 4, m: 2, size: 32, seed: 2, format: 'raw' });
    const flat = (o: PreviewOutput) => o.samples.flatMap((s) => s.views.map((v) => v.data)).join('|');
    expect(flat(b)).toBe(flat(a));
    expect(flat(c)).not.toBe(flat(a));
    expect(b.timings.cached).toBe(true);
  });

  it('raising colour-jitter strength changes the pixels of the jittered views', async () => {
    const base = presetFor('simclr', 32);
    const stronger = { ...base, ops: base.ops.map((o) => (o.op === 'color_jitter' ? { ...o, strength: 2 } : o)) };
    const a = await service.preview({ datasetId: fx.datasetId, pipeline: base as never, k: 4, m: 2, size: 32, seed: 5, format: 'raw' });
    const b = await service.preview({ datasetId: fx.datasetId, pipeline: stronger as never, k: 4, m: 2, size: 32, seed: 5, format: 'raw' });
    const all = (o: PreviewOutput) => o.samples.flatMap((s) => s.views.map((v) => v.data));
    const changed = all(b).filter((v, i) => v !== all(a)[i]).length;
    // p = 0.8 per view: most of the 8 views are jittered, and those change
    expect(changed).toBeGreaterThanOrEqual(4);
  });

  it('shows DINO globals and locals apart, at the dataset-derived sizes, and repeats rounds when M exceeds the views', async () => {
    const dino = await service.preview({ datasetId: fx.datasetId, pipeline: 'dino', k: 2, m: 4, size: 32, seed: 3 });
    expect(dino.views.map((v) => [v.kind, v.size])).toEqual([
      ['global', 32],
      ['global', 32],
      ['local', 16],
      ['local', 16],
    ]);
    expect(dino.samples[0]!.views[2]!.data.startsWith('data:image/png;base64,')).toBe(true);
    const simclr = await service.preview({ datasetId: fx.datasetId, pipeline: 'simclr', k: 2, m: 5, size: 32, seed: 3 });
    expect(simclr.views.map((v) => [v.round, v.view])).toEqual([
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
      [2, 0],
    ]);
    expect(previewColumns(['global', 'global', 'local', 'local', 'local'], 2)).toEqual([
      { round: 0, view: 0 },
      { round: 0, view: 2 },
    ]);
  });

  it('defaults the size to the dataset\'s typical image size, as a run does (90 px shorter side)', async () => {
    const out = await service.preview({ datasetId: fx.datasetId, pipeline: 'simclr', k: 1, m: 1, seed: 0 });
    expect(out.imageSize).toBe(90);
    expect(out.views[0]!.size).toBe(90);
  });

  it('leaves no tensors behind', async () => {
    await service.preview({ datasetId: fx.datasetId, pipeline: 'dino', k: 3, m: 4, size: 32, seed: 9 });
    const before = tf.memory().numTensors;
    for (let s = 0; s < 3; s++) await service.preview({ datasetId: fx.datasetId, pipeline: 'dino', k: 3, m: 4, size: 32, seed: s });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses an empty dataset, an unknown pipeline and a bad spec with the field named', async () => {
    await expect(service.preview({ datasetId: fx.emptyId, pipeline: 'simclr', seed: 0 })).rejects.toThrow(/datasetId: dataset "empty" has no usable images/);
    await expect(service.preview({ datasetId: fx.datasetId, pipeline: 'nope', seed: 0, size: 32 })).rejects.toThrow(/pipeline: "nope" is neither a preset/);
    const bad = { ops: [{ op: 'random_resized_crop', size: 32 }, { op: 'horizontal_flip', p: 1.5 }] };
    await expect(service.preview({ datasetId: fx.datasetId, pipeline: bad, seed: 0, size: 32 })).rejects.toThrow(/ops\[1\]\.p: must be ≤ 1/);
    await expect(service.preview({ datasetId: fx.datasetId, pipeline: { ops: [{ op: 'sharpen' }] }, seed: 0, size: 32 })).rejects.toThrow(/ops\[0\]\.op/);
    await expect(service.preview({ datasetId: fx.datasetId, pipeline: 'simclr', seed: 0, k: 0 })).rejects.toThrow(/^k: must be ≥ 1$/);
  });

  it('previews a saved pipeline by name', async () => {
    const store = new PipelineStore(fx.services.catalog);
    store.create('mine', presetFor('mocov2', 32), 'mocov2');
    const out = await service.preview({ datasetId: fx.datasetId, pipeline: 'mine', k: 1, m: 2, size: 32, seed: 0 });
    expect(out.method).toBe('mocov2');
    expect(out.spec).toEqual(store.get('mine').spec);
  });
});
