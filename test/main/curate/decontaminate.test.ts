import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../../main/catalog/catalog.js';
import { EventBus } from '../../../main/common/event-bus.js';
import { JobManager } from '../../../main/common/jobs.js';
import { runBalance, runRetrieve } from '../../../main/curate/balance.js';
import { runDecontaminate } from '../../../main/curate/decontaminate.js';
import { importFolders } from '../../../main/ingest/import.js';
import { nearCopy, picture, write } from './curate-fixtures.js';

describe('decontamination, balancing and retrieval on a small catalog', () => {
  let tmp: string;
  let catalog: Catalog;
  const jobs = new JobManager(new EventBus());
  const planted = new Set<string>();

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-decon-'));
    const poolDir = path.join(tmp, 'pool');
    const evalDir = path.join(tmp, 'eval');
    // 24 distinct pool pictures, 6 distinct eval pictures, and near-copies of 4 of the eval pictures in the pool.
    for (let i = 0; i < 24; i++) write(poolDir, `p${String(i).padStart(2, '0')}.png`, await picture(i));
    for (let e = 0; e < 6; e++) {
      const png = await picture(100 + e);
      write(evalDir, `e${e}.png`, png);
      if (e < 4) planted.add(write(poolDir, `copy-of-e${e}.jpg`, await nearCopy(png)));
    }
    catalog = Catalog.open(path.join(tmp, 'catalog.db'));
    for (const [dir, dataset] of [[poolDir, 'pool'], [evalDir, 'eval']] as const) {
      await jobs.start('import', (ctx) => importFolders(catalog, { folders: [dir], dataset, labelsFromFolders: false, thumbnailDir: path.join(tmp, 'thumbs') }, ctx)).promise;
    }
  });
  afterAll(() => {
    catalog?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const decon = (extra: { cosine?: number; apply?: string } = {}) =>
    jobs.start('curate', (ctx) => runDecontaminate(catalog, { dataset: 'pool', against: 'eval', cosine: 0.9, ...extra }, ctx)).promise;

  it('removes exactly the planted near-copies of evaluation images, and reports only without --apply', async () => {
    const r = await decon();
    console.log(`decontamination: planted copies at cosine ${r.contaminated.map((c) => c.similarity).join(', ')}`);
    expect(new Set(r.contaminated.map((c) => c.path))).toEqual(planted);
    for (const c of r.contaminated) expect(path.basename(c.path)).toBe(`copy-of-${path.basename(c.evalPath, '.png')}.jpg`);
    expect(r.removed).toBe(4);
    expect(r.kept).toBe(24);
    expect(r.applied).toBeNull();
    expect(catalog.listDatasets().map((d) => d.name).sort()).toEqual(['eval', 'pool']);
    // The distinct pictures sit well below the threshold, so the test separates rather than merely passes.
    const loose = await decon({ cosine: 0.5 });
    const others = loose.contaminated.filter((c) => !planted.has(c.path)).map((c) => c.similarity);
    const margin = Math.max(0.5, ...others);
    console.log(`decontamination: highest cosine of an unrelated pool image to an eval image ${margin}`);
    expect(margin).toBeLessThan(0.9);
  });

  it('--apply makes a curated version without them; the originals stay on disk', async () => {
    const r = await decon({ apply: 'pool-clean' });
    const id = catalog.datasetIdByName('pool-clean');
    expect(r.applied).toEqual({ name: 'pool-clean', datasetId: id, imageCount: 24 });
    expect(catalog.getDataset(id).kind).toBe('curated');
    const paths = catalog.datasetImages(id).map((i) => i.path);
    expect(paths.some((p) => planted.has(p))).toBe(false);
    for (const p of planted) expect(fs.existsSync(p)).toBe(true);
    await expect(decon({ apply: 'pool-clean' })).rejects.toThrow(/already exists/);
  });

  it('a cancelled job leaves the catalog unchanged', async () => {
    const before = catalog.listDatasets().length;
    const job = jobs.start('curate', (ctx) => runDecontaminate(catalog, { dataset: 'pool', against: 'eval', cosine: 0.9, apply: 'never' }, ctx));
    jobs.cancel(job.jobId);
    await expect(job.promise).rejects.toThrow(/cancel/i);
    expect(catalog.listDatasets().length).toBe(before);
    expect(catalog.findDatasetByName('never')).toBeUndefined();
  });

  it('apply is atomic: a failure while writing members leaves no dataset behind', () => {
    const poolId = catalog.datasetIdByName('pool');
    const good = catalog.datasetImages(poolId).slice(0, 3).map((i) => ({ imageId: i.id, label: i.label }));
    // The third member names an image that does not exist, so the insert fails after the dataset row was made.
    expect(() => catalog.createDerivedDataset('half', 'curated', poolId, [...good, { imageId: 999_999, label: null }])).toThrow();
    expect(catalog.findDatasetByName('half')).toBeUndefined();
  });

  it('the phash distance adds hash matches, each a planted copy of the eval image it names', async () => {
    const r = await jobs.start('curate', (ctx) => runDecontaminate(catalog, { dataset: 'pool', against: 'eval', cosine: 1, phashDistance: 4 }, ctx)).promise;
    const byPhash = r.contaminated.filter((c) => c.match === 'phash');
    console.log(`decontamination by phash ≤ 4: ${byPhash.length} of ${planted.size} planted copies, ${r.removed} removed in all`);
    // dHash on these small synthetic pictures is coarse: at ≤ 4 bits it finds some copies and nothing else.
    expect(byPhash.length).toBeGreaterThan(0);
    for (const c of byPhash) expect(path.basename(c.path)).toBe(`copy-of-${path.basename(c.evalPath, '.png')}.jpg`);
    expect(r.removed).toBe(r.contaminated.length);
  });

  it('a cancelled balance leaves the catalog unchanged', async () => {
    const job = jobs.start('curate', (ctx) => runBalance(catalog, { dataset: 'pool', keep: 'nearest', seed: 0, maxIterations: 25, apply: 'never-bal' }, ctx));
    jobs.cancel(job.jobId);
    await expect(job.promise).rejects.toThrow(/cancel/i);
    expect(catalog.findDatasetByName('never-bal')).toBeUndefined();
  });

  it('a pool image with the same bytes as an eval image is an exact match', async () => {
    const poolImages = catalog.datasetImages(catalog.datasetIdByName('pool'));
    const evalImages = catalog.datasetImages(catalog.datasetIdByName('eval'));
    const shared = poolImages.find((i) => path.basename(i.path) === 'p05.png')!;
    const members = [...evalImages, shared].map((i) => ({ imageId: i.id, label: i.label }));
    catalog.createDerivedDataset('eval-plus', 'curated', catalog.datasetIdByName('eval'), members);
    const r = await jobs.start('curate', (ctx) => runDecontaminate(catalog, { dataset: 'pool', against: 'eval-plus', cosine: 0.9 }, ctx)).promise;
    expect(r.contaminated.find((c) => c.match === 'exact')).toEqual({ imageId: shared.id, path: shared.path, evalPath: shared.path, similarity: 1, match: 'exact' });
    expect(r.removed).toBe(planted.size + 1);
  });

  it('rejects a threshold out of range', async () => {
    await expect(decon({ cosine: 1.2 })).rejects.toThrow(/cosine threshold must be in 0.5..1/);
  });

  it('balance caps every cluster and is reproducible by seed', async () => {
    const a = await jobs.start('curate', (ctx) => runBalance(catalog, { dataset: 'pool', clusters: 4, perCluster: 3, keep: 'nearest', seed: 7, maxIterations: 25 }, ctx)).promise;
    expect(a.clusterSizes.reduce((s, x) => s + x, 0)).toBe(28);
    expect(a.keptSizes).toEqual(a.clusterSizes.map((s) => Math.min(3, s)));
    expect(a.kept).toBe(a.keptSizes.reduce((s, x) => s + x, 0));
    expect(a.removed).toBe(28 - a.kept);
    const b = await jobs.start('curate', (ctx) => runBalance(catalog, { dataset: 'pool', clusters: 4, perCluster: 3, keep: 'nearest', seed: 7, maxIterations: 25, apply: 'pool-bal' }, ctx)).promise;
    expect(b.clusterSizes).toEqual(a.clusterSizes);
    expect(catalog.datasetImages(b.applied!.datasetId)).toHaveLength(a.kept);
    // default k is √N rounded (√28 → 5) and the default cap is the mean cluster size
    const d = await jobs.start('curate', (ctx) => runBalance(catalog, { dataset: 'pool', keep: 'random', seed: 1, maxIterations: 25 }, ctx)).promise;
    expect(d.clusters).toBe(5);
    expect(d.perCluster).toBe(Math.ceil(28 / 5));
  });

  it('retrieval keeps the union of each seed image’s nearest pool images', async () => {
    // Seeds are the eval images; each one's nearest pool image is its planted copy (for the four that have one).
    const r1 = await jobs.start('curate', (ctx) => runRetrieve(catalog, { dataset: 'pool', seedDataset: 'eval', perImage: 1, apply: 'pool-near-eval' }, ctx)).promise;
    const kept = new Set(catalog.datasetImages(r1.applied!.datasetId).map((i) => i.path));
    for (const p of planted) expect(kept.has(p)).toBe(true);
    expect(r1.kept).toBeLessThanOrEqual(6);
    expect(r1.kept).toBeGreaterThanOrEqual(4);
    const r3 = await jobs.start('curate', (ctx) => runRetrieve(catalog, { dataset: 'pool', seedDataset: 'eval', perImage: 3 }, ctx)).promise;
    expect(r3.kept).toBeGreaterThanOrEqual(r1.kept);
    expect(r3.kept).toBeLessThanOrEqual(18);
    expect(r3.kept + r3.removed).toBe(28);
  });
});
