import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../main/catalog/catalog.js';
import { splitDataset } from '../../main/catalog/split.js';
import { thumbnailPath } from '../../main/ingest/decode.js';
import { importFolders } from '../../main/ingest/import.js';
import { CIFAR_TARBALL, makeTempDir, removeDir, testJobContext } from '../main/ingest/fixtures.js';

const CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
const haveTarball = fs.existsSync(CIFAR_TARBALL);
if (!haveTarball) {
  process.stderr.write(`SKIP CIFAR-10 integration test: ${CIFAR_TARBALL} is absent (the 50,000 CIFAR-10 training JPEGs)\n`);
}

// 500 images per class, as train/<class>/NNNN.jpg: the names 0000–0499 of each class folder.
describe.skipIf(!haveTarball)('import of 5,000 CIFAR-10 images', () => {
  let dir: string;
  let train: string;

  beforeAll(() => {
    dir = makeTempDir('cifar');
    execFileSync('tar', ['-xzf', CIFAR_TARBALL, '-C', dir, '--wildcards', 'train/*/0[0-4][0-9][0-9].jpg'], { stdio: 'pipe' });
    train = path.join(dir, 'train');
  });
  afterAll(() => removeDir(dir));

  it('imports all 5,000 with labels from folders, 10 labels × 500, then skips them all on re-import', async () => {
    for (const c of CLASSES) expect(fs.readdirSync(path.join(train, c)), c).toHaveLength(500);
    const catalog = Catalog.open(path.join(dir, 'catalog.sqlite'));
    try {
      const options = { folders: [train], dataset: 'cifar-5k', labelsFromFolders: true, thumbnailDir: path.join(dir, 'thumbnails') };
      const summary = await importFolders(catalog, options, testJobContext());
      process.stderr.write(`CIFAR-10 5,000 images: ${(5000 / summary.seconds).toFixed(0)} img/s in ${summary.seconds.toFixed(1)} s\n`);
      expect(summary).toMatchObject({ imported: 5000, failed: 0, skipped: 0, missing: 0, cancelled: false });
      const dataset = catalog.getDataset(summary.datasetId);
      expect(dataset).toMatchObject({ okCount: 5000, failedCount: 0, labelCount: 10 });
      expect(catalog.labels(summary.datasetId)).toEqual(CLASSES.map((label) => ({ label, count: 500 })));

      const sizes = catalog.db.prepare('SELECT DISTINCT width, height, format FROM images').all();
      expect(sizes).toEqual([{ width: 32, height: 32, format: 'jpeg' }]);
      const hashes = catalog.db.prepare('SELECT sha256 FROM images').all() as { sha256: string }[];
      for (const { sha256 } of hashes.slice(0, 200)) expect(fs.existsSync(thumbnailPath(options.thumbnailDir, sha256))).toBe(true);

      const again = await importFolders(catalog, options, testJobContext());
      expect(again).toMatchObject({ imported: 0, skipped: 5000, failed: 0, missing: 0 });

      const split = splitDataset(catalog, 'cifar-5k', [{ name: 'cifar-train', fraction: 0.9 }, { name: 'cifar-test', fraction: 0.1 }], 7);
      expect(split.parts[1]!.perLabel).toEqual(Object.fromEntries(CLASSES.map((c) => [c, 50])));
    } finally {
      catalog.close();
    }
  });
});
