import { decodeRgb } from '../../data/decode.js';
import { decodeAllInto } from '../../data/decode-pool.js';
import type { RunImage } from './protocol.js';

/** Up to this many images decode in the calling thread: starting decode workers would cost more than it saves. */
const IN_THREAD_MAX = 64;

/**
 * The training images, decoded once to size×size RGB (resized to cover, centre-cropped) and kept as bytes: 4×
 * smaller than floats, converted per batch. A run's set decodes on a pool of decode worker threads (main/data),
 * so sharp never runs on the training thread; the bytes live in a SharedArrayBuffer, which the batch worker reads
 * without a copy.
 */
export class ImageCache {
  readonly size: number;
  readonly count: number;
  /** the decoded bytes, shareable with other threads (slot i at byte i·size·size·3) */
  readonly buffer: SharedArrayBuffer;
  private readonly pixels: Uint8Array;

  private constructor(size: number, buffer: SharedArrayBuffer, count: number) {
    this.size = size;
    this.buffer = buffer;
    this.pixels = new Uint8Array(buffer);
    this.count = count;
  }

  /** A view of a cache another thread decoded (its `buffer`, `size` and `count`). */
  static fromShared(buffer: SharedArrayBuffer, size: number, count: number): ImageCache {
    if (buffer.byteLength < count * size * size * 3) throw new Error(`ImageCache: the buffer holds fewer than ${count} images of ${size} px`);
    return new ImageCache(size, buffer, count);
  }

  static async load(
    images: readonly RunImage[],
    size: number,
    options: { signal?: AbortSignal; onProgress?: (done: number) => void; concurrency?: number; workers?: number } = {},
  ): Promise<ImageCache> {
    const per = size * size * 3;
    const bytes = images.length * per;
    if (bytes > 4 * 1024 ** 3) {
      throw new Error(`${images.length} images at ${size} px need ${(bytes / 1024 ** 3).toFixed(1)} GiB decoded; pick a smaller --image-size or dataset`);
    }
    const buffer = new SharedArrayBuffer(bytes);
    const useWorkers = options.workers !== undefined ? options.workers > 0 : images.length > IN_THREAD_MAX;
    if (useWorkers) {
      await decodeAllInto(
        images.map((i) => i.path),
        size,
        buffer,
        {
          ...(options.workers ? { workers: options.workers } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
          ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        },
      );
    } else {
      await decodeInThread(images, size, new Uint8Array(buffer), options);
    }
    return new ImageCache(size, buffer, images.length);
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

/** A few images (the augmentation preview): sharp's own libvips threads, no worker start-up. */
async function decodeInThread(
  images: readonly RunImage[],
  size: number,
  pixels: Uint8Array,
  options: { signal?: AbortSignal; onProgress?: (done: number) => void; concurrency?: number },
): Promise<void> {
  const per = size * size * 3;
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (;;) {
      if (options.signal?.aborted) throw new Error('decoding cancelled');
      const i = next++;
      if (i >= images.length) return;
      const img = images[i]!;
      let data: Uint8Array;
      try {
        data = await decodeRgb(img.path, size);
      } catch (err) {
        throw new Error(`cannot decode ${img.path}: ${(err as Error).message.split('\n')[0]}`);
      }
      pixels.set(data, i * per);
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  options.onProgress?.(done);
}
