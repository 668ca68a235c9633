import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../../../main/catalog/catalog.js';
import { EventBus } from '../../../main/common/event-bus.js';
import { JobManager } from '../../../main/common/jobs.js';
import { embedImages } from '../../../main/curate/embeddings.js';
import { applyReview, kmeans, pca2, projectMap, removalCurve, runReview, thresholdAt, UMAP_MIN_POINTS } from '../../../main/curate/review.js';
import type { JobContext } from '../../../main/common/jobs.js';
import { CancelledError } from '../../../main/common/errors.js';
import { ReviewInput } from '../../../shared/contract/curate-review.js';

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

  it('the map is UMAP from UMAP_MIN_POINTS points on, PCA below, and a cancelled job stops the layout', async () => {
    const phases: string[] = [];
    const controller = new AbortController();
    const ctx: JobContext = {
      jobId: 'test',
      signal: controller.signal,
      throwIfCancelled: () => {
        if (controller.signal.aborted) throw new CancelledError();
      },
      setPhase: (phase) => phases.push(phase),
      setTotal: () => {},
      progress: (done) => {
        if (phases.at(-1) === 'map' && done === 5) controller.abort();
      },
    };
    const rows = (n: number) => new Float32Array(n * 3).map((_, i) => Math.sin(i * 1.7) + (i % 3 === Math.floor(i / 30) % 3 ? 2 : 0));
    const few = await projectMap(rows(UMAP_MIN_POINTS - 1), 3, undefined, ctx);
    expect(few.projection).toBe('pca');
    expect(few.coords).toHaveLength(2 * (UMAP_MIN_POINTS - 1));
    await expect(projectMap(rows(60), 3, undefined, ctx)).rejects.toBeInstanceOf(CancelledError);
    expect(phases).toEqual(['map neighbours', 'map']);
    const ok = await projectMap(rows(60), 3, undefined, { ...ctx, signal: new AbortController().signal, progress: () => {} });
    expect(ok.projection).toBe('umap');
    expect(ok.coords.every(Number.isFinite)).toBe(true);
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

  it('runReview on real files: every image in the histogram and on the map, each nearest matches a brute-force max', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-review-'));
    try {
      const files: string[] = [];
      for (let i = 0; i < 6; i++) {
        const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="48" height="48"><rect width="48" height="48" fill="rgb(${40 * i},90,${200 - 30 * i})"/><circle cx="${8 + 6 * i}" cy="${40 - 5 * i}" r="${6 + i}" fill="white"/></svg>`;
        const f = path.join(dir, `img-${i}.png`);
        await sharp(Buffer.from(svg)).png().toFile(f);
        files.push(f);
      }
      const copy = path.join(dir, 'copy-3.jpg');
      await sharp(files[3]!).resize(40, 40).jpeg({ quality: 80 }).toFile(copy);
      files.push(copy);
      const catalog = Catalog.open(':memory:');
      const id = catalog.ensureImportDataset('pool');
      const folderId = catalog.upsertFolder(id, dir, false);
      catalog.upsertImages(
        id,
        files.map((f, i) => ({
          path: f, folderId, bytes: fs.statSync(f).size, mtimeMs: 1, width: 48, height: 48, format: f.endsWith('.png') ? 'png' : 'jpeg',
          sha256: String(i + 1).padStart(64, '0'), phash: null, label: null, status: 'ok' as const, error: null, thumbnail: false,
        })),
      );
      const jobs = new JobManager(new EventBus());
      const r = await jobs.start('embed', (ctx) => runReview(catalog, ReviewInput.parse({ dataset: 'pool', k: 3 }), ctx)).promise;
      expect(r.imageCount).toBe(7);
      expect(r.nearestHistogram.reduce((a, b) => a + b, 0)).toBe(7);
      expect(r.points).toHaveLength(7);
      // Seven images are enough for the UMAP layout; every point lands somewhere finite.
      expect(r.projection).toBe('umap');
      expect(r.points.every((p) => Number.isFinite(p.x) && Number.isFinite(p.y))).toBe(true);
      for (let i = 1; i < r.removedAt.length; i++) expect(r.removedAt[i]!).toBeLessThanOrEqual(r.removedAt[i - 1]!);
      // Naive reference: each image's best dot product with any other, from the same cached descriptors.
      const images = catalog.datasetImages(id);
      const emb = await jobs.start('embed', (ctx) => embedImages(catalog, images, ctx)).promise;
      const best = images.map((_, i) => {
        let m = -Infinity;
        for (let j = 0; j < images.length; j++) {
          if (j === i) continue;
          let dot = 0;
          for (let d = 0; d < emb.dim; d++) dot += emb.vectors[i * emb.dim + d]! * emb.vectors[j * emb.dim + d]!;
          m = Math.max(m, dot);
        }
        return m;
      });
      images.forEach((img, i) => expect(r.points.find((p) => p.imageId === img.id)!.nearest!).toBeCloseTo(best[i]!, 3));
      // At the very top threshold only pairs at ≥ 1 join; at the lowest, every edge ≥ 0.5 among 7 images.
      const top = Math.max(...best);
      expect(r.removedAt[r.removedAt.length - 1]).toBe(top >= 1 ? 1 : 0);
      expect(r.removedAt[0]!).toBeLessThanOrEqual(6);
      expect(r.removedAt[Math.floor((top - 0.5) / 0.001)]!).toBeGreaterThanOrEqual(1);
      catalog.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
