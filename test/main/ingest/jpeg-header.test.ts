import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readJpegHeader, stripExtraneousBytes } from '../../../main/ingest/jpeg-header.js';
import { bombPngBytes, extraneousBytesJpeg, jpegBytes, noisePixels, truncatedJpegBytes } from './fixtures.js';

// The JS header reader stands in for sharp.metadata on the import's hot path, so it must agree with it.
async function sharpSays(buf: Buffer) {
  const m = await sharp(buf).metadata();
  return { width: m.width, height: m.height, orientation: m.orientation ?? 1 };
}

describe('readJpegHeader', () => {
  it('agrees with sharp.metadata on size and EXIF orientation, baseline and progressive, colour and grey', async () => {
    const cases: Buffer[] = [];
    for (const [w, h] of [[32, 32], [1, 1], [31, 17], [640, 480], [17, 300]] as const) {
      const px = sharp(noisePixels(w, h, w * h), { raw: { width: w, height: h, channels: 3 } });
      cases.push(await px.clone().jpeg().toBuffer());
      cases.push(await px.clone().jpeg({ progressive: true }).toBuffer());
      cases.push(await px.clone().greyscale().jpeg().toBuffer());
      for (let orientation = 1; orientation <= 8; orientation++) {
        cases.push(await px.clone().jpeg().withMetadata({ orientation }).toBuffer());
      }
    }
    for (const buf of cases) expect(readJpegHeader(buf)).toEqual(await sharpSays(buf));
  });

  it('reads a header whose scan data is cut off (the decode, not the header, fails such a file)', async () => {
    const cut = await truncatedJpegBytes(5);
    expect(readJpegHeader(cut)).toEqual({ width: 64, height: 64, orientation: 1 });
  });

  it('returns null for anything it cannot vouch for, so the caller asks sharp', async () => {
    const good = await jpegBytes(20, 10, 9);
    expect(readJpegHeader(Buffer.alloc(0))).toBeNull();
    expect(readJpegHeader(Buffer.from('not an image, just text'))).toBeNull();
    expect(readJpegHeader(bombPngBytes(100, 100))).toBeNull();
    expect(readJpegHeader(good.subarray(0, 30))).toBeNull(); // header cut before the frame
    expect(readJpegHeader(await extraneousBytesJpeg(3))).toBeNull(); // junk between segments: libvips copes, we don't
    const badLength = Buffer.from(good);
    badLength.writeUInt16BE(0xfff0, 4); // first segment claims to run past the end
    expect(readJpegHeader(badLength)).toBeNull();
  });
});

describe('stripExtraneousBytes', () => {
  it('cuts junk between header segments and leaves a JPEG that decodes strictly', async () => {
    const junk = await extraneousBytesJpeg(5);
    const cleaned = stripExtraneousBytes(junk);
    expect(cleaned).not.toBeNull();
    expect(cleaned!.length).toBeLessThan(junk.length);
    await expect(sharp(junk, { failOn: 'warning' }).raw().toBuffer()).rejects.toThrow();
    const strict = await sharp(cleaned!, { failOn: 'warning' }).raw().toBuffer();
    const lenient = await sharp(junk, { failOn: 'none' }).raw().toBuffer();
    expect(strict.equals(lenient)).toBe(true);
  });

  it('returns null for a clean JPEG, a truncated one and a non-JPEG', async () => {
    expect(stripExtraneousBytes(await jpegBytes(16, 16, 1))).toBeNull();
    expect(stripExtraneousBytes(Buffer.from('not an image at all'))).toBeNull();
    expect(stripExtraneousBytes((await truncatedJpegBytes(2)).subarray(0, 10))).toBeNull();
  });
});
