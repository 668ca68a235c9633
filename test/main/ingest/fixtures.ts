// Image files for the ingest, CLI and integration tests: real encoded images made with sharp, and the broken
// files users actually have (cut-off downloads, junk with an image name, decompression bombs).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { Catalog } from '../../../main/catalog/catalog.js';
import type { JobContext } from '../../../main/common/jobs.js';
import { mulberry32 } from '../../../main/common/random.js';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');
export const CIFAR_TARBALL = path.resolve(REPO_ROOT, '../shared/datasets/cifar10-train.tar.gz');

export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `curio-${prefix}-`));
}

export function removeDir(dir: string): void {
  // A test may leave a chmod 000 file behind; make it removable first.
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** Seeded noise, so every file differs in content (and sha256) and JPEG has real entropy-coded data to corrupt. */
export function noisePixels(width: number, height: number, seed: number, channels = 3): Buffer {
  const rand = mulberry32(seed);
  const buf = Buffer.alloc(width * height * channels);
  for (let i = 0; i < buf.length; i++) buf[i] = Math.floor(rand() * 256);
  return buf;
}

export async function jpegBytes(width: number, height: number, seed: number): Promise<Buffer> {
  return sharp(noisePixels(width, height, seed), { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

export async function writeJpeg(file: string, width = 32, height = 24, seed = 1): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, await jpegBytes(width, height, seed));
}

export async function writePng(file: string, width = 32, height = 24, seed = 1): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(noisePixels(width, height, seed), { raw: { width, height, channels: 3 } }).png().toFile(file);
}

/**
 * The same JPEG with a comment (COM) segment after SOI: a distinct file (its own sha256, its own thumbnail) with
 * the same pixels, for tests that need thousands of files without encoding thousands of images.
 */
export function withJpegComment(jpeg: Buffer, comment: string): Buffer {
  const text = Buffer.from(comment, 'utf8');
  const header = Buffer.from([0xff, 0xfe, 0, 0]);
  header.writeUInt16BE(text.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), header, text, jpeg.subarray(2)]);
}

/** The header segments of a real JPEG (everything up to and including the SOS header) followed by random bytes. */
export async function corruptJpegBytes(seed: number): Promise<Buffer> {
  const good = await jpegBytes(64, 64, seed);
  const sos = findMarker(good, 0xda);
  const headerEnd = sos + 2 + good.readUInt16BE(sos + 2);
  const rand = mulberry32(seed + 1000);
  const junk = Buffer.alloc(good.length - headerEnd);
  for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(rand() * 256);
  return Buffer.concat([good.subarray(0, headerEnd), junk]);
}

/** A real JPEG cut in half, as an interrupted download leaves it. */
export async function truncatedJpegBytes(seed: number): Promise<Buffer> {
  const good = await jpegBytes(64, 64, seed);
  return good.subarray(0, Math.floor(good.length / 2));
}

/** A real PNG whose first IDAT chunk has a wrong CRC: its pixels decode only if errors are ignored. */
export async function badCrcPngBytes(seed: number): Promise<Buffer> {
  const png = Buffer.from(await sharp(noisePixels(32, 32, seed), { raw: { width: 32, height: 32, channels: 3 } }).png().toBuffer());
  const idat = png.indexOf(Buffer.from('IDAT'));
  const length = png.readUInt32BE(idat - 4);
  png.writeUInt8(png.readUInt8(idat + 4 + length) ^ 0xff, idat + 4 + length);
  return png;
}

/** A real JPEG with junk bytes between two header segments: libjpeg warns "extraneous bytes", the pixels are fine. */
export async function extraneousBytesJpeg(seed: number): Promise<Buffer> {
  const good = await jpegBytes(32, 32, seed);
  const dqt = findMarker(good, 0xdb);
  return Buffer.concat([good.subarray(0, dqt), Buffer.from([1, 2, 3, 4]), good.subarray(dqt)]);
}

/**
 * A valid 1-bit greyscale PNG of width×height black pixels, deflated by hand (encoding it with sharp takes a
 * minute): 20000×20000 declares 400 MP in about 50 kB, a decompression bomb for a decoder without a pixel cap.
 */
export function bombPngBytes(width = 20_000, height = 20_000): Buffer {
  const rowBytes = 1 + Math.ceil(width / 8); // filter byte + packed bits
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([1, 0, 0, 0, 0], 8); // bit depth 1, greyscale, deflate, adaptive filter, no interlace
  const idat = zlib.deflateSync(Buffer.alloc(rowBytes * height), { level: 9 });
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

/** A JPEG stored landscape (w×h) whose EXIF says "rotate 90° clockwise to display" (orientation 6). */
export async function writeRotatedJpeg(file: string, width: number, height: number): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(noisePixels(width, height, 7), { raw: { width, height, channels: 3 } })
    .jpeg()
    .withMetadata({ orientation: 6 })
    .toFile(file);
}

function findMarker(buf: Buffer, marker: number): number {
  for (let i = 2; i < buf.length - 1; i++) {
    if (buf[i] === 0xff && buf[i + 1] === marker) return i;
  }
  throw new Error(`JPEG marker 0x${marker.toString(16)} not found`);
}

/** `count` small JPEGs spread over `classes` label folders: <dir>/<class>/<nnnn>.jpg. */
export async function writeLabelledJpegs(dir: string, classes: readonly string[], perClass: number, size = 16): Promise<string[]> {
  const files: string[] = [];
  let seed = 1;
  for (const c of classes) {
    fs.mkdirSync(path.join(dir, c), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const file = path.join(dir, c, `${String(i).padStart(4, '0')}.jpg`);
      fs.writeFileSync(file, await jpegBytes(size, size, seed++));
      files.push(file);
    }
  }
  return files;
}

/** A JobContext without a JobManager, for calling importFolders directly; `cancel` aborts it. */
export function testJobContext(onProgress?: (done: number) => void): JobContext & { cancel(): void; phases: string[] } {
  const controller = new AbortController();
  const phases: string[] = [];
  return {
    jobId: 'test-job',
    signal: controller.signal,
    phases,
    cancel: () => controller.abort(),
    throwIfCancelled() {
      if (controller.signal.aborted) throw new Error('cancelled');
    },
    setPhase(phase) {
      phases.push(phase);
    },
    setTotal() {},
    progress(done) {
      onProgress?.(done);
    },
  };
}

export interface ImageDbRow {
  id: number;
  path: string;
  status: 'ok' | 'failed' | 'missing';
  error: string | null;
  label: string | null;
  width: number | null;
  height: number | null;
  sha256: string | null;
  phash: string | null;
  bytes: number | null;
  mtime_ms: number | null;
  thumbnail: number;
}

export function imageRows(catalog: Catalog): ImageDbRow[] {
  return catalog.db.prepare('SELECT * FROM images ORDER BY path').all() as ImageDbRow[];
}

export function rowByName(catalog: Catalog, name: string): ImageDbRow {
  const row = imageRows(catalog).find((r) => path.basename(r.path) === name);
  if (!row) throw new Error(`no image row for ${name}`);
  return row;
}
