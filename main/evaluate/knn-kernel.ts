/**
 * Cosine top-k search over L2-normalised rows: for every query row, the kMax train rows of highest dot product,
 * sorted best first. "Better" means a higher similarity, or the same similarity and a lower train index, so the
 * result is exactly what a stable sort of all similarities gives. Imports nothing, so worker threads load it alone.
 *
 * Tiles: TEST_TILE query rows × TRAIN_TILE train rows stay in cache while a 4 × 4 register block computes 16 dot
 * products per pass over d (8 loads feed 16 multiply-adds). Each accumulator sums d = 0 … dim−1 in order, in double
 * precision, so a one-pair-at-a-time reference gets bit-identical similarities.
 */
const TEST_TILE = 64;
const TRAIN_TILE = 256;

export function knnSearchRange(
  train: Float32Array,
  nTrain: number,
  test: Float32Array,
  testStart: number,
  testEnd: number,
  dim: number,
  kMax: number,
  outIndex: Int32Array, // [nTest, kMax], rows testStart … testEnd−1 are written
  outSim: Float64Array,
): void {
  const D = dim;
  const k = Math.min(kMax, nTrain);
  const heapSim = new Float64Array(TEST_TILE * k);
  const heapIdx = new Int32Array(TEST_TILE * k);
  const heapSize = new Int32Array(TEST_TILE);
  const s = new Float64Array(16);
  for (let t0 = testStart; t0 < testEnd; t0 += TEST_TILE) {
    const t1 = Math.min(testEnd, t0 + TEST_TILE);
    heapSize.fill(0);
    for (let r0 = 0; r0 < nTrain; r0 += TRAIN_TILE) {
      const r1 = Math.min(nTrain, r0 + TRAIN_TILE);
      for (let q = t0; q < t1; q += 4) {
        const qn = Math.min(4, t1 - q);
        // Rows past the end of a short block repeat the last row; their results are dropped.
        const q0 = q * D;
        const q1 = (q + Math.min(1, qn - 1)) * D;
        const q2 = (q + Math.min(2, qn - 1)) * D;
        const q3 = (q + Math.min(3, qn - 1)) * D;
        for (let r = r0; r < r1; r += 4) {
          const rn = Math.min(4, r1 - r);
          const p0 = r * D;
          const p1 = (r + Math.min(1, rn - 1)) * D;
          const p2 = (r + Math.min(2, rn - 1)) * D;
          const p3 = (r + Math.min(3, rn - 1)) * D;
          let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
          let c0 = 0, c1 = 0, c2 = 0, c3 = 0, e0 = 0, e1 = 0, e2 = 0, e3 = 0;
          for (let d = 0; d < D; d++) {
            const x0 = test[q0 + d]!, x1 = test[q1 + d]!, x2 = test[q2 + d]!, x3 = test[q3 + d]!;
            const y0 = train[p0 + d]!, y1 = train[p1 + d]!, y2 = train[p2 + d]!, y3 = train[p3 + d]!;
            a0 += x0 * y0; a1 += x0 * y1; a2 += x0 * y2; a3 += x0 * y3;
            b0 += x1 * y0; b1 += x1 * y1; b2 += x1 * y2; b3 += x1 * y3;
            c0 += x2 * y0; c1 += x2 * y1; c2 += x2 * y2; c3 += x2 * y3;
            e0 += x3 * y0; e1 += x3 * y1; e2 += x3 * y2; e3 += x3 * y3;
          }
          s[0] = a0; s[1] = a1; s[2] = a2; s[3] = a3;
          s[4] = b0; s[5] = b1; s[6] = b2; s[7] = b3;
          s[8] = c0; s[9] = c1; s[10] = c2; s[11] = c3;
          s[12] = e0; s[13] = e1; s[14] = e2; s[15] = e3;
          for (let i = 0; i < qn; i++) {
            const slot = q - t0 + i;
            const base = slot * k;
            for (let j = 0; j < rn; j++) {
              const sim = s[i * 4 + j]!;
              const size = heapSize[slot]!;
              if (size < k) {
                heapPush(heapSim, heapIdx, base, size, sim, r + j);
                heapSize[slot] = size + 1;
              } else if (sim > heapSim[base]!) {
                // Train rows arrive in increasing index order, so an equal similarity never displaces the root.
                heapReplaceRoot(heapSim, heapIdx, base, k, sim, r + j);
              }
            }
          }
        }
      }
    }
    for (let q = t0; q < t1; q++) {
      const slot = q - t0;
      const base = slot * k;
      const order = Array.from({ length: k }, (_, j) => j);
      order.sort((x, y) => heapSim[base + y]! - heapSim[base + x]! || heapIdx[base + x]! - heapIdx[base + y]!);
      for (let j = 0; j < kMax; j++) {
        const o = q * kMax + j;
        if (j < k) {
          outIndex[o] = heapIdx[base + order[j]!]!;
          outSim[o] = heapSim[base + order[j]!]!;
        } else {
          outIndex[o] = -1;
          outSim[o] = -Infinity;
        }
      }
    }
  }
}

/** Min-heap on (sim, then larger index first), so the root is the worst neighbour kept. */
function worse(simA: number, idxA: number, simB: number, idxB: number): boolean {
  return simA < simB || (simA === simB && idxA > idxB);
}

function heapPush(hs: Float64Array, hi: Int32Array, base: number, size: number, sim: number, idx: number): void {
  let pos = size;
  while (pos > 0) {
    const parent = (pos - 1) >> 1;
    if (!worse(sim, idx, hs[base + parent]!, hi[base + parent]!)) break;
    hs[base + pos] = hs[base + parent]!;
    hi[base + pos] = hi[base + parent]!;
    pos = parent;
  }
  hs[base + pos] = sim;
  hi[base + pos] = idx;
}

function heapReplaceRoot(hs: Float64Array, hi: Int32Array, base: number, size: number, sim: number, idx: number): void {
  let pos = 0;
  for (;;) {
    const l = 2 * pos + 1;
    if (l >= size) break;
    const r = l + 1;
    let child = l;
    if (r < size && worse(hs[base + r]!, hi[base + r]!, hs[base + l]!, hi[base + l]!)) child = r;
    if (!worse(hs[base + child]!, hi[base + child]!, sim, idx)) break;
    hs[base + pos] = hs[base + child]!;
    hi[base + pos] = hi[base + child]!;
    pos = child;
  }
  hs[base + pos] = sim;
  hi[base + pos] = idx;
}
