import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../main/common/random.js';
import { dhashFromGray9x8, hammingDistance } from '../../../main/ingest/phash.js';

// Naive references: the 64 comparisons as a bit string read as one big binary number, and a bit-by-bit count.
function naiveDhash(gray: Uint8Array): string {
  let bits = '';
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) bits += gray[y * 9 + x]! > gray[y * 9 + x + 1]! ? '1' : '0';
  return BigInt(`0b${bits}`).toString(16).padStart(16, '0');
}

function naiveHamming(a: string, b: string): number {
  return [...(BigInt(`0x${a}`) ^ BigInt(`0x${b}`)).toString(2)].filter((c) => c === '1').length;
}

describe('dHash', () => {
  it('matches the naive reference on random, flat and extreme grids', () => {
    const rand = mulberry32(5);
    const grids = [
      ...Array.from({ length: 200 }, () => Uint8Array.from({ length: 72 }, () => Math.floor(rand() * 256))),
      new Uint8Array(72), // flat: all zero bits
      Uint8Array.from({ length: 72 }, (_, i) => 255 - (i % 9)), // falling rows: all one bits
      Uint8Array.from({ length: 72 }, (_, i) => (i < 36 ? 255 - (i % 9) : 0)), // top half only
    ];
    for (const g of grids) expect(dhashFromGray9x8(g)).toBe(naiveDhash(g));
    expect(dhashFromGray9x8(grids[200]!)).toBe('0000000000000000');
    expect(dhashFromGray9x8(grids[201]!)).toBe('ffffffffffffffff');
  });

  it('refuses a grid that is not 9×8', () => {
    expect(() => dhashFromGray9x8(new Uint8Array(64))).toThrow(/72/);
  });

  it('Hamming distance matches the naive count and is a metric on samples', () => {
    const rand = mulberry32(9);
    const hex = () => Array.from({ length: 16 }, () => Math.floor(rand() * 16).toString(16)).join('');
    const hashes = Array.from({ length: 60 }, hex);
    for (const a of hashes) {
      expect(hammingDistance(a, a)).toBe(0);
      for (const b of hashes.slice(0, 10)) {
        expect(hammingDistance(a, b)).toBe(naiveHamming(a, b));
        expect(hammingDistance(a, b)).toBe(hammingDistance(b, a));
      }
    }
    expect(hammingDistance('0000000000000000', 'ffffffffffffffff')).toBe(64);
  });
});
