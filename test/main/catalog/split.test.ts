import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog, type ImageRecord } from '../../../main/catalog/catalog.js';
import { apportion, parseSplitSpec, splitDataset } from '../../../main/catalog/split.js';

// Three classes of unequal size, a failed file and an unlabelled image: what a real import leaves.
const CLASS_SIZES = { airplane: 100, bird: 50, cat: 10 } as const;

function seedCatalog(): Catalog {
  const catalog = Catalog.open(':memory:');
  const datasetId = catalog.ensureImportDataset('source');
  const folderId = catalog.upsertFolder(datasetId, '/data', true);
  const records: ImageRecord[] = [];
  let i = 0;
  const add = (label: string | null, status: ImageRecord['status']) =>
    records.push({
      path: `/data/${label ?? 'root'}/${i}.jpg`,
      folderId,
      bytes: 100,
      mtimeMs: 1,
      width: 8,
      height: 8,
      format: 'jpeg',
      sha256: String(i++).padStart(64, '0'),
      phash: '0'.repeat(16),
      label,
      status,
      error: status === 'ok' ? null : 'broken',
      thumbnail: false,
    });
  for (const [label, n] of Object.entries(CLASS_SIZES)) for (let k = 0; k < n; k++) add(label, 'ok');
  add('cat', 'failed');
  add(null, 'ok');
  catalog.upsertImages(datasetId, records);
  return catalog;
}

function members(catalog: Catalog, name: string): number[] {
  return catalog.datasetImages(catalog.datasetIdByName(name)).map((m) => m.id);
}

describe('splitDataset', () => {
  let catalog: Catalog;
  beforeEach(() => {
    catalog = seedCatalog();
  });
  afterEach(() => catalog.close());

  it('keeps every class in proportion in every part, with disjoint parts covering the usable images', () => {
    const result = splitDataset(catalog, 'source', [{ name: 'train', fraction: 0.8 }, { name: 'test', fraction: 0.2 }], 1);
    expect(result.parts.map((p) => [p.name, p.count])).toEqual([
      ['train', 80 + 40 + 8 + 1],
      ['test', 20 + 10 + 2 + 0],
    ]);
    expect(result.parts[0]!.perLabel).toEqual({ airplane: 80, bird: 40, cat: 8, '': 1 });
    expect(result.parts[1]!.perLabel).toEqual({ airplane: 20, bird: 10, cat: 2 });
    const train = members(catalog, 'train');
    const test = members(catalog, 'test');
    expect(train.filter((id) => test.includes(id))).toEqual([]);
    const usable = catalog.datasetImages(catalog.datasetIdByName('source')).map((m) => m.id);
    expect([...train, ...test].sort((a, b) => a - b)).toEqual(usable);
    // labels travel with the members, and the parts point back at their source
    expect(catalog.labels(catalog.datasetIdByName('test'))).toEqual([
      { label: 'airplane', count: 20 },
      { label: 'bird', count: 10 },
      { label: 'cat', count: 2 },
    ]);
    expect(catalog.getDataset(catalog.datasetIdByName('train'))).toMatchObject({ kind: 'split', parentId: catalog.datasetIdByName('source') });
  });

  it('is reproducible by seed: the same seed gives the same members, another seed different ones', () => {
    const parts = (suffix: string) => [
      { name: `train${suffix}`, fraction: 0.7 },
      { name: `test${suffix}`, fraction: 0.3 },
    ];
    splitDataset(catalog, 'source', parts('-a'), 42);
    splitDataset(catalog, 'source', parts('-b'), 42);
    splitDataset(catalog, 'source', parts('-c'), 43);
    expect(members(catalog, 'test-a')).toEqual(members(catalog, 'test-b'));
    expect(members(catalog, 'train-a')).toEqual(members(catalog, 'train-b'));
    expect(members(catalog, 'test-c')).not.toEqual(members(catalog, 'test-a'));
    expect(members(catalog, 'test-c')).toHaveLength(members(catalog, 'test-a').length);
  });

  it('leaves the rest out when the fractions add up to less than 1', () => {
    const result = splitDataset(catalog, 'source', [{ name: 'small', fraction: 0.1 }], 3);
    expect(result.parts[0]!.perLabel).toEqual({ airplane: 10, bird: 5, cat: 1 });
  });

  it('splits a derived dataset too (a validation set out of train)', () => {
    splitDataset(catalog, 'source', [{ name: 'train', fraction: 0.8 }, { name: 'test', fraction: 0.2 }], 1);
    const result = splitDataset(catalog, 'train', [{ name: 'fit', fraction: 0.75 }, { name: 'val', fraction: 0.25 }], 1);
    expect(result.parts[1]!.perLabel).toEqual({ airplane: 20, bird: 10, cat: 2 });
    const train = members(catalog, 'train');
    for (const id of [...members(catalog, 'fit'), ...members(catalog, 'val')]) expect(train).toContain(id);
  });

  it('refuses an existing name, fractions over 1, a repeated part name and an unknown dataset, creating nothing', () => {
    const datasetsBefore = catalog.listDatasets().length;
    expect(() => splitDataset(catalog, 'source', [{ name: 'source', fraction: 0.5 }], 1)).toThrow(/already exists/);
    expect(() =>
      splitDataset(catalog, 'source', [{ name: 'a', fraction: 0.6 }, { name: 'b', fraction: 0.5 }], 1),
    ).toThrow(/add up to 1\.100, more than 1/);
    expect(() => splitDataset(catalog, 'source', [{ name: 'twice', fraction: 0.5 }, { name: 'twice', fraction: 0.5 }], 1)).toThrow(
      /twice/,
    );
    expect(() => splitDataset(catalog, 'nope', [{ name: 'x', fraction: 0.5 }], 1)).toThrow(/no dataset named "nope"/);
    expect(catalog.listDatasets()).toHaveLength(datasetsBefore);
  });
});

describe('parseSplitSpec', () => {
  it('reads NAME:FRACTION pairs', () => {
    expect(parseSplitSpec('train:0.9, test:0.1')).toEqual([
      { name: 'train', fraction: 0.9 },
      { name: 'test', fraction: 0.1 },
    ]);
  });

  it.each(['', 'train', 'train:', ':0.5', 'train:abc', 'train:0', 'train:-0.1', 'train:1.5'])('refuses %j', (spec) => {
    expect(() => parseSplitSpec(spec)).toThrow(/NAME:FRACTION/);
  });
});

describe('apportion', () => {
  it('hands out exactly round(sum × n) items, each part within one of its exact share', () => {
    for (const n of [0, 1, 2, 7, 10, 99, 1000]) {
      for (const fractions of [[0.9, 0.1], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.25], [0.7, 0.2, 0.1], [1]]) {
        const counts = apportion(n, fractions);
        const sum = fractions.reduce((s, f) => s + f, 0);
        expect(counts.reduce((s, c) => s + c, 0)).toBe(Math.min(n, Math.round(sum * n)));
        counts.forEach((c, i) => expect(Math.abs(c - fractions[i]! * n)).toBeLessThan(1 + 1e-9));
      }
    }
  });
});
