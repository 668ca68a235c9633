import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import type { Catalog } from '../../../main/catalog/catalog.js';
import { attentionMaps, colourMap, minMaxScale, upsampleBilinear } from '../../../main/evaluate/attention.js';
import { RunStore } from '../../../main/train/runs/run-store.js';
import { makeTempDir, removeDir } from '../ingest/fixtures.js';
import { fakeRun, tintedCatalog } from './report-fixtures.js';

let dir: string;
let catalog: Catalog;

beforeAll(async () => {
  dir = makeTempDir('attention');
  catalog = await tintedCatalog(dir, 4);
});
afterAll(() => {
  catalog?.close();
  removeDir(dir);
});

async function pngSize(dataUrl: string): Promise<{ width: number; height: number }> {
  expect(dataUrl.startsWith('data:image/png;base64,')).toBe(true);
  const meta = await sharp(Buffer.from(dataUrl.slice('data:image/png;base64,'.length), 'base64')).metadata();
  return { width: meta.width!, height: meta.height! };
}

describe('DINO attention maps', () => {
  it('gives one PNG per head per image, at the image size, for a ViT run', async () => {
    const runId = await fakeRun(catalog, dir, 'vit-tiny', 16, 3, 4);
    const datasetId = catalog.datasetIdByName('tinted');
    const r = await attentionMaps(catalog, new RunStore(catalog), runId, datasetId, 2);
    expect(r.heads).toBe(3); // vit-tiny: 3 heads
    expect(r.images).toHaveLength(2);
    const ids = new Set(catalog.datasetImages(datasetId).map((i) => i.id));
    for (const img of r.images) {
      expect(ids.has(img.imageId)).toBe(true);
      expect(await pngSize(img.image)).toEqual({ width: 16, height: 16 });
      expect(img.maps).toHaveLength(3);
      for (const m of img.maps) expect(await pngSize(m)).toEqual({ width: 16, height: 16 });
    }
  });

  it('refuses a run whose backbone is not a ViT', async () => {
    const runId = await fakeRun(catalog, dir, 'small', 16, 1);
    await expect(attentionMaps(catalog, new RunStore(catalog), runId, catalog.datasetIdByName('tinted'), 1)).rejects.toThrow(
      /trained a small backbone; attention maps need a ViT/,
    );
  });

  it('bilinear upsampling keeps a constant map constant and matches the grid at cell centres', () => {
    expect(Array.from(upsampleBilinear([2, 2, 2, 2], 2, 5))).toEqual(new Array(25).fill(2));
    // 2×2 → 4×4: pixel centres 0.5 and 2.5 map onto source 0 and 1 at align_corners = false, edges clamp
    const up = upsampleBilinear([0, 1, 2, 3], 2, 4);
    expect(up[0]).toBeCloseTo(0);
    expect(up[3]).toBeCloseTo(1);
    expect(up[12]).toBeCloseTo(2);
    expect(up[15]).toBeCloseTo(3);
    expect(up[1]).toBeCloseTo(0.25);
  });

  it('the colour map runs from the dark stop to the light stop', () => {
    const c = colourMap(minMaxScale(Float32Array.from([5, 10])));
    expect(Array.from(c.subarray(0, 3))).toEqual([0, 0, 4]);
    expect(Array.from(c.subarray(3, 6))).toEqual([252, 255, 164]);
  });
});
