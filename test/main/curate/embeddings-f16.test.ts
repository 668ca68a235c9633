import { describe, expect, it } from 'vitest';
import { decodeF16Into, encodeF16, fromHalf, toHalf } from '../../../main/curate/embeddings.js';

/** The naive reference: round to the nearest half by searching the halves around the value (ties to even). */
function nearestHalf(v: number): number {
  const f = Math.fround(v);
  if (Number.isNaN(f)) return 0x7e00;
  const sign = f < 0 || Object.is(f, -0) ? 0x8000 : 0;
  const a = Math.abs(f);
  if (a >= 65520) return sign | 0x7c00;
  let best = 0;
  for (let h = 0; h < 0x7c00; h++) {
    const d = Math.abs(fromHalf(h) - a);
    const db = Math.abs(fromHalf(best) - a);
    if (d < db || (d === db && (h & 1) === 0 && (best & 1) === 1)) best = h;
    if (fromHalf(h) > a) break;
  }
  return sign | best;
}

describe('float16 rows', () => {
  it('toHalf rounds to the nearest half, ties to even, over normals, subnormals, ties and overflow', () => {
    let s = 7;
    const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const values = [0, -0, 1, -1, 0.5, 65504, 65519, 65520, 1e9, -1e9, 6e-8, 2.98e-8, 1e-10, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 1 + 2 ** -11, 1 + 3 * 2 ** -11];
    for (let i = 0; i < 300; i++) values.push((rand() - 0.5) * 2 ** (Math.floor(rand() * 40) - 28));
    for (const v of values) expect(toHalf(v), `value ${v}`).toBe(nearestHalf(v));
    expect(toHalf(Number.NaN) & 0x7c00).toBe(0x7c00);
    expect(toHalf(Number.NaN) & 0x3ff).not.toBe(0);
  });

  it('encodeF16 writes little-endian halves and decodeF16Into reads back every half exactly', () => {
    const v = Float32Array.from({ length: 256 }, (_, i) => Math.sin(i * 0.37) * 3);
    const blob = encodeF16(v);
    expect(blob.length).toBe(512);
    for (let i = 0; i < v.length; i++) expect(blob.readUInt16LE(2 * i)).toBe(toHalf(v[i]!));
    const all = Buffer.alloc(0x10000 * 2);
    for (let h = 0; h < 0x10000; h++) all.writeUInt16LE(h, 2 * h);
    const out = new Float32Array(0x10000 + 3);
    decodeF16Into(all, out, 3);
    for (let h = 0; h < 0x10000; h++) {
      const want = fromHalf(h);
      if (Number.isNaN(want)) expect(out[3 + h]).toBeNaN();
      else expect(out[3 + h]).toBe(want);
    }
  });
});
