import fs from 'node:fs';
import sharp from 'sharp';
import { CurioError } from '../common/errors.js';
import { decodeBaselineJpeg, isDecodedAsIs } from './jpeg-baseline.js';
import { decodeInWorker } from './decode-worker-pool.js';

export { isDecodedAsIs };

/**
 * The decode every encoder input goes through (evaluation features, curation embeddings, attention maps): each image
 * is resized to cover size × size and centre-cropped to it, in sRGB with EXIF orientation applied, alpha dropped,
 * as floats in [0, 1], NHWC.
 *
 * For small images sharp's fixed cost per call dominates: a 32×32 CIFAR JPEG took 1.6–1.95 ms of CPU through the
 * full pipeline, of which the JPEG decode itself is a tiny part (the rest is building and running a libvips
 * pipeline). So images that already are what the pipeline would produce, 8-bit 3-channel JPEGs of exactly size ×
 * size with no EXIF block and no ICC profile, are decoded many to one sharp call (`join`, side by side) and cut
 * apart: 0.7–0.9 ms per image (bench/onnx; both at load 12–17). For them rotate, resize, removeAlpha and the colour conversion are all
 * no-ops, so the pixels are the same bytes (test/main/evaluate/decode.test.ts compares both paths). Most of those
 * (baseline, 4:2:0 or 4:4:4: every CIFAR JPEG) do not reach sharp at all: jpeg-baseline.ts decodes them in JS with
 * libjpeg's own integer arithmetic, to the same bytes, for 0.05–0.14 instead of 0.5–0.8 ms of CPU (bench/onnx,
 * load 8–13), on a worker thread for batches of 16 or more so that it runs beside the caller's forward pass; the
 * join takes what it refuses (progressive, 4:2:2, restart intervals…). Every other
 * image (larger, another shape, PNG, grayscale, CMYK, EXIF, ICC) takes the full pipeline, which keeps JPEG
 * shrink-on-load for large photos.
 */
export async function decodeForEncoder(paths: readonly string[], size: number, signal?: AbortSignal): Promise<Float32Array> {
  const per = size * size * 3;
  signal?.throwIfAborted();
  // a worker thread reads and decodes what the JS decoder takes, so that a caller's ONNX Runtime run, which holds
  // this thread, overlaps it; null when there is no worker (too few images, or it could not start)
  const inWorker = jsDecode() && paths.length >= WORKER_MIN_IMAGES ? await decodeInWorker(paths, size) : null;
  signal?.throwIfAborted();
  const out = inWorker?.out ?? new Float32Array(paths.length * per);
  const rest = inWorker ? paths.flatMap((_, i) => (inWorker.done[i] ? [] : [i])) : paths.map((_, i) => i);
  // read synchronously: an async readFile is four thread-pool round trips, ~0.15 ms of CPU for a 1 KB file
  const bytes: Buffer[] = [];
  for (const i of rest) {
    signal?.throwIfAborted();
    try {
      bytes[i] = fs.readFileSync(paths[i]!);
    } catch (err) {
      throw decodeError(paths[i]!, err);
    }
  }
  const asIs: number[] = [];
  const full: number[] = [];
  for (const i of rest) {
    const b = bytes[i]!;
    if (!isDecodedAsIs(b, size)) full.push(i);
    // the worker tried the JS decoder already
    else if (inWorker || !jsDecode() || !decodeBaselineJpeg(b, size, out, i * per)) asIs.push(i);
  }
  const jobs: Promise<void>[] = full.map((i) => decodeOne(paths[i]!, bytes[i]!, size, out, i * per));
  // several joins, so that the libuv pool spreads them over the cores
  for (let k = 0; k < asIs.length; k += JOIN_CHUNK) {
    const chunk = asIs.slice(k, k + JOIN_CHUNK);
    jobs.push(
      decodeJoined(chunk.map((i) => bytes[i]!), size, out, chunk.map((i) => i * per)).catch(async () => {
        // one bad file fails the whole join: decode these one by one, so the error names the file
        await Promise.all(chunk.map((i) => decodeOne(paths[i]!, bytes[i]!, size, out, i * per)));
      }),
    );
  }
  await Promise.all(jobs);
  return out;
}

const JOIN_CHUNK = 32;

/** below this a batch decodes on the calling thread: a message round trip costs more than a few images */
const WORKER_MIN_IMAGES = 16;

/** CURIO_JPEG_JS=0 sends every as-is JPEG through sharp's join, to measure the JS decoder against it */
const jsDecode = () => process.env.CURIO_JPEG_JS !== '0';

/** v / 255 as float32, the same value the division gives */
const UNIT = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** The full pipeline: the reference for what an image decodes to. */
async function decodeOne(p: string, input: Buffer, size: number, out: Float32Array, offset: number): Promise<void> {
  let raw: Buffer;
  try {
    raw = await sharp(input, { failOn: 'none' })
      .rotate()
      .resize(size, size, { fit: 'cover', position: 'centre' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer();
  } catch (err) {
    throw decodeError(p, err);
  }
  const per = size * size * 3;
  for (let j = 0; j < per; j++) out[offset + j] = UNIT[raw[j]!]!;
}

/** Size × size RGB JPEGs decoded side by side in one call; rows of the joined image are cut back into images. */
async function decodeJoined(inputs: Buffer[], size: number, out: Float32Array, offsets: number[]): Promise<void> {
  const { data, info } = await sharp(inputs, { failOn: 'none', join: { across: inputs.length } })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== size * inputs.length || info.height !== size || info.channels !== 3) throw new Error('unexpected joined shape');
  const row = size * 3;
  const stride = row * inputs.length;
  offsets.forEach((o, k) => {
    for (let y = 0; y < size; y++) {
      const src = y * stride + k * row;
      const dst = o + y * row;
      for (let x = 0; x < row; x++) out[dst + x] = UNIT[data[src + x]!]!;
    }
  });
}

function decodeError(p: string, err: unknown): CurioError {
  return new CurioError('failed', `cannot decode ${p}: ${(err as Error).message.split('\n')[0]}`);
}
