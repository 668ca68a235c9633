/**
 * Near-neighbour search over 64-bit perceptual hashes by multi-index hashing (Norouzi et al., "Fast Search in
 * Hamming Space with Multi-Index Hashing", CVPR 2012): split the 64 bits into t+1 disjoint chunks; two hashes
 * within Hamming distance t agree exactly on at least one chunk (pigeonhole). So exact-match buckets per chunk
 * give every candidate pair, and only those are compared in full, instead of all n² pairs.
 */

export interface Hash64 {
  hi: number;
  lo: number;
}

const HEX16 = /^[0-9a-f]{16}$/i;

export function parseHash64(hex: string): Hash64 {
  if (!HEX16.test(hex)) throw new Error(`not a 64-bit hash in 16 hex digits: "${hex}"`);
  return { hi: parseInt(hex.slice(0, 8), 16) >>> 0, lo: parseInt(hex.slice(8), 16) >>> 0 };
}

export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

export const MAX_PHASH_DISTANCE = 32;

/**
 * How much a 64-bit difference hash says: the number of its minority bits (set or unset, whichever are fewer).
 * A mostly flat image (a digit or a drawing on a plain background, a document, a screenshot, an icon) has few
 * brightness steps, so few set bits; two such hashes lie within a few bits of each other by chance. Demo MNIST
 * digits: median 17 (8–26); CIFAR-10 photos: popcount median 31.
 */
export function hashInformation(h: Hash64): number {
  const ones = popcount32(h.hi) + popcount32(h.lo);
  return Math.min(ones, 64 - ones);
}

/**
 * A phash match counts as a duplicate on its own only when both hashes have at least this many minority bits;
 * below it the match is a candidate for the pixel check. Among 310 MNIST digits, the 300 chance matches within
 * 4 bits between different digits all had a hash with 8–21 minority bits.
 */
export const MIN_HASH_INFORMATION = 24;

/** Bits [start, start+len) of the 64-bit value, bit 0 being the lowest bit of `lo`; len ≤ 32. */
function bits(hi: number, lo: number, start: number, len: number): number {
  let v: number;
  if (start >= 32) v = hi >>> (start - 32);
  else if (start + len <= 32) v = lo >>> start;
  else v = (lo >>> start) | (hi << (32 - start));
  return len === 32 ? v >>> 0 : (v & ((1 << len) - 1)) >>> 0;
}

/** Every pair (i < j) of hashes within Hamming distance `maxDistance`, with that distance. */
export function hammingPairs(hashes: readonly Hash64[], maxDistance: number): { i: number; j: number; distance: number }[] {
  if (!Number.isInteger(maxDistance) || maxDistance < 0 || maxDistance > MAX_PHASH_DISTANCE) {
    throw new RangeError(`Hamming distance must be an integer in 0..${MAX_PHASH_DISTANCE}, got ${maxDistance}`);
  }
  const n = hashes.length;
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  hashes.forEach((h, i) => {
    hi[i] = h.hi;
    lo[i] = h.lo;
  });
  const out: { i: number; j: number; distance: number }[] = [];
  const chunks = maxDistance + 1;
  if (chunks === 1) {
    // One chunk of 64 bits: exact equality. A 64-bit key does not fit a JS number, so key by the pair.
    const buckets = new Map<string, number[]>();
    for (let i = 0; i < n; i++) {
      const key = `${hi[i]}:${lo[i]}`;
      const list = buckets.get(key);
      if (list) {
        for (const j of list) out.push({ i: j, j: i, distance: 0 });
        list.push(i);
      } else buckets.set(key, [i]);
    }
    return out;
  }
  // Chunk c covers bits [starts[c], starts[c+1]); sizes differ by at most one bit.
  const starts: number[] = [];
  for (let c = 0; c <= chunks; c++) starts.push(Math.round((c * 64) / chunks));
  // A pair that matches on several chunks is reported by the first of them only.
  for (let c = 0; c < chunks; c++) {
    const start = starts[c]!;
    const len = starts[c + 1]! - start;
    const buckets = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      const key = bits(hi[i]!, lo[i]!, start, len);
      const list = buckets.get(key);
      if (list) list.push(i);
      else buckets.set(key, [i]);
    }
    for (const list of buckets.values()) {
      for (let a = 0; a < list.length; a++) {
        const i = list[a]!;
        for (let b = a + 1; b < list.length; b++) {
          const j = list[b]!;
          const xh = hi[i]! ^ hi[j]!;
          const xl = lo[i]! ^ lo[j]!;
          const d = popcount32(xh) + popcount32(xl);
          if (d > maxDistance) continue;
          if (c > 0 && firstEqualChunk(xh, xl, starts, c) < c) continue;
          out.push({ i, j, distance: d });
        }
      }
    }
  }
  return out;
}

function firstEqualChunk(xh: number, xl: number, starts: readonly number[], upTo: number): number {
  for (let c = 0; c < upTo; c++) if (bits(xh, xl, starts[c]!, starts[c + 1]! - starts[c]!) === 0) return c;
  return upTo;
}
