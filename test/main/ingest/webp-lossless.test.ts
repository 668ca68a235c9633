import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../main/common/random.js';
import { encodeWebpLossless } from '../../../main/ingest/webp-lossless.js';

function pixels(n: number, seed: number): Buffer {
  const rand = mulberry32(seed);
  return Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
}

/** libwebp (through sharp) is the reference decoder: what it reads back must be exactly what went in. */
async function decodeRgb(webp: Buffer) {
  const { data, info } = await sharp(webp).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, format: (await sharp(webp).metadata()).format };
}

describe('encodeWebpLossless', () => {
  it('round-trips RGB pixels exactly through libwebp, at odd and edge sizes', async () => {
    let seed = 1;
    for (const [w, h] of [[1, 1], [2, 3], [32, 32], [31, 17], [36, 36], [1, 200], [128, 85]] as const) {
      const px = pixels(w * h * 3, seed++);
      const webp = encodeWebpLossless(px, w, h, 3);
      const back = await decodeRgb(webp);
      expect(back.format).toBe('webp');
      expect([back.width, back.height]).toEqual([w, h]);
      expect(back.data.equals(px)).toBe(true);
      expect(webp.length).toBeLessThanOrEqual(w * h * 3 + 64);
      expect(webp.readUInt32LE(4)).toBe(webp.length - 8); // RIFF size
    }
  });

  it('writes grey pixels as equal R, G and B, and ignores a fourth channel', async () => {
    const grey = pixels(9 * 5, 7);
    const back = await decodeRgb(encodeWebpLossless(grey, 9, 5, 1));
    expect(back.data.equals(Buffer.from(Array.from(grey).flatMap((v) => [v, v, v])))).toBe(true);
    const rgba = pixels(4 * 4 * 4, 8);
    const rgb = Buffer.from(Array.from(rgba).filter((_, i) => i % 4 !== 3));
    expect((await decodeRgb(encodeWebpLossless(rgba, 4, 4, 4))).data.equals(rgb)).toBe(true);
  });

  it('refuses sizes and layouts the format or the writer cannot hold', () => {
    expect(() => encodeWebpLossless(Buffer.alloc(3), 0, 1, 3)).toThrow(/cannot hold/);
    expect(() => encodeWebpLossless(Buffer.alloc(3), 16385, 1, 3)).toThrow(/cannot hold/);
    expect(() => encodeWebpLossless(Buffer.alloc(8), 2, 2, 2)).toThrow(/channels/);
    expect(() => encodeWebpLossless(Buffer.alloc(5), 2, 1, 3)).toThrow(/bytes/);
  });
});
