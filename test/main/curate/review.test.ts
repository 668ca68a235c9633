import { describe, expect, it } from 'vitest';
import { Catalog } from '../../../main/catalog/catalog.js';
import { applyReview, kmeans, pca2, removalCurve, thresholdAt } from '../../../main/curate/review.js';

/** Naive reference: for one threshold, components of the graph of edges ≥ t, counted by flood fill. */
function naiveRemoved(n: number, edges: { i: number; j: number; similarity: number }[], t: number): number {
  const adj = Array.from({ length: n }, () => [] as number[]);
  for (const e of edges) if (e.similarity >= t) (adj[e.i]!.push(e.j), adj[e.j]!.push(e.i));
  const seen = new Array<boolean>(n).fill(false);
  let components = 0;
  for (let s = 0; s < n; s++) {
    if (seen[s]) continue;
    components++;
    const stack = [s];
    seen[s] = true;
    while (stack.length) for (const v of adj[stack.pop()!]!) if (!seen[v]) ((seen[v] = true), stack.push(v));
  }
  return n - components;
}

describe('review', () => {
  it('removalCurve matches a per-threshold flood fill', () => {
    let seed = 3;
    const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const n = 60;
    const edges = Array.from({ length: 120 }, () => ({ i: Math.floor(rnd() * n), j: Math.floor(rnd() * n), similarity: 0.5 + rnd() * 0.5 })).filter((e) => e.i !== e.j);
    edges.push({ i: 1, j: 2, similarity: 0.7 }); // exactly on a threshold
    const curve = removalCurve(n, edges);
    expect(curve).toHaveLength(501);
    for (const idx of [0, 1, 100, 200, 250, 400, 499, 500]) expect(curve[idx], `t=${thresholdAt(idx)}`).toBe(naiveRemoved(n, edges, thresholdAt(idx)));
    expect(curve[0]).toBeGreaterThan(curve[500]!);
  });

  it('pca2 finds the axis of most variance and kmeans splits two blobs', () => {
    // points along (1,1,0) with small noise in z: the first component explains nearly everything
    const rows: number[] = [];
    for (let i = 0; i < 50; i++) rows.push(i, i, (i % 3) * 0.01);
    const { coords, explained } = pca2(new Float32Array(rows), 3);
    expect(explained[0]).toBeGreaterThan(0.99);
    expect(Math.abs(coords[2 * 49]! - coords[0]!)).toBeCloseTo(49 * Math.SQRT2, 2);
    const blobs = new Float32Array([0, 0, 0.1, 0, 0, 0.1, 10, 10, 10.1, 10, 10, 10.1]);
    const a = kmeans(blobs, 2, 2, 10);
    expect(a[0]).toBe(a[1]);
    expect(a[0]).toBe(a[2]);
    expect(a[3]).toBe(a[5]);
    expect(a[0]).not.toBe(a[3]);
  });

  it('applyReview removes only the accepted images, in a new curated version, and refuses strangers', () => {
    const catalog = Catalog.open(':memory:');
    const id = catalog.ensureImportDataset('pool');
    const folderId = catalog.upsertFolder(id, '/nowhere', false);
    catalog.upsertImages(
      id,
      Array.from({ length: 5 }, (_, i) => ({
        path: `/nowhere/${i}.jpg`, folderId, bytes: 100, mtimeMs: 1, width: 8, height: 8, format: 'jpeg',
        sha256: String(i).padStart(64, '0'), phash: null, label: null, status: 'ok' as const, error: null, thumbnail: false,
      })),
    );
    const ids = catalog.datasetImages(id).map((img) => img.id);
    expect(() => applyReview(catalog, { dataset: 'pool', name: 'x', remove: [999999] })).toThrow(/not in dataset/);
    expect(() => applyReview(catalog, { dataset: 'pool', name: 'pool', remove: [] })).toThrow(/already exists/);
    const r = applyReview(catalog, { dataset: 'pool', name: 'pool-curated', remove: [ids[1]!, ids[3]!] });
    expect(r).toMatchObject({ imageCount: 3, removed: 2 });
    expect(catalog.datasetImages(r.datasetId).map((img) => img.id)).toEqual([ids[0], ids[2], ids[4]]);
    expect(catalog.datasetImages(id)).toHaveLength(5);
    catalog.close();
  });
});
