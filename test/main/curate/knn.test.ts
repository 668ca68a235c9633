import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../main/common/random.js';
import { approximateKnn, exactKnn, knnEdges, mergeReverseNeighbours, recallAtK } from '../../../main/curate/knn.js';
import { decodeF16Into, encodeF16, fromHalf, toHalf } from '../../../main/curate/embeddings.js';

function clustered(n: number, dim: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const g = () => Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand());
  const centres = Array.from({ length: 20 }, () => Array.from({ length: dim }, g));
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = centres[Math.floor(rand() * centres.length)]!;
    let ss = 0;
    for (let d = 0; d < dim; d++) ss += (data[i * dim + d] = c[d]! + 0.7 * g()) ** 2;
    for (let d = 0; d < dim; d++) data[i * dim + d]! /= Math.sqrt(ss);
  }
  return data;
}

/** Sort every other row by similarity: the naive reference. */
function naiveKnn(data: Float32Array, dim: number, k: number): number[][] {
  const n = data.length / dim;
  return Array.from({ length: n }, (_, q) => {
    const sims = Array.from({ length: n }, (_, j) => {
      let s = 0;
      for (let d = 0; d < dim; d++) s += data[q * dim + d]! * data[j * dim + d]!;
      return { j, s };
    }).filter((x) => x.j !== q);
    sims.sort((a, b) => b.s - a.s || a.j - b.j);
    return sims.slice(0, k).map((x) => x.j);
  });
}

describe('kNN graphs', () => {
  const dim = 32;
  const data = clustered(700, dim, 3);

  it.each([1, 5, 17])('exact search equals sorting all pairs (k=%i)', (k) => {
    const g = exactKnn(data, dim, { k });
    const want = naiveKnn(data, dim, k);
    for (let q = 0; q < g.n; q++) {
      const got = Array.from(g.indices.subarray(q * k, q * k + k));
      // Equal similarities may swap places; compare the similarity sequences and the sets past ties.
      expect(new Set(got)).toEqual(new Set(want[q]));
      for (let r = 1; r < k; r++) expect(g.similarities[q * k + r]!).toBeLessThanOrEqual(g.similarities[q * k + r - 1]!);
    }
  });

  it('drops neighbours below the similarity floor and yields each undirected edge once', () => {
    const g = exactKnn(data, dim, { k: 10, minSimilarity: 0.6 });
    const edges = knnEdges(g, 0.6);
    expect(edges.every((e) => e.i < e.j && e.similarity >= 0.6)).toBe(true);
    expect(new Set(edges.map((e) => `${e.i}-${e.j}`)).size).toBe(edges.length);
    expect(Array.from(g.indices).some((x) => x === -1) || edges.length > 0).toBe(true);
  });

  it('the approximate index (usearch HNSW) reaches recall@10 ≥ 0.95 against exact', () => {
    const exact = exactKnn(data, dim, { k: 10 });
    const approx = approximateKnn(data, dim, { k: 10 });
    const rows = Array.from({ length: 200 }, (_, i) => i * 3);
    const recall = recallAtK(exact, approx, rows);
    console.log(`usearch HNSW recall@10 on 700×32 clustered vectors: ${recall.toFixed(4)}`);
    expect(recall).toBeGreaterThanOrEqual(0.95);
    for (let q = 0; q < approx.n; q++) expect(approx.indices[q * 10]).not.toBe(q);
  });

  it('the f16 index reports exact f32 similarities, best first, and f32 storage finds the same neighbours', () => {
    const f16 = approximateKnn(data, dim, { k: 10 });
    const f32 = approximateKnn(data, dim, { k: 10, quantization: 'f32' });
    const exact = exactKnn(data, dim, { k: 10 });
    const rows = Array.from({ length: 700 }, (_, i) => i);
    expect(recallAtK(f32, f16, rows)).toBeGreaterThanOrEqual(0.97);
    expect(recallAtK(exact, f16, rows)).toBeGreaterThanOrEqual(0.95);
    let maxErr = 0;
    for (let q = 0; q < f16.n; q++) {
      for (let r = 0; r < 10; r++) {
        const id = f16.indices[q * 10 + r]!;
        let s = 0;
        for (let d = 0; d < dim; d++) s += data[q * dim + d]! * data[id * dim + d]!;
        // the very sum the rescoring computes, so equality holds to float rounding (an f16 distance is off by ~1e-3)
        maxErr = Math.max(maxErr, Math.abs(f16.similarities[q * 10 + r]! - s));
        if (r > 0) expect(f16.similarities[q * 10 + r]!).toBeLessThanOrEqual(f16.similarities[q * 10 + r - 1]!);
      }
    }
    expect(maxErr).toBeLessThan(1e-6);
  });

  it('merging reverse neighbours gives each row the best k of its own list and of the rows that list it', () => {
    const n = 150;
    const k = 6;
    const rand = mulberry32(9);
    const sim = Array.from({ length: n }, () => new Float32Array(n));
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) sim[i]![j] = sim[j]![i] = Math.fround(rand() * 2 - 1);
    const indices = new Int32Array(n * k).fill(-1);
    const similarities = new Float32Array(n * k).fill(Number.NaN);
    const lists: number[][] = [];
    for (let q = 0; q < n; q++) {
      // a random, partly empty list, as a search with a floor or misses leaves it
      const size = Math.floor(rand() * (k + 1));
      const picks = new Set<number>();
      while (picks.size < size) {
        const j = Math.floor(rand() * n);
        if (j !== q) picks.add(j);
      }
      const row = [...picks].sort((a, b) => sim[q]![b]! - sim[q]![a]!);
      lists.push(row);
      row.forEach((j, r) => {
        indices[q * k + r] = j;
        similarities[q * k + r] = sim[q]![j]!;
      });
    }
    const graph = { n, k, indices, similarities };
    mergeReverseNeighbours(graph);
    for (let q = 0; q < n; q++) {
      const union = new Set(lists[q]);
      lists.forEach((row, other) => row.includes(q) && union.add(other));
      const want = [...union].sort((a, b) => sim[q]![b]! - sim[q]![a]!).slice(0, k);
      const got = Array.from(graph.indices.subarray(q * k, q * k + k)).filter((j) => j >= 0);
      expect(got).toEqual(want);
      got.forEach((j, r) => expect(graph.similarities[q * k + r]).toBe(sim[q]![j]));
    }
  });

  it('refuses a bad k or shape with a clear error', () => {
    expect(() => exactKnn(data, dim, { k: 0 })).toThrow(/k must be an integer/);
    expect(() => exactKnn(data, 31, { k: 3 })).toThrow(/whole number/);
  });

  it('float16 storage round-trips within half precision', () => {
    for (const v of [0, 1, -1, 0.5, 0.0461, 65504, 1e-5, -3.25]) expect(Math.abs(fromHalf(toHalf(v)) - v)).toBeLessThanOrEqual(Math.abs(v) * 1e-3 + 1e-7);
    const v = new Float32Array(data.subarray(0, dim));
    const back = new Float32Array(dim);
    decodeF16Into(encodeF16(v), back, 0);
    for (let d = 0; d < dim; d++) expect(Math.abs(back[d]! - v[d]!)).toBeLessThan(2e-4);
  });
});
