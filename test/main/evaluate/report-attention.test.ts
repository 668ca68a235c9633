import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import type { Catalog } from '../../../main/catalog/catalog.js';
import { attentionMaps, clsAttention, colourMap, minMaxScale, upsampleBilinear } from '../../../main/evaluate/attention.js';
import { buildBackbone, decodeForEncoder, runEncoder } from '../../../main/evaluate/extract.js';
import { VisionTransformer } from '../../../main/train/models/index.js';
import type { ModuleState } from '../../../main/train/nn/module.js';
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

  it("a ViT-Tiny checkpoint's per-head CLS attention has shape [n, heads, grid²] and equals a naive softmax(q·kᵀ/√d) of its last block", async () => {
    // Not mocked: a real vit-tiny (12 blocks, dim 192, 3 heads) checkpoint, read by the report's own path
    // (runEncoder → buildBackbone → decodeForEncoder → clsAttention, as attentionMaps does).
    const runId = await fakeRun(catalog, dir, 'vit-tiny', 16, 11, 4);
    const encoder = runEncoder(new RunStore(catalog), runId);
    const backbone = buildBackbone(encoder);
    try {
      expect(backbone).toBeInstanceOf(VisionTransformer);
      const vit = backbone as VisionTransformer;
      const images = catalog.datasetImages(catalog.datasetIdByName('tinted')).slice(0, 2);
      const n = images.length;
      const x = await decodeForEncoder(images.map((i) => i.path), 16);
      const att = await clsAttention(vit, x, n, 16);
      const heads = 3;
      const T = 17; // [CLS] + 4 × 4 patches
      expect({ heads: att.heads, patches: att.patches, grid: att.grid }).toEqual({ heads, patches: 16, grid: 4 });
      expect(att.values.length).toBe(n * heads * 16);

      // Reference: the tokens entering the last block come from the model; from there LayerNorm, qkv and a
      // per-head softmax over every token are recomputed here in plain float64 from the checkpoint's weights.
      const internals = vit as unknown as { tokens(x: tf.Tensor): tf.Tensor; blocks: { forward(x: tf.Tensor): tf.Tensor }[] };
      const last = internals.blocks.length - 1;
      expect(last).toBe(11);
      const yT = tf.tidy(() => {
        let y = internals.tokens(tf.tensor4d(x, [n, 16, 16, 3]));
        for (const block of internals.blocks.slice(0, last)) y = block.forward(y);
        return y;
      });
      const y = (await yT.data()) as Float32Array;
      yT.dispose();
      const state: ModuleState = await vit.getState();
      const get = (name: string) => {
        expect(state[name], name).toBeDefined();
        return state[name]!.data;
      };
      const lnW = get(`blocks.${last}.norm1.weight`);
      const lnB = get(`blocks.${last}.norm1.bias`);
      const qkvW = get(`blocks.${last}.attn.qkv.weight`); // [D, 3D]
      const qkvB = get(`blocks.${last}.attn.qkv.bias`);
      const D = 192;
      const hd = D / heads;
      let worst = 0;
      let furthestFromUniform = 0;
      for (let i = 0; i < n; i++) {
        const qkv = Array.from({ length: T }, (_, t) => {
          const row = y.subarray((i * T + t) * D, (i * T + t + 1) * D);
          const mean = row.reduce((a, v) => a + v, 0) / D;
          const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / D;
          const ln = Array.from(row, (v, d) => ((v - mean) / Math.sqrt(variance + 1e-6)) * lnW[d]! + lnB[d]!);
          const out = new Float64Array(3 * D);
          for (let j = 0; j < 3 * D; j++) {
            let s = qkvB[j]!;
            for (let d = 0; d < D; d++) s += ln[d]! * qkvW[d * 3 * D + j]!;
            out[j] = s;
          }
          return out;
        });
        for (let h = 0; h < heads; h++) {
          const logits = Array.from({ length: T }, (_, t) => {
            let s = 0;
            for (let e = 0; e < hd; e++) s += qkv[0]![h * hd + e]! * qkv[t]![D + h * hd + e]!;
            return s / Math.sqrt(hd);
          });
          const top = Math.max(...logits);
          const exps = logits.map((l) => Math.exp(l - top));
          const total = exps.reduce((a, v) => a + v, 0);
          const probs = exps.map((e) => e / total); // the [CLS] row over all 17 tokens
          const map = att.values.subarray((i * heads + h) * 16, (i * heads + h + 1) * 16);
          let sum = 0;
          for (let p = 0; p < 16; p++) {
            expect(map[p]!).toBeGreaterThanOrEqual(0);
            worst = Math.max(worst, Math.abs(map[p]! - probs[p + 1]!));
            furthestFromUniform = Math.max(furthestFromUniform, Math.abs(map[p]! - 1 / T));
            sum += map[p]!;
          }
          // DINO's map leaves out the [CLS] → [CLS] weight: patches plus that weight make the whole softmax row.
          expect(sum + probs[0]!).toBeCloseTo(1, 5);
          expect(sum).toBeLessThan(1);
        }
      }
      expect(worst).toBeLessThan(1e-5);
      // the comparison can tell maps apart: they are not all the uniform 1/17
      expect(furthestFromUniform).toBeGreaterThan(1e-3);
    } finally {
      backbone.dispose();
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
