import sharp, { type OutputInfo } from 'sharp';
import { invalid } from '../common/errors.js';
import type { FeatureMatrix } from './features.js';

/**
 * The raw-pixels baseline: each image is area-averaged down to size × size RGB and flattened (row-major, RGB
 * interleaved, values in [0, 1]), so a linear probe on it shows what a classifier gets with no learned features.
 */
export const DEFAULT_PIXEL_SIZE = 16;

/**
 * Area-average (box filter with fractional coverage) of an interleaved RGB(A) buffer to size × size × 3.
 * Integer ratios (32 → 16) are plain k × k means; other ratios weight the source pixels by the overlap.
 */
export function downsampleRgb(pixels: Uint8Array, width: number, height: number, channels: number, size: number, out?: Float32Array, outOffset = 0): Float32Array {
  if (channels < 3) throw invalid(`downsampleRgb: needs at least 3 channels, got ${channels}`);
  if (pixels.length !== width * height * channels) {
    throw invalid(`downsampleRgb: buffer has ${pixels.length} bytes, expected ${width}×${height}×${channels}`);
  }
  const target = out ?? new Float32Array(size * size * 3);
  const xs = overlapWeights(width, size);
  const ys = overlapWeights(height, size);
  const rowAcc = new Float64Array(width * 3);
  for (let oy = 0; oy < size; oy++) {
    rowAcc.fill(0);
    const wy = ys[oy]!;
    for (let k = 0; k < wy.index.length; k++) {
      const sy = wy.index[k]!;
      const w = wy.weight[k]!;
      const rowStart = sy * width * channels;
      for (let sx = 0; sx < width; sx++) {
        const p = rowStart + sx * channels;
        rowAcc[sx * 3] = rowAcc[sx * 3]! + w * pixels[p]!;
        rowAcc[sx * 3 + 1] = rowAcc[sx * 3 + 1]! + w * pixels[p + 1]!;
        rowAcc[sx * 3 + 2] = rowAcc[sx * 3 + 2]! + w * pixels[p + 2]!;
      }
    }
    for (let ox = 0; ox < size; ox++) {
      const wx = xs[ox]!;
      let r = 0;
      let g = 0;
      let b = 0;
      for (let k = 0; k < wx.index.length; k++) {
        const sx = wx.index[k]!;
        const w = wx.weight[k]!;
        r += w * rowAcc[sx * 3]!;
        g += w * rowAcc[sx * 3 + 1]!;
        b += w * rowAcc[sx * 3 + 2]!;
      }
      const o = outOffset + (oy * size + ox) * 3;
      target[o] = r / 255;
      target[o + 1] = g / 255;
      target[o + 2] = b / 255;
    }
  }
  return target;
}

/** For each of `size` output cells, the source indices it covers and their normalised overlap weights. */
function overlapWeights(source: number, size: number): { index: number[]; weight: number[] }[] {
  const scale = source / size;
  return Array.from({ length: size }, (_, o) => {
    const lo = o * scale;
    const hi = (o + 1) * scale;
    const index: number[] = [];
    const weight: number[] = [];
    for (let s = Math.floor(lo); s < Math.min(source, Math.ceil(hi)); s++) {
      const cover = Math.min(hi, s + 1) - Math.max(lo, s);
      if (cover > 1e-12) {
        index.push(s);
        weight.push(cover / scale);
      }
    }
    return { index, weight };
  });
}

export interface PixelFeatureOptions {
  size?: number;
  /** Decodes in flight at once (sharp runs each on the libuv thread pool). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/**
 * Decodes images, given as file paths or encoded bytes (JPEG, PNG, …), with EXIF orientation applied, in sRGB,
 * and returns their raw-pixel features [n, size·size·3].
 */
export async function pixelFeaturesFromImages(images: readonly (string | Uint8Array)[], options: PixelFeatureOptions = {}): Promise<FeatureMatrix> {
  const paths = images;
  const size = options.size ?? DEFAULT_PIXEL_SIZE;
  if (!Number.isInteger(size) || size < 1) throw invalid(`pixel features: size must be a positive integer, got ${size}`);
  const dim = size * size * 3;
  const data = new Float32Array(paths.length * dim);
  const concurrency = Math.max(1, options.concurrency ?? 8);
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (let i = next++; i < paths.length; i = next++) {
      options.signal?.throwIfAborted();
      const input = paths[i]!;
      let decoded: { data: Buffer; info: OutputInfo };
      try {
        decoded = await sharp(input, { failOn: 'truncated' })
          .rotate()
          // Shrink-on-load keeps large photos cheap; the final area average below sets the exact size.
          .resize({ width: size * 4, height: size * 4, fit: 'inside', withoutEnlargement: true })
          .removeAlpha()
          .toColourspace('srgb')
          .raw()
          .toBuffer({ resolveWithObject: true });
      } catch (err) {
        throw invalid(`pixel features: cannot decode ${typeof input === 'string' ? input : `image #${i}`}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      }
      const { width, height, channels } = decoded.info;
      downsampleRgb(decoded.data, width, height, channels, size, data, i * dim);
      done++;
      options.onProgress?.(done, paths.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, worker));
  return { data, n: paths.length, dim };
}
