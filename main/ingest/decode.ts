import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { describeFsError } from './scan.js';
import { dhashFromGray9x8 } from './phash.js';

/** Images larger than this many pixels are refused before decoding (decompression bombs). */
export const DEFAULT_MAX_PIXELS = 100_000_000;
export const THUMBNAIL_SIZE = 128;

export interface DecodeOptions {
  thumbnailDir: string;
  maxPixels?: number;
}

export interface Decoded {
  bytes: number;
  width: number;
  height: number;
  format: string;
  sha256: string;
  phash: string;
  thumbnail: boolean;
}

export class DecodeError extends Error {}

// libvips keeps its own thread pool; the import pool decides concurrency, so one libvips thread per call.
sharp.concurrency(1);
sharp.cache(false);

/**
 * Reads one image file and derives everything the catalog stores: dimensions after EXIF orientation, format,
 * sha256 of the file bytes, a 64-bit dHash, and a ~128 px WebP thumbnail in the content-keyed cache.
 * Throws DecodeError with a one-line reason for anything that is not a readable, decodable image.
 */
export async function decodeImage(filePath: string, options: DecodeOptions): Promise<Decoded> {
  let buf: Buffer;
  try {
    buf = await fs.readFile(filePath);
  } catch (err) {
    throw new DecodeError(`cannot read file: ${describeFsError(err)}`);
  }
  if (buf.length === 0) throw new DecodeError('empty file (0 bytes)');
  const sha256 = createHash('sha256').update(buf).digest('hex');
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;

  let meta: Metadata;
  try {
    // Headers only, no pixels: read the declared size without the cap so a bomb's refusal can name its size.
    meta = await sharp(buf, { limitInputPixels: false, failOn: 'truncated' }).metadata();
  } catch (err) {
    throw new DecodeError(`not a decodable image: ${cleanSharpMessage(err)}`);
  }
  if (!meta.width || !meta.height || !meta.format) throw new DecodeError('not a decodable image: no dimensions in header');
  if (meta.width * meta.height > maxPixels) {
    throw new DecodeError(
      `image too large: ${meta.width}×${meta.height} = ${formatPixels(meta.width * meta.height)} exceeds the ${formatPixels(maxPixels)} limit`,
    );
  }
  const swapped = (meta.orientation ?? 1) >= 5;
  const width = swapped ? meta.height : meta.width;
  const height = swapped ? meta.width : meta.height;

  // One full decode (shrink-on-load keeps big JPEGs cheap) to the thumbnail's raw pixels; both the WebP
  // thumbnail and the hash are computed from those pixels rather than by decoding the file again.
  // libjpeg reports damaged entropy data ("Corrupt JPEG data: premature end of data segment") only as a warning
  // and fills the gap with grey, so a tolerant decode would import garbage as ok. Decode strictly first; on a
  // warning that means damage, fail; on a harmless warning (extraneous bytes, odd ICC profile), decode tolerantly.
  let thumb: { data: Buffer; info: OutputInfo };
  try {
    thumb = await decodeThumbnailPixels(buf, maxPixels, 'warning');
  } catch (strictErr) {
    if (isCorruptDataWarning(strictErr)) throw new DecodeError(`corrupt image data: ${cleanSharpMessage(strictErr)}`);
    try {
      thumb = await decodeThumbnailPixels(buf, maxPixels, 'truncated');
    } catch (err) {
      throw new DecodeError(`cannot decode image: ${cleanSharpMessage(err)}`);
    }
  }
  const raw = { width: thumb.info.width, height: thumb.info.height, channels: thumb.info.channels };
  const gray = await sharp(thumb.data, { raw })
    .greyscale()
    .resize(9, 8, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer();
  const phash = dhashFromGray9x8(gray.length === 72 ? gray : firstChannel(gray, 72));

  const thumbPath = thumbnailPath(options.thumbnailDir, sha256);
  let thumbnail = true;
  try {
    await fs.access(thumbPath);
  } catch {
    try {
      const webp = await sharp(thumb.data, { raw }).webp({ quality: 80, effort: 0 }).toBuffer();
      await writeAtomic(thumbPath, webp);
    } catch {
      thumbnail = false;
    }
  }
  return { bytes: buf.length, width, height, format: meta.format, sha256, phash, thumbnail };
}

function decodeThumbnailPixels(buf: Buffer, maxPixels: number, failOn: 'warning' | 'truncated') {
  return sharp(buf, { limitInputPixels: maxPixels, failOn, pages: 1 })
    .rotate()
    .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
}

function isCorruptDataWarning(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /corrupt jpeg data/i.test(msg) && !/extraneous bytes/i.test(msg);
}

export function thumbnailPath(thumbnailDir: string, sha256: string): string {
  return path.join(thumbnailDir, sha256.slice(0, 2), `${sha256}.webp`);
}

async function writeAtomic(target: string, data: Buffer): Promise<void> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await fs.writeFile(tmp, data);
  await fs.rename(tmp, target);
}

function firstChannel(data: Buffer, n: number): Buffer {
  const channels = data.length / n;
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = data[i * channels]!;
  return out;
}

function formatPixels(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)} MP` : `${n.toLocaleString('en-US')} pixels`;
}

function cleanSharpMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(msg)) return 'image exceeds the pixel limit (possible decompression bomb)';
  if (/unsupported image format/i.test(msg)) return 'unsupported or unrecognised image format';
  return msg.split('\n')[0]!.replace(/^Input (buffer|file) /, '').replace(/^Vips\w+: /, '').trim();
}
