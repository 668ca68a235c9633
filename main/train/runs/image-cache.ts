import os from 'node:os';
import sharp from 'sharp';
import type { RunImage } from './protocol.js';

/**
 * The training images, decoded once with sharp to size×size RGB (resized to cover, centre-cropped) and kept as
 * bytes: 4× smaller than floats, converted per batch. sharp decodes on libvips threads, off the training loop.
 */
export class ImageCache {
  readonly size: number;
  readonly count: number;
  private readonly pixels: Uint8Array;

  private constructor(size: number, pixels: Uint8Array, count: number) {
    this.size = size;
    this.pixels = pixels;
    this.count = count;
  }

  static async load(
    images: readonly RunImage[],
    size: number,
    options: { signal?: AbortSignal; onProgress?: (done: number) => void; concurrency?: number } = {},
  ): Promise<ImageCache> {
    const per = size * size * 3;
    const bytes = images.length * per;
    if (bytes > 4 * 1024 ** 3) {
      throw new Error(`${images.length} images at ${size} px need ${(bytes / 1024 ** 3).toFixed(1)} GiB decoded; pick a smaller --image-size or dataset`);
    }
    const pixels = new Uint8Array(bytes);
    let next = 0;
    let done = 0;
    const worker = async () => {
      for (;;) {
        if (options.signal?.aborted) return;
        const i = next++;
        if (i >= images.length) return;
        const img = images[i]!;
        try {
          const data = await sharp(img.path, { failOn: 'none' })
            .rotate()
            .resize(size, size, { fit: 'cover' })
            .removeAlpha()
            .toColourspace('srgb')
            .raw()
            .toBuffer();
          pixels.set(data.subarray(0, per), i * per);
        } catch (err) {
          throw new Error(`cannot decode ${img.path}: ${(err as Error).message}`);
        }
        done++;
        if (done % 256 === 0) options.onProgress?.(done);
      }
    };
    const concurrency = options.concurrency ?? Math.max(2, os.availableParallelism());
    await Promise.all(Array.from({ length: concurrency }, worker));
    options.onProgress?.(done);
    return new ImageCache(size, pixels, images.length);
  }

  /** NHWC float32 in [0, 1] for the given image indices. */
  batch(indices: ArrayLike<number>, out?: Float32Array): Float32Array {
    const per = this.size * this.size * 3;
    const x = out ?? new Float32Array(indices.length * per);
    for (let b = 0; b < indices.length; b++) {
      const src = indices[b]! * per;
      const dst = b * per;
      for (let j = 0; j < per; j++) x[dst + j] = this.pixels[src + j]! / 255;
    }
    return x;
  }
}
