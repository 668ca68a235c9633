/**
 * dHash (difference hash) over a 9×8 grayscale image: bit i is set when a pixel is brighter than its right
 * neighbour. 64 bits, written as 16 hex digits. Robust to re-encoding and resizing; Hamming distance compares.
 */
export function dhashFromGray9x8(gray: Uint8Array | Buffer): string {
  if (gray.length !== 72) throw new Error(`dHash needs 9×8 = 72 gray pixels, got ${gray.length}`);
  let hi = 0;
  let lo = 0;
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) {
      const bit = gray[y * 9 + x]! > gray[y * 9 + x + 1]! ? 1 : 0;
      const i = y * 8 + x;
      if (i < 32) hi = (hi << 1) | bit;
      else lo = (lo << 1) | bit;
    }
  }
  return (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

const POPCOUNT8 = new Uint8Array(256).map((_, i) => {
  let n = 0;
  for (let v = i; v; v >>= 1) n += v & 1;
  return n;
});

/** Hamming distance between two 16-hex-digit hashes. */
export function hammingDistance(a: string, b: string): number {
  let d = 0;
  for (let i = 0; i < 16; i += 2) d += POPCOUNT8[parseInt(a.slice(i, i + 2), 16) ^ parseInt(b.slice(i, i + 2), 16)]!;
  return d;
}
