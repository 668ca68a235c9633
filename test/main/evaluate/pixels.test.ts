import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { downsampleRgb, pixelFeaturesFromImages } from '../../../main/evaluate/pixels.js';

describe('raw-pixel features', () => {
  it('an integer ratio is the mean of each k × k block, channels kept apart', () => {
    // 4 × 4 RGB, one value per pixel and channel: v = 10·(y·4 + x) + channel.
    const px = Uint8Array.from({ length: 4 * 4 * 3 }, (_, i) => 10 * Math.floor(i / 3) + (i % 3));
    const out = downsampleRgb(px, 4, 4, 3, 2);
    const mean = (xs: number[], c: number) => xs.reduce((a, p) => a + 10 * p + c, 0) / xs.length / 255;
    const blocks = [
      [0, 1, 4, 5],
      [2, 3, 6, 7],
      [8, 9, 12, 13],
      [10, 11, 14, 15],
    ];
    blocks.forEach((b, cell) => {
      for (let c = 0; c < 3; c++) expect(out[cell * 3 + c]).toBeCloseTo(mean(b, c), 6);
    });
  });

  it('a non-integer ratio keeps the image mean and handles RGBA input', () => {
    const w = 7;
    const h = 5;
    const rgba = Uint8Array.from({ length: w * h * 4 }, (_, i) => (i % 4 === 3 ? 255 : (i * 37) % 256));
    const out = downsampleRgb(rgba, w, h, 4, 3);
    for (let c = 0; c < 3; c++) {
      let src = 0;
      for (let p = 0; p < w * h; p++) src += rgba[p * 4 + c]!;
      let dst = 0;
      for (let p = 0; p < 9; p++) dst += out[p * 3 + c]!;
      expect(dst / 9).toBeCloseTo(src / (w * h) / 255, 5);
    }
    expect(() => downsampleRgb(rgba, w, h, 3, 3)).toThrow(/expected 7×5×3/);
  });

  it('decodes encoded images and names the one it cannot decode', async () => {
    const red = await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toBuffer();
    const grey = await sharp({ create: { width: 40, height: 20, channels: 3, background: { r: 128, g: 128, b: 128 } } }).greyscale().png().toBuffer();
    const f = await pixelFeaturesFromImages([red, grey], { size: 4 });
    expect(f.dim).toBe(48);
    expect(Array.from(f.data.subarray(0, 3)).map((v) => Math.round(v * 255))).toEqual([255, 0, 0]);
    expect(Array.from(f.data.subarray(48, 51)).map((v) => Math.round(v * 255))).toEqual([128, 128, 128]);
    await expect(pixelFeaturesFromImages([red, Buffer.from('not an image')])).rejects.toThrow(/cannot decode image #1/);
  });
});
