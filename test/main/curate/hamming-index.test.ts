import { describe, expect, it } from 'vitest';
import { hammingPairs, hashInformation, parseHash64, popcount32, type Hash64 } from '../../../main/curate/hamming-index.js';
import { hammingDistance } from '../../../main/ingest/phash.js';
import { mulberry32 } from '../../../main/common/random.js';

const hex = (h: Hash64) => h.hi.toString(16).padStart(8, '0') + h.lo.toString(16).padStart(8, '0');

/** Every pair's distance by the ingest module's own string comparison: the naive reference. */
function allDistances(hashes: Hash64[]): Uint8Array {
  const s = hashes.map(hex);
  const n = s.length;
  const d = new Uint8Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) d[i * n + j] = hammingDistance(s[i]!, s[j]!);
  return d;
}

function brutePairs(d: Uint8Array, n: number, t: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (d[i * n + j]! <= t) out.push(`${i}-${j}-${d[i * n + j]}`);
  return out.sort();
}

/** Random hashes with planted near copies (a few bits flipped), so every distance band has pairs. */
function randomHashes(n: number, seed: number): Hash64[] {
  const rand = mulberry32(seed);
  const u32 = () => Math.floor(rand() * 2 ** 32) >>> 0;
  const out: Hash64[] = [];
  while (out.length < n) {
    const base = { hi: u32(), lo: u32() };
    out.push(base);
    const copies = Math.floor(rand() * 4);
    for (let c = 0; c < copies && out.length < n; c++) {
      let { hi, lo } = base;
      const flips = Math.floor(rand() * 14);
      for (let f = 0; f < flips; f++) {
        const bit = Math.floor(rand() * 64);
        if (bit < 32) lo = (lo ^ (1 << bit)) >>> 0;
        else hi = (hi ^ (1 << (bit - 32))) >>> 0;
      }
      out.push({ hi, lo });
    }
  }
  // A block of identical hashes and one of low-entropy ones stress big buckets.
  out.push({ hi: 0, lo: 0 }, { hi: 0, lo: 0 }, { hi: 0, lo: 1 }, { hi: 0xffffffff, lo: 0xffffffff });
  return out;
}

describe('multi-index Hamming search', () => {
  it('popcount32 agrees with counting bits one by one', () => {
    const rand = mulberry32(1);
    for (let k = 0; k < 1000; k++) {
      const x = Math.floor(rand() * 2 ** 32) >>> 0;
      let n = 0;
      for (let b = 0; b < 32; b++) n += (x >>> b) & 1;
      expect(popcount32(x)).toBe(n);
    }
    expect(popcount32(0xffffffff)).toBe(32);
  });

  it('parses 16 hex digits and refuses anything else', () => {
    expect(parseHash64('ffffffff00000001')).toEqual({ hi: 0xffffffff, lo: 1 });
    expect(() => parseHash64('abc')).toThrow(/16 hex digits/);
    expect(() => parseHash64('zzzzzzzzzzzzzzzz')).toThrow();
  });

  const hashes = randomHashes(1200, 100);
  const distances = allDistances(hashes);
  it.each([0, 1, 2, 3, 5, 8, 10, 12, 16, 20])('equals brute force on random hashes at distance ≤ %i', (t) => {
    const got = hammingPairs(hashes, t).map((p) => `${p.i}-${p.j}-${p.distance}`).sort();
    const want = brutePairs(distances, hashes.length, t);
    expect(new Set(got).size).toBe(got.length); // each pair once
    expect(got).toEqual(want);
    if (t >= 3) expect(want.length).toBeGreaterThan(50);
  });

  it('refuses a distance outside 0..32', () => {
    expect(() => hammingPairs([], -1)).toThrow(RangeError);
    expect(() => hammingPairs([], 33)).toThrow(/0\.\.32/);
    expect(() => hammingPairs([], 1.5)).toThrow(RangeError);
  });
});

describe('hashInformation', () => {
  it('counts the minority bits, as reading the binary digits one by one does', () => {
    const rand = mulberry32(11);
    for (let t = 0; t < 500; t++) {
      // Skewed bits, so that few-set and few-unset hashes both occur.
      const p = rand();
      let bits = '';
      for (let b = 0; b < 64; b++) bits += rand() < p ? '1' : '0';
      const h = { hi: parseInt(bits.slice(0, 32), 2) >>> 0, lo: parseInt(bits.slice(32), 2) >>> 0 };
      const ones = [...bits].filter((c) => c === '1').length;
      expect(hashInformation(h)).toBe(Math.min(ones, 64 - ones));
    }
    expect(hashInformation(parseHash64('0000000000000000'))).toBe(0);
    expect(hashInformation(parseHash64('ffffffffffffffff'))).toBe(0);
    expect(hashInformation(parseHash64('00000000ffffffff'))).toBe(32);
  });
});
