import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetImage } from '../../../main/catalog/catalog.js';
import { currentBackend } from '../../../main/compute/index.js';
import { ensureBackend, type ExtractionRuntime, extractFeatures, randomEncoder } from '../../../main/evaluate/extract.js';
import { makeTempDir, removeDir, testJobContext } from '../ingest/fixtures.js';
import { CIFAR_ARCHIVE, CIFAR_SKIP_REASON, haveCifar } from './cifar-fixture.js';

// Evaluation's feature extraction on ONNX Runtime (its default for the ResNets and the small CNN) against tfjs,
// on real CIFAR-10 JPEGs: the feature cache shares one key between the runtimes, which is only right if they agree.

let dir: string;
let images: DatasetImage[] = [];

beforeAll(() => {
  if (!haveCifar) return;
  dir = makeTempDir('extract-runtime');
  // two images of each of the ten classes; tar reads the 16 MB archive once
  execFileSync('tar', ['xzf', CIFAR_ARCHIVE, '-C', dir, '--wildcards', 'train/*/000[0-1].jpg']);
  const root = path.join(dir, 'train');
  for (const c of fs.readdirSync(root).sort()) {
    for (const f of fs.readdirSync(path.join(root, c)).sort()) {
      images.push({ id: images.length + 1, path: path.join(root, c, f), label: c, sha256: null, phash: null, width: 32, height: 32, bytes: null });
    }
  }
});
afterAll(() => {
  if (dir) removeDir(dir);
});

function compare(a: Float32Array, b: Float32Array): { maxAbs: number; scale: number } {
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(a[i]!));
  }
  return { maxAbs, scale };
}

describe.skipIf(!haveCifar)('feature extraction runtimes', () => {
  it.each([
    ['small', 192],
    ['resnet18', 512],
  ])('%s: ONNX Runtime (the default) and tfjs give the same pooled, unnormalised features', async (backbone, dim) => {
    expect(images.length).toBe(20);
    const encoder = randomEncoder(backbone, 32, 5);
    const seen: ExtractionRuntime[] = [];
    const common = { encoder, images, datasetId: 1, batchSize: 8, onRuntime: (r: ExtractionRuntime) => seen.push(r) };
    const ort = await extractFeatures({ ...common, cacheDir: path.join(dir, `ort-${backbone}`) });
    const tfjs = await extractFeatures({ ...common, cacheDir: path.join(dir, `tfjs-${backbone}`), runtime: 'tfjs' });
    expect(seen).toEqual([
      { runtime: 'onnxruntime', fallback: null },
      { runtime: 'tfjs', fallback: 'tfjs was asked for' },
    ]);
    expect(ort.runtime).toEqual(seen[0]);
    expect([ort.features.n, ort.features.dim, tfjs.features.dim]).toEqual([20, dim, dim]);
    const { maxAbs, scale } = compare(ort.features.data, tfjs.features.data);
    // measured 0.5e-6 (small) and 1.0e-6 (ResNet-18) on features up to ~2; 1e-5 leaves room for thread order
    expect(maxAbs).toBeLessThan(1e-5);
    expect(scale).toBeGreaterThan(0.1);
    // not L2-normalised (curation normalises its rows; evaluation keeps the backbone output)
    const norms = Array.from({ length: 20 }, (_, i) => Math.hypot(...ort.features.data.subarray(i * dim, (i + 1) * dim)));
    expect(norms.some((n) => Math.abs(n - 1) > 1e-2)).toBe(true);
    // different images give different rows, so the agreement is not between constants
    expect(compare(ort.features.data.subarray(0, dim), ort.features.data.subarray(dim * 19, dim * 20)).maxAbs).toBeGreaterThan(1e-3);

    // the cache records the runtime; a hit serves it back whatever runtime is asked for (one key for both)
    const again = await extractFeatures({ ...common, cacheDir: path.join(dir, `ort-${backbone}`), runtime: 'tfjs' });
    expect(again.cached).toBe(true);
    expect(again.runtime).toEqual({ runtime: 'onnxruntime', fallback: null });
    expect(again.key).toBe(tfjs.key);
  }, 60_000);

  it('naming a tfjs compute backend runs on tfjs, saying why', async () => {
    await ensureBackend();
    const backend = currentBackend()!.backend;
    const r = await extractFeatures({ encoder: randomEncoder('small', 32, 5), images: images.slice(0, 4), datasetId: 1, cacheDir: path.join(dir, 'backend'), backend });
    expect(r.runtime).toEqual({ runtime: 'tfjs', fallback: `the tfjs ${backend} backend was asked for` });
  }, 30_000);

  it.each(['auto', 'tfjs'] as const)('cancel stops extraction between batches (runtime %s)', async (runtime) => {
    const ctx = testJobContext();
    let batches = 0;
    let ran: ExtractionRuntime | null = null;
    const cacheDir = path.join(dir, `cancel-${runtime}`);
    const promise = extractFeatures({
      encoder: randomEncoder('small', 32, 2),
      images,
      datasetId: 1,
      cacheDir,
      batchSize: 4,
      runtime,
      onRuntime: (r) => (ran = r),
      ctx: { ...ctx, progress: () => (++batches === 2 ? ctx.cancel() : undefined) },
    });
    await expect(promise).rejects.toThrow(/cancel/i);
    expect(batches).toBe(2);
    expect(ran).toMatchObject({ runtime: runtime === 'auto' ? 'onnxruntime' : 'tfjs' });
    expect(ctx.phases.at(-1)).toMatch(runtime === 'auto' ? / on ONNX Runtime$/ : / on tfjs \(not ONNX Runtime: tfjs was asked for\)$/);
    // nothing half-done is cached
    expect(fs.existsSync(cacheDir)).toBe(false);
  }, 30_000);
});

describe.skipIf(haveCifar)('feature extraction runtimes', () => {
  it.skip(CIFAR_SKIP_REASON, () => undefined);
});
