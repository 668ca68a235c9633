import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import type { Catalog } from '../catalog/catalog.js';
import { invalid } from '../common/errors.js';
import { VisionTransformer } from '../train/models/index.js';
import type { RunStore } from '../train/runs/run-store.js';
import { buildBackbone, decodeForEncoder, ensureBackend, runEncoder } from './extract.js';

/**
 * DINO's attention maps (Caron et al. 2021, Fig. 1): the last block's self-attention from the [CLS] token to every
 * patch, one map per head, which in self-supervised ViTs outlines objects without any segmentation labels.
 * Each map [grid, grid] is min–max scaled, bilinearly upsampled to the image size and colour-mapped.
 */
export interface AttentionResult {
  heads: number;
  images: { imageId: number; image: string; maps: string[] }[];
}

export async function attentionMaps(catalog: Catalog, runs: RunStore, runId: number, datasetId: number, count: number): Promise<AttentionResult> {
  const encoder = runEncoder(runs, runId);
  if (!encoder.backbone.startsWith('vit')) {
    throw invalid(`run ${runId} trained a ${encoder.backbone} backbone; attention maps need a ViT (vit-tiny or vit-small)`);
  }
  const all = catalog.datasetImages(datasetId);
  if (all.length === 0) throw invalid(`dataset ${datasetId} has no usable images`);
  const n = Math.min(count, all.length);
  // Evenly spaced over the dataset, so a dataset sorted by class shows several classes.
  const picked = Array.from({ length: n }, (_, i) => all[Math.floor((i * all.length) / n)]!);
  await ensureBackend();
  const backbone = buildBackbone(encoder);
  try {
    if (!(backbone instanceof VisionTransformer)) throw invalid(`run ${runId}: backbone ${encoder.backbone} is not a ViT`);
    const size = encoder.imageSize;
    const x = await decodeForEncoder(
      picked.map((p) => p.path),
      size,
    );
    const { values, heads, patches, grid } = await clsAttention(backbone, x, n, size);
    const images = await Promise.all(
      picked.map(async (img, i) => {
        const rgb = new Uint8Array(size * size * 3);
        for (let j = 0; j < rgb.length; j++) rgb[j] = Math.round(x[i * size * size * 3 + j]! * 255);
        const maps: string[] = [];
        for (let h = 0; h < heads; h++) {
          const offset = (i * heads + h) * patches;
          const map = upsampleBilinear(values.subarray(offset, offset + patches), grid, size);
          maps.push(await pngDataUrl(colourMap(minMaxScale(map)), size));
        }
        return { imageId: img.id, image: await pngDataUrl(rgb, size), maps };
      }),
    );
    return { heads, images };
  } finally {
    backbone.dispose();
  }
}

export interface ClsAttention {
  /** [n, heads, patches]: row-major, patches in raster order of the grid */
  values: Float32Array;
  heads: number;
  patches: number;
  grid: number;
}

/**
 * The last block's [CLS] → patch attention of `n` decoded images (NHWC floats, size × size). As in DINO's
 * visualisation (attn[:, :, 0, 1:]) the [CLS] → [CLS] weight is left out, so a head's map sums to 1 minus it.
 */
export async function clsAttention(backbone: VisionTransformer, x: Float32Array, n: number, size: number): Promise<ClsAttention> {
  const att = tf.tidy(() => backbone.attention(tf.tensor4d(x, [n, size, size, 3])));
  const [, heads, patches] = att.shape;
  let values: Float32Array;
  try {
    values = (await att.data()) as Float32Array; // async: webgpu in Node has no synchronous readback
  } finally {
    att.dispose();
  }
  return { values, heads, patches, grid: Math.round(Math.sqrt(patches)) };
}

/** grid × grid → size × size, sampling at pixel centres (align_corners = false), edges clamped. */
export function upsampleBilinear(src: ArrayLike<number>, grid: number, size: number): Float32Array {
  const out = new Float32Array(size * size);
  const scale = grid / size;
  for (let y = 0; y < size; y++) {
    const sy = Math.min(grid - 1, Math.max(0, (y + 0.5) * scale - 0.5));
    const y0 = Math.floor(sy);
    const y1 = Math.min(grid - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < size; x++) {
      const sx = Math.min(grid - 1, Math.max(0, (x + 0.5) * scale - 0.5));
      const x0 = Math.floor(sx);
      const x1 = Math.min(grid - 1, x0 + 1);
      const fx = sx - x0;
      const top = src[y0 * grid + x0]! * (1 - fx) + src[y0 * grid + x1]! * fx;
      const bottom = src[y1 * grid + x0]! * (1 - fx) + src[y1 * grid + x1]! * fx;
      out[y * size + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

export function minMaxScale(v: Float32Array): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const span = hi - lo;
  return v.map((x) => (span > 0 ? (x - lo) / span : 0));
}

/** An inferno-like ramp (black → purple → orange → pale yellow), interpolated between five stops. */
const STOPS: readonly [number, number, number][] = [
  [0, 0, 4],
  [87, 16, 110],
  [188, 55, 84],
  [249, 142, 9],
  [252, 255, 164],
];

export function colourMap(v: Float32Array): Uint8Array {
  const out = new Uint8Array(v.length * 3);
  for (let i = 0; i < v.length; i++) {
    const t = Math.max(0, Math.min(1, v[i]!)) * (STOPS.length - 1);
    const k = Math.min(STOPS.length - 2, Math.floor(t));
    const f = t - k;
    const a = STOPS[k]!;
    const b = STOPS[k + 1]!;
    out[i * 3] = Math.round(a[0] + (b[0] - a[0]) * f);
    out[i * 3 + 1] = Math.round(a[1] + (b[1] - a[1]) * f);
    out[i * 3 + 2] = Math.round(a[2] + (b[2] - a[2]) * f);
  }
  return out;
}

async function pngDataUrl(rgb: Uint8Array, size: number): Promise<string> {
  const png = await sharp(rgb, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}
