import { createHash } from 'node:crypto';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { describeFsError } from './scan.js';
import { dhashFromGray9x8 } from './phash.js';
import { grayGrid } from './gray-grid.js';
import { readJpegHeader, stripExtraneousBytes } from './jpeg-header.js';
import { encodeWebpLossless } from './webp-lossless.js';

/** Images larger than this many pixels are refused before decoding (decompression bombs). */
export const DEFAULT_MAX_PIXELS = 100_000_000;
export const THUMBNAIL_SIZE = 128;

export interface DecodeOptions {
  thumbnailDir: string;
  maxPixels?: number;
  /**
   * Use blocking fs calls for the thumbnail cache. In a decode worker thread that is cheaper than a round trip
   * through libuv's thread pool per call, and blocks nothing else; on the main thread leave it off.
   */
  blockingIo?: boolean;
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
  return decodeBuffer(buf, options);
}

/** decodeImage for a worker thread, where one blocking read is cheaper than fs/promises' four pool round trips. */
export async function decodeImageBlockingRead(filePath: string, options: DecodeOptions): Promise<Decoded> {
  let buf: Buffer;
  try {
    buf = fsSync.readFileSync(filePath);
  } catch (err) {
    throw new DecodeError(`cannot read file: ${describeFsError(err)}`);
  }
  return decodeBuffer(buf, { ...options, blockingIo: true });
}

/** Everything decodeImage derives, from the file's bytes. */
export async function decodeBuffer(buf: Buffer, options: DecodeOptions): Promise<Decoded> {
  if (buf.length === 0) throw new DecodeError('empty file (0 bytes)');
  const sha256 = createHash('sha256').update(buf).digest('hex');
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;

  // A JPEG's header is read in JS (most imports are JPEGs, and sharp.metadata is a whole native round trip);
  // anything else, or a JPEG whose header looks odd, is read by sharp.
  const jpeg = readJpegHeader(buf);
  let meta: Pick<Metadata, 'width' | 'height' | 'format' | 'orientation'> = jpeg
    ? { width: jpeg.width, height: jpeg.height, format: 'jpeg', orientation: jpeg.orientation }
    : await sharpHeader(buf);
  if (!meta.width || !meta.height || !meta.format) throw new DecodeError('not a decodable image: no dimensions in header');
  if (meta.width * meta.height > maxPixels) {
    throw new DecodeError(
      `image too large: ${meta.width}×${meta.height} = ${formatPixels(meta.width * meta.height)} exceeds the ${formatPixels(maxPixels)} limit`,
    );
  }
  const swapped = (meta.orientation ?? 1) >= 5;
  let width = swapped ? meta.height : meta.width;
  let height = swapped ? meta.width : meta.height;

  // One full decode (shrink-on-load keeps big JPEGs cheap) to the thumbnail's raw pixels; both the WebP
  // thumbnail and the hash are computed from those pixels rather than by decoding the file again.
  // libjpeg reports damaged entropy data ("Corrupt JPEG data: premature end of data segment") only as a warning
  // and fills the gap with grey, so a tolerant decode would import garbage as ok. Decode strictly first and only
  // when that fails decide, by a tolerant decode, whether the file is damaged or merely odd.
  let thumb: { data: Buffer; info: OutputInfo };
  try {
    thumb = await decodeThumbnailPixels(buf, maxPixels, 'warning');
  } catch (strictErr) {
    // A header read in JS may have passed a file whose header libvips refuses: report that as before.
    if (jpeg) await sharpHeader(buf);
    try {
      thumb = await decodeThumbnailPixels(buf, maxPixels, 'truncated');
    } catch (err) {
      throw new DecodeError(`cannot decode image: ${cleanSharpMessage(err)}`);
    }
    await refuseDamagedPixels(buf, maxPixels, meta.format, strictErr);
  }
  const raw = { width: thumb.info.width, height: thumb.info.height, channels: thumb.info.channels };
  if (jpeg && raw.width !== raw.height && width !== height && raw.width > raw.height !== width > height) {
    // libvips rotated the pixels otherwise than the EXIF orientation read in JS said: take libvips' reading.
    meta = await sharpHeader(buf);
    const turned = (meta.orientation ?? 1) >= 5;
    width = turned ? meta.height! : meta.width!;
    height = turned ? meta.width! : meta.height!;
  }
  const phash = dhashFromGray9x8(grayGrid(thumb.data, raw.width, raw.height, raw.channels, 9, 8));

  const thumbPath = thumbnailPath(options.thumbnailDir, sha256);
  const thumbnail = await (options.blockingIo ? writeThumbnailBlocking : writeThumbnail)(thumbPath, thumb.data, raw);
  return { bytes: buf.length, width, height, format: meta.format!, sha256, phash, thumbnail };
}

