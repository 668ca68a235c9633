import { describe, expect, it } from 'vitest';
import { CancelledError } from '../../../main/common/errors.js';
import { mulberry32 } from '../../../main/common/random.js';
import type { KnnGraph } from '../../../main/curate/knn.js';
import { fitCurve, fuzzyMemberships, fuzzyUnion, pca2, umap } from '../../../main/curate/umap.js';

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/**
 * Eight Gaussian clusters whose centres lie on eight orthogonal axes of a 64-d space. The centres span 7 equal
 * directions of variance, so any 2-D linear projection (PCA's included) lays several clusters on top of each other.
 */
function orthogonalClusters(perCluster: number, seed: number) {
  const clusters = 8;
  const dim = 64;
  const n = clusters * perCluster;
  const rand = mulberry32(seed);
  const data = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % clusters;
    for (let d = 0; d < dim; d++) data[i * dim + d] = (d === labels[i] ? 6 : 0) + gaussian(rand);
  }
  return { data, labels, n, dim };
}

/** Naive reference: each row's k nearest other rows by squared Euclidean distance. */
function nearest(points: ArrayLike<number>, dim: number, k: number): number[][] {
  const n = points.length / dim;
  return Array.from({ length: n }, (_, i) => {
    const ds: [number, number][] = [];
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      let s = 0;
      for (let d = 0; d < dim; d++) s += (points[i * dim + d]! - points[j * dim + d]!) ** 2;
      ds.push([s, j]);
    }
    return ds.sort((a, b) => a[0] - b[0]).slice(0, k).map(([, j]) => j);
  });
}

function unitRows(data: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(data);
  for (let o = 0; o < out.length; o += dim) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += out[o + d]! ** 2;
    for (let d = 0; d < dim; d++) out[o + d]! /= Math.sqrt(s);
  }
  return out;
}

/** How well a 2-D layout keeps the high-d structure. */
function layoutQuality(coords: Float32Array, highNeighbours: number[][], labels: Int32Array) {
  const k = 10;
  const low = nearest(coords, 2, k);
  const n = labels.length;
  let kept = 0;
  let sameCluster = 0;
  for (let i = 0; i < n; i++) {
    const near = new Set(low[i]);
    kept += highNeighbours[i]!.filter((j) => near.has(j)).length / k;
    sameCluster += low[i]!.filter((j) => labels[j] === labels[i]).length / k;
  }
  // Separation: the closest pair of cluster centres over the largest cluster's mean radius.
  const clusters = Math.max(...labels) + 1;
  const cx = new Float64Array(clusters);
  const cy = new Float64Array(clusters);
  const count = new Float64Array(clusters);
  for (let i = 0; i < n; i++) (cx[labels[i]!]! += coords[2 * i]!), (cy[labels[i]!]! += coords[2 * i + 1]!), count[labels[i]!]!++;
  for (let c = 0; c < clusters; c++) (cx[c]! /= count[c]!), (cy[c]! /= count[c]!);
  const radius = new Float64Array(clusters);
  for (let i = 0; i < n; i++) radius[labels[i]!]! += Math.hypot(coords[2 * i]! - cx[labels[i]!]!, coords[2 * i + 1]! - cy[labels[i]!]!) / count[labels[i]!]!;
  let closest = Infinity;
  for (let c = 0; c < clusters; c++) for (let e = c + 1; e < clusters; e++) closest = Math.min(closest, Math.hypot(cx[c]! - cx[e]!, cy[c]! - cy[e]!));
  return { kept: kept / n, sameCluster: sameCluster / n, separation: closest / Math.max(...radius) };
}

const finite = (coords: Float32Array) => coords.every((v) => Number.isFinite(v));

