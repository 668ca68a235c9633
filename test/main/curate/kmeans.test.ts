import { describe, expect, it } from 'vitest';
import { capClusters } from '../../../main/curate/balance.js';
import { crossKnn, nearestNeighbours } from '../../../main/curate/cross-knn.js';
import { mulberry32 } from '../../../main/common/random.js';
import { defaultClusterCount, kmeans } from '../../../main/curate/kmeans.js';

/** `perCluster` points around each of `centres` well-separated centres (unit-variance noise × `spread`). */
function blobs(centres: number, perCluster: number, dim: number, spread: number, seed: number) {
  const random = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const means = Array.from({ length: centres }, () => Array.from({ length: dim }, () => 20 * (random() - 0.5)));
  const n = centres * perCluster;
  const data = new Float32Array(n * dim);
  const truth = new Int32Array(n);
  // Interleave clusters so that their order in memory says nothing.
  for (let i = 0; i < n; i++) {
    const c = i % centres;
    truth[i] = c;
    for (let d = 0; d < dim; d++) data[i * dim + d] = means[c]![d]! + spread * gauss();
  }
  return { data, truth, n };
}

/** Whether two labellings are the same partition (cluster ids may differ). */
function samePartition(a: Int32Array, b: Int32Array): boolean {
  const ab = new Map<number, number>();
  const ba = new Map<number, number>();
  for (let i = 0; i < a.length; i++) {
    if ((ab.get(a[i]!) ?? b[i]) !== b[i] || (ba.get(b[i]!) ?? a[i]) !== a[i]) return false;
    ab.set(a[i]!, b[i]!);
    ba.set(b[i]!, a[i]!);
  }
  return true;
}

/** Naive reference: nearest centroid by direct squared distance. */
function naiveAssign(data: Float32Array, dim: number, centroids: Float32Array, k: number): Int32Array {
  const n = data.length / dim;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += (data[i * dim + d]! - centroids[c * dim + d]!) ** 2;
      if (s < best) {
        best = s;
        out[i] = c;
      }
    }
  }
  return out;
}

describe('kmeans', () => {
  it('recovers well-separated clusters exactly', () => {
    const { data, truth } = blobs(8, 60, 16, 0.5, 1);
    const r = kmeans(data, 16, { k: 8, seed: 3 });
    expect(samePartition(r.assignments, truth)).toBe(true);
    expect(r.iterations).toBeLessThan(25);
  });

  it('is reproducible by seed, and its assignments are the nearest centroids', () => {
    const { data } = blobs(5, 80, 8, 3, 2);
    const a = kmeans(data, 8, { k: 7, seed: 11 });
    const b = kmeans(data, 8, { k: 7, seed: 11 });
    expect(Array.from(b.assignments)).toEqual(Array.from(a.assignments));
    expect(Array.from(b.centroids)).toEqual(Array.from(a.centroids));
    expect(Array.from(naiveAssign(data, 8, a.centroids, 7))).toEqual(Array.from(a.assignments));
    // k clusters come back, none empty
    expect(new Set(a.assignments).size).toBe(7);
  });

  it('with the init sampled (more points than initSample) still separates the clusters', () => {
    const { data, truth } = blobs(6, 100, 8, 0.5, 4);
    const r = kmeans(data, 8, { k: 6, seed: 5, initSample: 60 });
    expect(samePartition(r.assignments, truth)).toBe(true);
  });

  it('trained on a sample (more points than trainSample), still assigns every point to its nearest centroid', () => {
    const { data, truth } = blobs(5, 200, 8, 0.5, 6);
    const r = kmeans(data, 8, { k: 5, seed: 2, trainSample: 100 });
    expect(samePartition(r.assignments, truth)).toBe(true);
    expect(Array.from(naiveAssign(data, 8, r.centroids, 5))).toEqual(Array.from(r.assignments));
    expect(Array.from(kmeans(data, 8, { k: 5, seed: 2, trainSample: 100 }).assignments)).toEqual(Array.from(r.assignments));
  });

  it('refuses bad k with a clear error', () => {
    const { data } = blobs(2, 3, 4, 1, 1);
    expect(() => kmeans(data, 4, { k: 0 })).toThrow(/positive integer/);
    expect(() => kmeans(data, 4, { k: 7 })).toThrow(/7 clusters asked for 6 vectors/);
    expect(defaultClusterCount(10_000)).toBe(100);
  });
});

