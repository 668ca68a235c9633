import { describe, expect, it } from 'vitest';
import { rgbToRgba, toBytes } from '../../../main/augment/bytes.js';
import { mulberry32 } from '../../../main/common/random.js';

const naive = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 255);

describe('toBytes', () => {
  it('equals round(clamp(v) · 255) at every rounding edge, out of range, NaN and on random floats', () => {
    const values: number[] = [Number.NaN, -1, -1e-9, 0, 1, 1 + 1e-7, 2, Infinity, -Infinity];
    for (let k = 0; k <= 255; k++) for (const d of [-1e-6, 0, 1e-6, 0.5 / 255 - 1e-7, 0.5 / 255, 0.5 / 255 + 1e-7]) values.push(k / 255 + d);
    const r = mulberry32(3);
    for (let i = 0; i < 30_000; i++) values.push(r() * 1.2 - 0.1);
    while (values.length % 3) values.push(0.5);
    const data = Float32Array.from(values);
    const rgb = toBytes(data, 0, data.length, 3);
    const rgba = toBytes(data, 0, data.length, 4);
    for (let i = 0; i < data.length; i++) {
      const want = Number.isNaN(data[i]!) ? 0 : naive(data[i]!);
      if (rgb[i] !== want) throw new Error(`value ${data[i]}: ${rgb[i]}, expected ${want}`);
      expect(rgba[Math.floor(i / 3) * 4 + (i % 3)]).toBe(want);
    }
    for (let p = 0; p < data.length / 3; p++) expect(rgba[p * 4 + 3]).toBe(255);
    expect(rgbToRgba(rgb, 3, 2)).toEqual(Uint8Array.from([rgb[3]!, rgb[4]!, rgb[5]!, 255, rgb[6]!, rgb[7]!, rgb[8]!, 255]));
  });

  it('reads from an offset', () => {
    const data = Float32Array.from([0, 0, 0, 1, 0.5, 0.25]);
    expect([...toBytes(data, 3, 3, 3)]).toEqual([255, 128, 64]);
  });
});
