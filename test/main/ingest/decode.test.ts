import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecodeError, decodeImage, thumbnailPath } from '../../../main/ingest/decode.js';
import { hammingDistance } from '../../../main/ingest/phash.js';
import { corruptJpegBytes, jpegBytes, makeTempDir, noisePixels, removeDir, truncatedJpegBytes, writeRotatedJpeg } from './fixtures.js';

let dir: string;
beforeAll(() => {
  dir = makeTempDir('decode');
});
afterAll(() => removeDir(dir));

describe('decodeImage', () => {
  it('derives size, format, sha256, a 64-bit hash and a thumbnail', async () => {
    const file = path.join(dir, 'a.jpg');
    const bytes = await jpegBytes(300, 200, 1);
    fs.writeFileSync(file, bytes);
    const d = await decodeImage(file, { thumbnailDir: path.join(dir, 't') });
    const { createHash } = await import('node:crypto');
    expect(d).toMatchObject({ bytes: bytes.length, width: 300, height: 200, format: 'jpeg', thumbnail: true });
    expect(d.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(d.phash).toMatch(/^[0-9a-f]{16}$/);
    const thumb = await sharp(thumbnailPath(path.join(dir, 't'), d.sha256)).metadata();
    expect([thumb.width, thumb.height]).toEqual([128, 85]);
  });

  it('gives the same perceptual hash to a re-encoded, resized copy and a different one to another image', async () => {
    // a smooth image: dHash compares neighbouring brightness, which noise does not keep under resizing
    const gradient = Buffer.alloc(256 * 256 * 3);
    for (let y = 0; y < 256; y++) for (let x = 0; x < 256; x++) gradient.fill((x * 3 + y) % 256, (y * 256 + x) * 3, (y * 256 + x) * 3 + 3);
    const raw = { raw: { width: 256, height: 256, channels: 3 as const } };
    fs.writeFileSync(path.join(dir, 'g1.png'), await sharp(gradient, raw).png().toBuffer());
    fs.writeFileSync(path.join(dir, 'g2.jpg'), await sharp(gradient, raw).resize(100, 100).jpeg({ quality: 60 }).toBuffer());
    fs.writeFileSync(path.join(dir, 'g3.png'), await sharp(gradient, raw).flop().png().toBuffer());
    const [a, b, c] = await Promise.all(['g1.png', 'g2.jpg', 'g3.png'].map((f) => decodeImage(path.join(dir, f), { thumbnailDir: path.join(dir, 't') })));
    expect(hammingDistance(a!.phash, b!.phash)).toBeLessThanOrEqual(6);
    expect(hammingDistance(a!.phash, c!.phash)).toBeGreaterThan(20);
  });

  it('reports width and height as displayed for EXIF orientation 6', async () => {
    const file = path.join(dir, 'rot.jpg');
    await writeRotatedJpeg(file, 90, 30);
    expect((await sharp(file).metadata()).orientation).toBe(6);
    const d = await decodeImage(file, { thumbnailDir: path.join(dir, 't') });
    expect([d.width, d.height]).toEqual([30, 90]);
    const thumb = await sharp(thumbnailPath(path.join(dir, 't'), d.sha256)).metadata();
    expect(thumb.height! > thumb.width!).toBe(true);
  });

  it('accepts an RGBA PNG and a greyscale one', async () => {
    const rgba = path.join(dir, 'rgba.png');
    await sharp(noisePixels(20, 10, 3, 4), { raw: { width: 20, height: 10, channels: 4 } }).png().toFile(rgba);
    const grey = path.join(dir, 'grey.png');
    await sharp(noisePixels(20, 10, 4, 1), { raw: { width: 20, height: 10, channels: 1 } }).png().toFile(grey);
    for (const f of [rgba, grey]) await expect(decodeImage(f, { thumbnailDir: path.join(dir, 't') })).resolves.toMatchObject({ width: 20 });
  });

  // libvips has one error buffer for every thread, so the text of a failure can belong to another file failing
  // at the same time; whether a file is damaged must still be decided per file, however many fail together.
  it('classifies corrupt and truncated JPEGs as failures even when many fail at once', async () => {
    const files: { file: string; kind: 'good' | 'corrupt' | 'truncated' }[] = [];
    for (let i = 0; i < 24; i++) {
      const kind = (['good', 'corrupt', 'truncated'] as const)[i % 3]!;
      const file = path.join(dir, `many-${i}.jpg`);
      const bytes = kind === 'good' ? await jpegBytes(64, 64, i) : kind === 'corrupt' ? await corruptJpegBytes(i) : await truncatedJpegBytes(i);
      fs.writeFileSync(file, bytes);
      files.push({ file, kind });
    }
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(
        files.map(({ file }) =>
          decodeImage(file, { thumbnailDir: path.join(dir, 't') }).then(
            () => 'ok',
            (e: unknown) => (e instanceof DecodeError ? 'failed' : `threw ${String(e)}`),
          ),
        ),
      );
      expect(results).toEqual(files.map((f) => (f.kind === 'good' ? 'ok' : 'failed')));
    }
  });
});
