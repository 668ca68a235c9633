import { describe, expect, it, vi } from 'vitest';
import { CurioError } from '../../../main/common/errors.js';
import type * as Knn from '../../../main/curate/knn.js';

const methods: string[] = [];
// As if usearch's native binding did not load on this platform.
vi.mock('../../../main/curate/knn.js', async (importOriginal) => {
  const real = await importOriginal<typeof Knn>();
  return {
    ...real,
    knnGraph: (data: Float32Array, dim: number, opts: Parameters<typeof real.knnGraph>[2]) => {
      methods.push(opts.method ?? 'auto');
      if (opts.method === 'approximate') throw new CurioError('failed', 'the approximate kNN index (usearch) does not load here');
      return real.knnGraph(data, dim, opts);
    },
  };
});

const { UMAP_EXACT_KNN_LIMIT, umap } = await import('../../../main/curate/umap.js');

describe('umap without usearch', () => {
  it('lays out large inputs on the exact graph, and says so only when HNSW was asked for by name', async () => {
    const n = UMAP_EXACT_KNN_LIMIT + 1;
    const dim = 4;
    const data = new Float32Array(n * dim).map((_, i) => Math.sin(i * 0.37) + ((i >> 2) % 2));
    const r = await umap(data, dim, { epochs: 2 });
    expect(methods).toEqual(['approximate', 'exact']);
    expect(r.coords.every(Number.isFinite)).toBe(true);
    await expect(umap(data, dim, { epochs: 2, knnMethod: 'approximate' })).rejects.toThrow(/usearch/);
  });
});
