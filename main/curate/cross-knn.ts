import os from 'node:os';
import { CancelledError } from '../common/errors.js';
import { newHnswIndex, rescore } from './knn.js';

export interface CrossKnn {
  k: number;
  /** base indices, row-major queries×k, best first; -1 where a row has fewer than k */
  indices: Int32Array;
  similarities: Float32Array;
}

export interface CrossKnnOptions {
  signal?: AbortSignal;
  onProgress?: (done: number) => void;
  /** rows that take no part (e.g. images without a descriptor) */
  skipQueries?: ReadonlySet<number>;
  skipBase?: ReadonlySet<number>;
}

/**
 * For each query vector, the k base vectors with the largest dot product (cosine for L2-normalised rows), by exact
 * blocked search: a block of base vectors is read by every query of a query block while it sits in cache. Rows
 * listed in `skipQueries`/`skipBase` (e.g. images without a descriptor) take no part. Cost grows with
 * queries × base, which suits the sizes it serves (an evaluation set or a seed set against a pool).
 */
export function crossKnn(
  queries: Float32Array,
  base: Float32Array,
  dim: number,
  k: number,
  opts: CrossKnnOptions = {},
): CrossKnn {
  const nq = queries.length / dim;
  const nb = base.length / dim;
  const indices = new Int32Array(nq * k).fill(-1);
  const similarities = new Float32Array(nq * k).fill(Number.NaN);
  const QB = 32;
  const BB = 512;
  // Per query: a sorted (descending) list of its best k so far; k is small here, so insertion is cheap.
  const sims = new Float32Array(QB * k);
  const ids = new Int32Array(QB * k);
  const sizes = new Int32Array(QB);
  for (let q0 = 0; q0 < nq; q0 += QB) {
    if (opts.signal?.aborted) throw new CancelledError();
    const q1 = Math.min(nq, q0 + QB);
    sizes.fill(0);
    for (let b0 = 0; b0 < nb; b0 += BB) {
      const b1 = Math.min(nb, b0 + BB);
      for (let q = q0; q < q1; q++) {
        if (opts.skipQueries?.has(q)) continue;
        const slot = (q - q0) * k;
        const qo = q * dim;
        for (let b = b0; b < b1; b++) {
          if (opts.skipBase?.has(b)) continue;
          const bo = b * dim;
          let s = 0;
          for (let d = 0; d < dim; d++) s += queries[qo + d]! * base[bo + d]!;
          let size = sizes[q - q0]!;
          if (size === k && s <= sims[slot + k - 1]!) continue;
          let at = size < k ? size++ : k - 1;
          while (at > 0 && sims[slot + at - 1]! < s) {
            sims[slot + at] = sims[slot + at - 1]!;
            ids[slot + at] = ids[slot + at - 1]!;
            at--;
          }
          sims[slot + at] = s;
          ids[slot + at] = b;
          sizes[q - q0] = size;
        }
      }
    }
    for (let q = q0; q < q1; q++) {
      const size = sizes[q - q0]!;
      for (let r = 0; r < size; r++) {
        indices[q * k + r] = ids[(q - q0) * k + r]!;
        similarities[q * k + r] = sims[(q - q0) * k + r]!;
      }
    }
    opts.onProgress?.(q1);
  }
  return { k, indices, similarities };
}

/**
 * Above this many multiply-adds (queries × base × dim), `nearestNeighbours` uses the HNSW index instead of the
 * exact scan: about 10–20 s of scalar JavaScript on one idle core. Below it results are exact; above it a few true
 * nearest neighbours can be missed (recall is measured in test/main/curate/kmeans.test.ts).
 */
export const EXACT_CROSS_WORK = 2e10;

/**
 * Approximate cross kNN: an HNSW index (usearch) over the base vectors, searched with every query. Skipped base
 * rows are left out of the index; skipped queries get no neighbours.
 */
export function approximateCrossKnn(
  queries: Float32Array,
  base: Float32Array,
  dim: number,
  k: number,
  opts: CrossKnnOptions = {},
): CrossKnn {
  const nq = queries.length / dim;
  const nb = base.length / dim;
  const index = newHnswIndex(dim, k, { k, expansionSearch: Math.max(64, 2 * k) });
  // usearch's threads = 0 ("automatic") ran on one thread here; see approximateKnn
  const threads = os.availableParallelism();
  const chunk = 8192;
  for (let s = 0; s < nb; s += chunk) {
    if (opts.signal?.aborted) throw new CancelledError();
    const rows: number[] = [];
    for (let i = s; i < Math.min(nb, s + chunk); i++) if (!opts.skipBase?.has(i)) rows.push(i);
    if (rows.length === 0) continue;
    const vecs = new Float32Array(rows.length * dim);
    rows.forEach((i, r) => vecs.set(base.subarray(i * dim, i * dim + dim), r * dim));
    index.add(BigUint64Array.from(rows, (i) => BigInt(i)), vecs, threads);
  }
  const indices = new Int32Array(nq * k).fill(-1);
  const similarities = new Float32Array(nq * k).fill(Number.NaN);
  if (index.size() === 0) return { k, indices, similarities };
  const kk = Math.min(k, index.size());
  for (let s = 0; s < nq; s += chunk) {
    if (opts.signal?.aborted) throw new CancelledError();
    const e = Math.min(nq, s + chunk);
    const res = index.search(queries.subarray(s * dim, e * dim), kk, threads);
    for (let q = s; q < e; q++) {
      if (opts.skipQueries?.has(q)) continue;
      const count = res.counts ? Number(res.counts[q - s]) : kk;
      // the index holds f16 vectors; the similarities reported are the exact f32 ones
      rescore(queries, dim, q, res.keys, (q - s) * kk, Math.min(count, kk), -1, base).forEach((hit, r) => {
        indices[q * k + r] = hit.id;
        similarities[q * k + r] = hit.sim;
      });
    }
    opts.onProgress?.(e);
  }
  return { k, indices, similarities };
}

/** Exact up to EXACT_CROSS_WORK multiply-adds (or when asked), the HNSW index above. */
export function nearestNeighbours(
  queries: Float32Array,
  base: Float32Array,
  dim: number,
  k: number,
  opts: Parameters<typeof crossKnn>[4] & { method?: 'exact' | 'approximate' | 'auto' } = {},
): CrossKnn {
  const work = (queries.length / dim) * base.length;
  const method = opts.method ?? 'auto';
  if (method === 'exact' || (method === 'auto' && work <= EXACT_CROSS_WORK)) return crossKnn(queries, base, dim, k, opts);
  return approximateCrossKnn(queries, base, dim, k, opts);
}