describe('capClusters', () => {
  const assignments = Int32Array.from([0, 0, 0, 0, 1, 1, 2]);
  const distances = Float32Array.from([0.4, 0.1, 0.3, 0.2, 0.5, 0.6, 0.9]);
  it('nearest keeps the cap closest to each centroid', () => {
    expect(capClusters(assignments, distances, 3, 2, 'nearest')).toEqual([1, 3, 4, 5, 6]);
  });
  it('random keeps cap per cluster, reproducibly by seed', () => {
    const a = capClusters(assignments, distances, 3, 2, 'random', 9);
    expect(a).toEqual(capClusters(assignments, distances, 3, 2, 'random', 9));
    expect(a.filter((i) => assignments[i] === 0)).toHaveLength(2);
    expect(a).toEqual(expect.arrayContaining([4, 5, 6]));
    const draws = new Set(Array.from({ length: 20 }, (_, s) => capClusters(assignments, distances, 3, 2, 'random', s).join(',')));
    expect(draws.size).toBeGreaterThan(1);
  });
});

describe('crossKnn', () => {
  it('matches a brute-force top-k, skipping the rows it is told to', () => {
    const dim = 6;
    const q = blobs(3, 7, dim, 2, 7).data;
    const b = blobs(4, 30, dim, 2, 8).data;
    const k = 5;
    const skip = new Set([3, 17]);
    const r = crossKnn(q, b, dim, k, { skipBase: skip });
    for (let i = 0; i < q.length / dim; i++) {
      const sims = Array.from({ length: b.length / dim }, (_, j) => {
        let s = 0;
        for (let d = 0; d < dim; d++) s += q[i * dim + d]! * b[j * dim + d]!;
        return { j, s };
      })
        .filter((x) => !skip.has(x.j))
        .sort((x, y) => y.s - x.s)
        .slice(0, k);
      expect(Array.from(r.indices.subarray(i * k, i * k + k))).toEqual(sims.map((x) => x.j));
    }
  });
});

describe('nearestNeighbours (approximate)', () => {
  it('finds the exact nearest base vector for at least 95% of queries on clustered, normalised vectors', () => {
    const dim = 32;
    const norm = (v: Float32Array) => {
      for (let i = 0; i < v.length / dim; i++) {
        let s = 0;
        for (let d = 0; d < dim; d++) s += v[i * dim + d]! ** 2;
        const inv = 1 / Math.sqrt(s);
        for (let d = 0; d < dim; d++) v[i * dim + d]! *= inv;
      }
      return v;
    };
    const base = norm(blobs(40, 100, dim, 2, 21).data);
    const q = norm(blobs(40, 10, dim, 2, 21).data.slice());
    const exact = nearestNeighbours(q, base, dim, 1, { method: 'exact' });
    const approx = nearestNeighbours(q, base, dim, 1, { method: 'approximate', skipBase: new Set([5]) });
    expect(Array.from(approx.indices)).not.toContain(5);
    let hit = 0;
    for (let i = 0; i < q.length / dim; i++) if (approx.indices[i] === exact.indices[i] || exact.indices[i] === 5) hit++;
    const recall = hit / (q.length / dim);
    console.log(`approximate cross kNN recall@1 ${recall.toFixed(3)} (400 queries, 4000 base vectors)`);
    expect(recall).toBeGreaterThanOrEqual(0.95);
    // the similarity reported is the dot product with the vector returned
    const j = approx.indices[0]!;
    let dot = 0;
    for (let d = 0; d < dim; d++) dot += q[d]! * base[j * dim + d]!;
    expect(approx.similarities[0]).toBeCloseTo(dot, 4);
  });
});
