import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog, type ImageRecord, type ImagePageQuery } from '../../../main/catalog/catalog.js';

function record(i: number, label: string | null, status: ImageRecord['status'] = 'ok'): ImageRecord {
  return {
    path: `/data/${label ?? 'none'}/${String(i).padStart(5, '0')}.jpg`,
    folderId: 1,
    bytes: 1000 + i,
    mtimeMs: 1_700_000_000_000 + i,
    width: 32,
    height: 32,
    format: 'jpeg',
    sha256: i.toString(16).padStart(64, '0'),
    phash: i.toString(16).padStart(16, '0'),
    label,
    status,
    error: status === 'failed' ? 'cannot decode image: test' : null,
    thumbnail: status === 'ok',
  };
}

describe('catalog queries', () => {
  let catalog: Catalog;
  let importId: number;
  let otherId: number;
  let derivedId: number;
  const labels = ['cat', 'dog', 'bird', null] as const;

  beforeAll(() => {
    catalog = Catalog.open(':memory:');
    importId = catalog.ensureImportDataset('photos');
    otherId = catalog.ensureImportDataset('other');
    const folderId = catalog.upsertFolder(importId, '/data', true);
    const otherFolder = catalog.upsertFolder(otherId, '/other', true);
    const rows = Array.from({ length: 2000 }, (_, i) => ({ ...record(i, labels[i % 4]!, i % 10 === 3 ? 'failed' : 'ok'), folderId }));
    catalog.upsertImages(importId, rows);
    catalog.upsertImages(otherId, Array.from({ length: 500 }, (_, i) => ({ ...record(i, 'cat'), folderId: otherFolder })));
    const members = catalog
      .datasetImages(importId)
      .filter((_, i) => i % 2 === 0)
      .map((m) => ({ imageId: m.id, label: m.label }));
    derivedId = catalog.createDerivedDataset('photos-half', 'split', importId, members);
  });
  afterAll(() => catalog.close());

  const plan = (q: Omit<ImagePageQuery, 'offset' | 'limit'>) => catalog.explainListImages({ ...q, offset: 400, limit: 200 });

  it('pages an import dataset with a label filter through images_dataset_label, without sorting', () => {
    const p = plan({ datasetId: importId, label: 'dog' });
    expect(p.page.join(' | ')).toMatch(/USING (COVERING )?INDEX images_dataset_label \(dataset_id=\? AND label=\?\)/);
    expect(p.count.join(' | ')).toMatch(/images_dataset_label/);
    expect([...p.page, ...p.count].join(' | ')).not.toMatch(/TEMP B-TREE|SCAN/);
  });

  it('pages an import dataset with a status filter through images_dataset_status, without sorting', () => {
    const p = plan({ datasetId: importId, status: 'failed' });
    expect(p.page.join(' | ')).toMatch(/USING (COVERING )?INDEX images_dataset_status \(dataset_id=\? AND status=\?\)/);
    expect([...p.page, ...p.count].join(' | ')).not.toMatch(/TEMP B-TREE|SCAN/);
  });

  it('pages a whole import dataset in id order through images_dataset_order, without sorting', () => {
    const p = plan({ datasetId: importId });
    expect(p.page.join(' | ')).toMatch(/images_dataset_order/);
    expect([...p.page, ...p.count].join(' | ')).not.toMatch(/TEMP B-TREE|SCAN/);
  });

  it('pages a derived dataset with a label filter through dataset_members_label', () => {
    const p = plan({ datasetId: derivedId, label: 'cat' });
    expect(p.page.join(' | ')).toMatch(/dataset_members_label/);
    expect(p.page.join(' | ')).not.toMatch(/TEMP B-TREE|SCAN/);
  });

  it('returns the same rows as a naive filter over all rows', () => {
    const all = catalog.db.prepare('SELECT id, label, status FROM images WHERE dataset_id = ? ORDER BY id').all(importId) as {
      id: number;
      label: string | null;
      status: string;
    }[];
    const cases: Omit<ImagePageQuery, 'offset' | 'limit'>[] = [
      { datasetId: importId },
      { datasetId: importId, label: 'bird' },
      { datasetId: importId, label: null },
      { datasetId: importId, status: 'failed' },
      { datasetId: importId, label: 'dog', status: 'ok' },
    ];
    for (const q of cases) {
      const expected = all.filter(
        (r) => (q.label === undefined || r.label === q.label) && (q.status === undefined || r.status === q.status),
      );
      const page = catalog.listImages({ ...q, offset: 30, limit: 50 });
      expect(page.total, JSON.stringify(q)).toBe(expected.length);
      expect(page.items.map((r) => r.id)).toEqual(expected.slice(30, 80).map((r) => r.id));
    }
    // the other dataset's rows never leak in
    expect(catalog.listImages({ datasetId: otherId, offset: 0, limit: 1000 }).total).toBe(500);
  });

  it('counts, labels and failures per dataset', () => {
    const d = catalog.getDataset(importId);
    expect(d).toMatchObject({ imageCount: 2000, failedCount: 200, okCount: 1800, missingCount: 0, labelCount: 3, folders: ['/data'] });
    // failed rows are i % 10 === 3, which falls on labels[1] ('dog') and labels[3] (null); labels count ok rows only
    expect(catalog.labels(importId)).toEqual([
      { label: null, count: 400 },
      { label: 'bird', count: 500 },
      { label: 'cat', count: 500 },
      { label: 'dog', count: 400 },
    ]);
    expect(catalog.failures(importId, 5)).toHaveLength(5);
    expect(catalog.failures(importId, 5)[0]!.error).toBe('cannot decode image: test');
    const derived = catalog.getDataset(derivedId);
    expect(derived).toMatchObject({ kind: 'split', parentId: importId, imageCount: 900, okCount: 900 });
  });

  it('updates a file seen again in place instead of adding a second row', () => {
    const before = catalog.getDataset(otherId).imageCount;
    const folderId = catalog.upsertFolder(otherId, '/other', true);
    catalog.upsertImages(otherId, [{ ...record(7, 'cat'), folderId, width: 99 }]);
    expect(catalog.getDataset(otherId).imageCount).toBe(before);
    const row = catalog.db.prepare('SELECT width FROM images WHERE dataset_id = ? AND path = ?').get(otherId, record(7, 'cat').path);
    expect(row).toEqual({ width: 99 });
  });

  it('refuses a second dataset of the same name, and importing into a derived dataset', () => {
    expect(() => catalog.createDataset('photos', 'import')).toThrow(/already exists/);
    expect(() => catalog.ensureImportDataset('photos-half')).toThrow(/is a split dataset/);
    expect(catalog.ensureImportDataset('photos')).toBe(importId);
  });

  it('deletes a dataset with its rows, and its derived datasets lose only their members', () => {
    const c = Catalog.open(':memory:');
    const id = c.ensureImportDataset('tmp');
    const folderId = c.upsertFolder(id, '/data', false);
    c.upsertImages(id, [0, 1, 2].map((i) => ({ ...record(i, 'x'), folderId })));
    const derived = c.createDerivedDataset('tmp-part', 'split', id, [{ imageId: c.datasetImages(id)[0]!.id, label: 'x' }]);
    expect(c.deleteDataset(id)).toBe(true);
    expect(c.db.prepare('SELECT COUNT(*) AS n FROM images').get()).toEqual({ n: 0 });
    expect(c.getDataset(derived)).toMatchObject({ parentId: null, imageCount: 0 });
    expect(c.db.pragma('foreign_key_check')).toEqual([]);
    c.close();
  });
});