describe('umap', () => {
  const { data, labels, dim } = orthogonalClusters(100, 7);
  const high = nearest(unitRows(data, dim), dim, 10);

  it('keeps neighbourhoods and separates clusters where PCA overlaps them; a layout without SGD does not pass', async () => {
    const layout = await umap(data, dim, { seed: 1 });
    const pca = pca2(unitRows(data, dim), dim).coords;
    const start = await umap(data, dim, { seed: 1, epochs: 0 });
    const u = layoutQuality(layout.coords, high, labels);
    const p = layoutQuality(pca, high, labels);
    const s = layoutQuality(start.coords, high, labels);
    // The thresholds the layout has to meet, and that PCA (and UMAP's own PCA start, i.e. a broken run) must miss.
    const good = (q: { kept: number; sameCluster: number; separation: number }) => q.kept >= 2 * p.kept && q.kept >= 0.1 && q.sameCluster >= 0.95 && q.separation >= 2;
    expect(good(u), `umap ${JSON.stringify(u)} vs pca ${JSON.stringify(p)}`).toBe(true);
    expect(good(p), `pca ${JSON.stringify(p)}`).toBe(false);
    expect(good(s), `no-SGD ${JSON.stringify(s)}`).toBe(false);
    expect(p.sameCluster).toBeLessThan(0.8);
    expect(finite(layout.coords)).toBe(true);
    expect(layout).toMatchObject({ n: 800, k: 15, epochs: 200 });
  }, 60_000);

  it('is deterministic for a seed and differs across seeds', async () => {
    const small = data.subarray(0, 200 * dim);
    const a = await umap(small, dim, { seed: 5, epochs: 50 });
    const b = await umap(small, dim, { seed: 5, epochs: 50 });
    const c = await umap(small, dim, { seed: 6, epochs: 50 });
    expect(Array.from(b.coords)).toEqual(Array.from(a.coords));
    expect(Array.from(c.coords)).not.toEqual(Array.from(a.coords));
  });

  it('reports each epoch and stops with CancelledError when aborted mid-layout', async () => {
    const small = data.subarray(0, 200 * dim);
    const stages: string[] = [];
    const seen: number[] = [];
    await umap(small, dim, { epochs: 30, onStage: (s, total) => stages.push(`${s}:${total}`), onProgress: (d) => seen.push(d) });
    expect(stages).toEqual(['neighbours:200', 'layout:30']);
    expect(seen.slice(-30)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const controller = new AbortController();
    let epochs = 0;
    const run = umap(small, dim, {
      epochs: 100,
      signal: controller.signal,
      onStage: (s) => s === 'layout' && (epochs = 0),
      onProgress: (d) => {
        epochs = d;
        if (d === 10) controller.abort();
      },
    });
    await expect(run).rejects.toBeInstanceOf(CancelledError);
    expect(epochs).toBe(10);
  });

  it('survives degenerate input: none, one, fewer points than k, all identical, duplicates, zero rows', async () => {
    expect((await umap(new Float32Array(0), 4)).coords).toHaveLength(0);
    expect(Array.from((await umap(new Float32Array([1, 2, 3]), 3)).coords)).toEqual([0, 0]);
    for (const n of [2, 3, 6]) {
      const r = await umap(data.subarray(0, n * dim), dim);
      expect(r.k).toBe(n - 1);
      expect(finite(r.coords)).toBe(true);
    }
    const same = new Float32Array(40 * 8).fill(0.5);
    expect(finite((await umap(same, 8)).coords)).toBe(true);
    // Two groups of 30 exact copies each: every point's first neighbours are at distance 0.
    const dup = new Float32Array(60 * 8);
    for (let i = 0; i < 60; i++) dup[i * 8 + (i < 30 ? 0 : 1)] = 1;
    const r = await umap(dup, 8, { seed: 2 });
    expect(finite(r.coords)).toBe(true);
    const q = layoutQuality(r.coords, nearest(dup, 8, 10), Int32Array.from({ length: 60 }, (_, i) => (i < 30 ? 0 : 1)));
    expect(q.sameCluster).toBe(1);
    const zeros = new Float32Array(20 * 4);
    zeros.set([1, 0, 0, 0, 0, 1, 0, 0], 0);
    expect(finite((await umap(zeros, 4)).coords)).toBe(true);
  });

  it('rejects non-finite vectors and bad options with a clear error', async () => {
    await expect(umap(new Float32Array([1, Number.NaN, 0, 1]), 2)).rejects.toThrow(/vector 0 has a non-finite value/);
    await expect(umap(new Float32Array(5), 2)).rejects.toThrow(/whole number/);
    await expect(umap(new Float32Array(8), 2, { nNeighbors: 0 })).rejects.toThrow(/nNeighbors/);
    await expect(umap(new Float32Array(8), 2, { minDist: 2 })).rejects.toThrow(/minDist/);
    await expect(umap(new Float32Array(8), 2, { epochs: -1 })).rejects.toThrow(/epochs/);
  });

  it('lays out through the approximate (HNSW) graph as well', async () => {
    const r = await umap(data, dim, { knnMethod: 'approximate', seed: 1, epochs: 100 });
    expect(layoutQuality(r.coords, high, labels).sameCluster).toBeGreaterThanOrEqual(0.95);
  }, 60_000);
});

describe('umap parts', () => {
  it('fits the curve the paper tabulates: min_dist 0.1 → a ≈ 1.577, b ≈ 0.895', () => {
    const { a, b } = fitCurve(0.1, 1);
    expect(a).toBeCloseTo(1.577, 2);
    expect(b).toBeCloseTo(0.895, 2);
    // min_dist 0.5 gives a flatter top: smaller a, steeper b
    const wide = fitCurve(0.5, 1);
    expect(wide.a).toBeLessThan(a);
    expect(wide.b).toBeGreaterThan(b);
  });

  it('memberships sum to log2(k) per row, the nearest distinct neighbour gets 1, and the union is a + b - ab', () => {
    const rand = mulberry32(3);
    const n = 40;
    const k = 6;
    const graph: KnnGraph = { n, k, indices: new Int32Array(n * k), similarities: new Float32Array(n * k) };
    for (let i = 0; i < n; i++) {
      const picks = new Set<number>();
      while (picks.size < k) {
        const j = Math.floor(rand() * n);
        if (j !== i) picks.add(j);
      }
      const sims = Array.from({ length: k }, () => 0.2 + 0.7 * rand()).sort((x, y) => y - x);
      [...picks].forEach((j, r) => ((graph.indices[i * k + r] = j), (graph.similarities[i * k + r] = sims[r]!)));
    }
    const m = fuzzyMemberships(graph, k);
    for (let i = 0; i < n; i++) {
      const row = Array.from(m.subarray(i * k, (i + 1) * k));
      expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(Math.log2(k), 3);
      expect(row[0]).toBe(1);
    }
    // Naive reference: a dense matrix of directed memberships, then its fuzzy union.
    const dense = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let r = 0; r < k; r++) dense[i * n + graph.indices[i * k + r]!] = m[i * k + r]!;
    const edges = fuzzyUnion(graph, m, k);
    const seen = new Set<number>();
    let expected = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (dense[i * n + j]! > 0 || dense[j * n + i]! > 0) expected++;
    expect(edges.head.length).toBe(expected);
    for (let e = 0; e < edges.head.length; e++) {
      const [i, j] = [edges.head[e]!, edges.tail[e]!];
      const key = Math.min(i, j) * n + Math.max(i, j);
      expect(seen.has(key)).toBe(false);
      seen.add(key);
      const x = dense[i * n + j]!;
      const y = dense[j * n + i]!;
      expect(edges.weight[e]).toBeCloseTo(x + y - x * y, 5);
    }
  });
});