async function sharpHeader(buf: Buffer): Promise<Metadata> {
  try {
    // Headers only, no pixels: read the declared size without the cap so a bomb's refusal can name its size.
    return await sharp(buf, { limitInputPixels: false, failOn: 'truncated' }).metadata();
  } catch (err) {
    throw new DecodeError(`not a decodable image: ${cleanSharpMessage(err)}`);
  }
}

type RawInfo = { width: number; height: number; channels: 1 | 2 | 3 | 4 };

/**
 * Thumbnails of at most this many pixels are written as uncompressed lossless WebP in JS: ≤ 4 kB, so no bigger on
 * disk than a lossy one (a file takes a 4 kB block either way), and without a libvips call, a third of the CPU an
 * import spends on a CIFAR-sized image.
 */
export const SMALL_THUMBNAIL_PIXELS = 36 * 36;

function encodeThumbnail(pixels: Buffer, raw: RawInfo): Promise<Buffer> {
  if (raw.width * raw.height <= SMALL_THUMBNAIL_PIXELS && raw.channels !== 2) {
    return Promise.resolve(encodeWebpLossless(pixels, raw.width, raw.height, raw.channels));
  }
  return sharp(pixels, { raw }).webp({ quality: 80, effort: 0 }).toBuffer();
}

/** Writes the WebP thumbnail unless the cache already holds one for this content; false when it cannot. */
async function writeThumbnail(thumbPath: string, pixels: Buffer, raw: RawInfo): Promise<boolean> {
  try {
    await fs.access(thumbPath);
    return true;
  } catch {
    try {
      await writeAtomic(thumbPath, await encodeThumbnail(pixels, raw));
      return true;
    } catch {
      return false;
    }
  }
}

async function writeThumbnailBlocking(thumbPath: string, pixels: Buffer, raw: RawInfo): Promise<boolean> {
  if (fsSync.existsSync(thumbPath)) return true;
  try {
    const webp = await encodeThumbnail(pixels, raw);
    const tmp = `${thumbPath}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      fsSync.writeFileSync(tmp, webp);
    } catch (err) {
      // The shard folder is made on first use only, not probed for every image.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      fsSync.mkdirSync(path.dirname(thumbPath), { recursive: true });
      fsSync.writeFileSync(tmp, webp);
    }
    fsSync.renameSync(tmp, thumbPath);
    return true;
  } catch {
    return false;
  }
}

function decodeThumbnailPixels(buf: Buffer, maxPixels: number, failOn: 'warning' | 'error' | 'truncated') {
  return sharp(buf, { limitInputPixels: maxPixels, failOn, pages: 1 })
    .rotate()
    .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
}

/**
 * A file that decodes only when warnings are tolerated. libvips keeps one error buffer for all threads, so the
 * warning's text may belong to another file decoding at the same time: decide by decoder outcomes where they
 * can tell: for a JPEG, whether it decodes strictly once junk between its header segments (the one harmless
 * warning) is cut out; for other formats, whether a decode that stops at errors succeeds. Text only words the error.
 */
async function refuseDamagedPixels(buf: Buffer, maxPixels: number, format: string, strictErr: unknown): Promise<void> {
  if (format === 'jpeg') {
    // Junk between header segments is the one harmless JPEG warning: without it, a strict decode must pass.
    const cleaned = stripExtraneousBytes(buf);
    if (cleaned) {
      try {
        await decodeThumbnailPixels(cleaned, maxPixels, 'warning');
        return;
      } catch {
        // damaged besides the junk
      }
    }
    const lines = informativeLines(strictErr);
    const damage = lines.find((l) => /corrupt jpeg data/i.test(l) && !/extraneous bytes/i.test(l));
    throw new DecodeError(`corrupt image data: ${damage ?? 'the JPEG decoder reported damaged pixel data'}`);
  }
  try {
    await decodeThumbnailPixels(buf, maxPixels, 'error');
  } catch (err) {
    throw new DecodeError(`corrupt image data: ${cleanSharpMessage(err)}`);
  }
}

/** The lines of a sharp/libvips error that say something about the data, without sharp's own framing. */
function informativeLines(err: unknown): string[] {
  const msg = err instanceof Error ? err.message : String(err);
  return msg
    .split('\n')
    .map((l) => l.replace(/^Input (buffer|file) /, '').replace(/^vips\w+: /i, '').trim())
    .filter((l) => l && !/^Warning treated as error due to failOn/i.test(l) && !/^error in tile/i.test(l));
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

function formatPixels(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)} MP` : `${n.toLocaleString('en-US')} pixels`;
}

function cleanSharpMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(msg)) return 'image exceeds the pixel limit (possible decompression bomb)';
  if (/unsupported image format/i.test(msg)) return 'unsupported or unrecognised image format';
  return informativeLines(err)[0] ?? 'the decoder rejected the data';
}
