import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../../main/catalog/catalog.js';
import {
  buildBackbone,
  datasetContentHash,
  decodeForEncoder,
  encoderKey,
  extractFeatures,
  extractPixelFeatures,
  featureCacheFile,
  featureKey,
  randomEncoder,
  runEncoder,
} from '../../../main/evaluate/extract.js';
import { RunStore } from '../../../main/train/runs/run-store.js';
import { makeTempDir, removeDir, testJobContext } from '../ingest/fixtures.js';
import { fakeRun, tintedCatalog } from './report-fixtures.js';

let dir: string;
let catalog: Catalog;

beforeAll(async () => {
  dir = makeTempDir('extract');
  catalog = await tintedCatalog(dir, 8);
});
afterAll(() => {
  catalog?.close();
  removeDir(dir);
});

describe('feature extraction', () => {
  it('computes on a miss, reads the cache on a hit, and the two agree bit for bit', async () => {
    const datasetId = catalog.datasetIdByName('train');
    const images = catalog.datasetImages(datasetId);
    const cacheDir = path.join(dir, 'features');
    const encoder = randomEncoder('small', 16, 3);
    const phases: string[] = [];
    const ctx = testJobContext();
    const progress: number[] = [];
    const first = await extractFeatures({ encoder, images, datasetId, cacheDir, ctx: { ...ctx, setPhase: (p) => phases.push(p), progress: (d) => progress.push(d) }, batchSize: 5 });
    expect(first.cached).toBe(false);
    expect(first.features.n).toBe(images.length);
    expect(first.features.dim).toBe(192);
    expect(fs.existsSync(first.file)).toBe(true);
    expect(path.dirname(first.file)).toBe(cacheDir);
    expect(progress.at(-1)).toBe(images.length);
    expect(progress.length).toBe(Math.ceil(images.length / 5));

    const second = await extractFeatures({ encoder, images, datasetId, cacheDir });
    expect(second.cached).toBe(true);
    expect(second.file).toBe(first.file);
    expect(Buffer.from(second.features.data.buffer).equals(Buffer.from(first.features.data.buffer))).toBe(true);

    // Another seed, another dataset, or changed content is another key: a miss, never a stale hit.
    const otherSeed = await extractFeatures({ encoder: randomEncoder('small', 16, 4), images, datasetId, cacheDir });
    expect(otherSeed.cached).toBe(false);
    expect(otherSeed.file).not.toBe(first.file);
    const changed = images.map((img, i) => (i === 0 ? { ...img, sha256: 'f'.repeat(64) } : img));
    expect(datasetContentHash(changed)).not.toBe(datasetContentHash(images));
    expect(featureCacheFile(cacheDir, featureKey(encoderKey(encoder), datasetId, changed))).not.toBe(first.file);
  });

  it('a damaged cache file is recomputed, not trusted', async () => {
    const datasetId = catalog.datasetIdByName('test');
    const images = catalog.datasetImages(datasetId);
    const cacheDir = path.join(dir, 'features-damaged');
    const encoder = randomEncoder('small', 16, 0);
    const first = await extractFeatures({ encoder, images, datasetId, cacheDir });
    fs.writeFileSync(first.file, fs.readFileSync(first.file).subarray(0, 100));
    const again = await extractFeatures({ encoder, images, datasetId, cacheDir });
    expect(again.cached).toBe(false);
    expect(Array.from(again.features.data)).toEqual(Array.from(first.features.data));
  });

  it('features equal a direct forward pass of the encoder on the resized images', async () => {
    const datasetId = catalog.datasetIdByName('test');
    const images = catalog.datasetImages(datasetId).slice(0, 4);
    const encoder = randomEncoder('small', 12, 1);
    const got = await extractFeatures({ encoder, images, datasetId, cacheDir: path.join(dir, 'features-direct'), batchSize: 3 });
    const model = buildBackbone(encoder);
    const x = await decodeForEncoder(images.map((i) => i.path), 12);
    const want = tf.tidy(() => model.forward(tf.tensor4d(x, [4, 12, 12, 3]), { training: false }).dataSync() as Float32Array);
    model.dispose();
    expect(got.features.data.length).toBe(want.length);
    for (let i = 0; i < want.length; i++) expect(got.features.data[i]).toBeCloseTo(want[i]!, 4);
  });

  it("loads a run's backbone from its checkpoint (heads ignored) and keys the cache by run and step", async () => {
    const runId = await fakeRun(catalog, dir, 'small', 16, 7);
    const e = runEncoder(new RunStore(catalog), runId);
    expect(e).toMatchObject({ kind: 'run', runId, step: 40, epoch: 2, backbone: 'small', imageSize: 16, method: 'simclr' });
    expect(Object.keys(e.state).some((k) => k.startsWith('projector'))).toBe(false);
    expect(encoderKey(e)).toBe(`run:${runId}:40`);
    const datasetId = catalog.datasetIdByName('test');
    const images = catalog.datasetImages(datasetId);
    const fromRun = await extractFeatures({ encoder: e, images, datasetId, cacheDir: path.join(dir, 'features-run') });
    // the checkpoint holds a seed-7 init, so it matches random:small:16:7 and differs from seed 0
    const seven = await extractFeatures({ encoder: randomEncoder('small', 16, 7), images, datasetId, cacheDir: path.join(dir, 'features-run') });
    const zero = await extractFeatures({ encoder: randomEncoder('small', 16, 0), images, datasetId, cacheDir: path.join(dir, 'features-run') });
    expect(Array.from(fromRun.features.data)).toEqual(Array.from(seven.features.data));
    expect(Array.from(fromRun.features.data)).not.toEqual(Array.from(zero.features.data));
  });

  it('a run without a checkpoint is refused with the reason', () => {
    const store = new RunStore(catalog);
    const runId = store.create('empty', catalog.datasetIdByName('tinted'), { dataset: 'tinted' } as never);
    expect(() => runEncoder(store, runId)).toThrow(new RegExp(`run ${runId} has no checkpoint yet`));
  });

  it('a ViT random init rounds the image size down to a multiple of its patch', () => {
    expect(randomEncoder('vit-tiny', 30, 0)).toMatchObject({ imageSize: 28, patchSize: 4 });
    expect(randomEncoder('small', 30, 0)).toMatchObject({ imageSize: 30, patchSize: null });
    expect(() => randomEncoder('nope', 30, 0)).toThrow(/unknown backbone/);
  });

  it('cancel stops extraction between batches', async () => {
    const datasetId = catalog.datasetIdByName('train');
    const images = catalog.datasetImages(datasetId);
    const ctx = testJobContext();
    let batches = 0;
    const promise = extractFeatures({
      encoder: randomEncoder('small', 16, 11),
      images,
      datasetId,
      cacheDir: path.join(dir, 'features-cancel'),
      batchSize: 2,
      ctx: { ...ctx, progress: () => (++batches === 2 ? ctx.cancel() : undefined) },
    });
    await expect(promise).rejects.toThrow(/cancel/i);
    expect(batches).toBe(2);
    expect(fs.existsSync(path.join(dir, 'features-cancel'))).toBe(false);
  });

  it('pixel features are cached too', async () => {
    const datasetId = catalog.datasetIdByName('test');
    const images = catalog.datasetImages(datasetId);
    const cacheDir = path.join(dir, 'features-pixels');
    const a = await extractPixelFeatures({ images, datasetId, cacheDir, size: 4 });
    const b = await extractPixelFeatures({ images, datasetId, cacheDir, size: 4 });
    expect([a.cached, b.cached]).toEqual([false, true]);
    expect(a.features.dim).toBe(48);
  });
});
