import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog, type ImageRecord } from '../../../main/catalog/catalog.js';

// listImages reuses a page's total while the database is unchanged; every kind of write must still show up.
let dir: string;
let catalog: Catalog;
let datasetId: number;
let folderId: number;

const record = (name: string, label: string | null, status: ImageRecord['status'] = 'ok'): ImageRecord => ({
  path: `/photos/${name}.jpg`,
  folderId,
  bytes: 10,
  mtimeMs: 1,
  width: 1,
  height: 1,
  format: 'jpeg',
  sha256: null,
  phash: null,
  label,
  status,
  error: status === 'failed' ? 'bad' : null,
  thumbnail: false,
});

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-page-count-'));
  catalog = Catalog.open(path.join(dir, 'c.sqlite'));
  datasetId = catalog.createDataset('d', 'import');
  folderId = catalog.upsertFolder(datasetId, '/photos', true);
});
afterEach(() => {
  catalog.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const total = (label?: string | null, status?: ImageRecord['status']) =>
  catalog.listImages({ datasetId, offset: 0, limit: 5, label, status }).total;

describe('listImages total', () => {
  it('follows writes made through this catalog', () => {
    catalog.upsertImages(datasetId, [record('a', 'cat'), record('b', 'cat'), record('c', 'dog')]);
    expect([total(), total('cat'), total('dog'), total(null)]).toEqual([3, 2, 1, 0]);
    expect(total('cat')).toBe(2); // asked again, unchanged
    catalog.upsertImages(datasetId, [record('d', 'cat'), record('e', null, 'failed')]);
    expect([total(), total('cat'), total(null), total(undefined, 'failed')]).toEqual([5, 3, 1, 1]);
    const ids = catalog.listImages({ datasetId, offset: 0, limit: 10, label: 'cat' }).items.map((i) => i.id);
    catalog.markMissing(ids.slice(0, 2));
    expect([total('cat', 'ok'), total('cat', 'missing'), total('cat')]).toEqual([1, 2, 3]);
  });

  it('follows writes made by another connection (another process importing into the same file)', () => {
    catalog.upsertImages(datasetId, [record('a', 'cat')]);
    expect(total('cat')).toBe(1);
    const other = Catalog.open(catalog.path);
    try {
      other.upsertImages(datasetId, [record('b', 'cat'), record('c', 'cat')]);
      expect(total('cat')).toBe(3);
      other.db.prepare("DELETE FROM images WHERE path = '/photos/a.jpg'").run();
      expect(total('cat')).toBe(2);
      other.deleteDataset(datasetId);
      expect(() => total('cat')).toThrow(/no dataset/);
    } finally {
      other.close();
    }
  });

  it('follows writes made with plain SQL on this connection', () => {
    catalog.upsertImages(datasetId, [record('a', 'cat'), record('b', 'cat')]);
    expect(total('cat')).toBe(2);
    catalog.db.prepare("UPDATE images SET label = 'dog' WHERE path = '/photos/a.jpg'").run();
    expect([total('cat'), total('dog')]).toEqual([1, 1]);
  });
});
