import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../../main/catalog/catalog.js';
import { importFolders } from '../../../main/ingest/import.js';
import {
  badCrcPngBytes,
  bombPngBytes,
  corruptJpegBytes,
  extraneousBytesJpeg,
  imageRows,
  jpegBytes,
  makeTempDir,
  removeDir,
  rowByName,
  testJobContext,
  truncatedJpegBytes,
  writeJpeg,
  writePng,
  writeRotatedJpeg,
} from './fixtures.js';

const isRoot = process.getuid?.() === 0;

// One folder holding every kind of broken file next to good ones; one import over it, then each case is checked.
describe('import of bad input', () => {
  let dir: string;
  let images: string;
  let catalog: Catalog;
  let summary: Awaited<ReturnType<typeof importFolders>>;

  beforeAll(async () => {
    dir = makeTempDir('bad-input');
    images = path.join(dir, 'images');
    await writeJpeg(path.join(images, 'good-1.jpg'), 40, 30, 1);
    await writePng(path.join(images, 'good-2.png'), 20, 10, 2);
    await writeJpeg(path.join(images, 'sub', 'good-3.jpeg'), 16, 16, 3);
    fs.writeFileSync(path.join(images, 'corrupt.jpg'), await corruptJpegBytes(11));
    fs.writeFileSync(path.join(images, 'truncated.jpg'), await truncatedJpegBytes(12));
    fs.writeFileSync(path.join(images, 'empty.jpg'), Buffer.alloc(0));
    fs.writeFileSync(path.join(images, 'bad-crc.png'), await badCrcPngBytes(13));
    fs.writeFileSync(path.join(images, 'notes.png'), 'this is a text file, not a picture\n'.repeat(20));
    fs.writeFileSync(path.join(images, 'bomb.png'), bombPngBytes());
    await writeJpeg(path.join(images, 'unreadable.jpg'), 16, 16, 4);
    fs.chmodSync(path.join(images, 'unreadable.jpg'), 0o000);
    fs.mkdirSync(path.join(images, 'photo.jpg'));
    fs.symlinkSync('..', path.join(images, 'sub', 'loop-to-parent'));
    fs.symlinkSync('self.jpg', path.join(images, 'self.jpg'));
    fs.symlinkSync('no-such-target.jpg', path.join(images, 'dangling.jpg'));
    await writeRotatedJpeg(path.join(images, 'rotated.jpg'), 60, 20);
    // harmless oddities: junk between header segments, bytes after the end-of-image marker
    fs.writeFileSync(path.join(images, 'extraneous.jpg'), await extraneousBytesJpeg(8));
    fs.writeFileSync(path.join(images, 'trailing.jpg'), Buffer.concat([await jpegBytes(24, 24, 9), Buffer.from('appended by some tool')]));
    // never images: skipped without a row
    fs.writeFileSync(path.join(images, '.DS_Store'), 'mac metadata');
    fs.writeFileSync(path.join(images, 'Thumbs.db'), 'windows metadata');
    await writeJpeg(path.join(images, '.hidden.jpg'), 16, 16, 5);
    await writeJpeg(path.join(images, '.hidden-dir', 'inside.jpg'), 16, 16, 6);
    fs.writeFileSync(path.join(images, 'readme.txt'), 'not an image name');

    catalog = Catalog.open(path.join(dir, 'catalog.sqlite'));
    summary = await importFolders(
      catalog,
      { folders: [images], dataset: 'bad', labelsFromFolders: false, thumbnailDir: path.join(dir, 'thumbs') },
      testJobContext(),
    );
  });

  afterAll(() => {
    catalog?.close();
    removeDir(dir);
  });

  it('imports the good files despite the bad ones', () => {
    for (const name of ['good-1.jpg', 'good-2.png', 'good-3.jpeg', 'rotated.jpg', 'trailing.jpg', 'extraneous.jpg']) {
      expect(rowByName(catalog, name), name).toMatchObject({ status: 'ok', error: null });
    }
    const good = rowByName(catalog, 'good-1.jpg');
    expect(good).toMatchObject({ width: 40, height: 30, format: 'jpeg', thumbnail: 1 });
    expect(good.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(good.phash).toMatch(/^[0-9a-f]{16}$/);
  });

  it('counts every failure in the summary and keeps going', () => {
    const rows = imageRows(catalog);
    const failed = rows.filter((r) => r.status === 'failed');
    expect(summary.failed).toBe(failed.length);
    expect(summary.imported).toBe(rows.filter((r) => r.status === 'ok').length);
    expect(summary.cancelled).toBe(false);
    for (const r of failed) {
      expect(r.error, r.path).toBeTruthy();
      expect(r.error!.split('\n'), r.path).toHaveLength(1);
    }
  });

  // libvips keeps one error buffer for all threads, so a decoder's reason text can mix with another file's that
  // fails at the same moment; the kind of failure (the prefix) is decided per file and is what is checked here.
  it.each([
    ['corrupt.jpg', /^corrupt image data: \S/],
    ['truncated.jpg', /^(cannot decode image|corrupt image data): \S/],
    ['bad-crc.png', /^corrupt image data: \S/],
    ['empty.jpg', /empty file \(0 bytes\)/],
    ['notes.png', /^not a decodable image: unsupported or unrecognised image format/],
    ['bomb.png', /^image too large: 20000×20000 = 400 MP exceeds the 100 MP limit/],
    ['photo.jpg', /folder named like an image/],
    ['self.jpg', /symlink loop/],
    ['dangling.jpg', /broken symlink/],
  ])('records %s as failed with a reason', (name, reason) => {
    const row = rowByName(catalog, name);
    expect(row.status).toBe('failed');
    expect(row.error).toMatch(reason);
    expect(row.sha256 === null || row.width === null).toBe(true);
  });

  it('records a symlink back to an ancestor folder as a loop and walks no further', () => {
    const loop = imageRows(catalog).find((r) => r.path.endsWith(`${path.sep}loop-to-parent`));
    expect(loop?.status).toBe('failed');
    expect(loop?.error).toMatch(/symlink loop/);
    // the files are listed once, not again through the link
    expect(imageRows(catalog).filter((r) => r.path.includes(`loop-to-parent${path.sep}`))).toEqual([]);
  });

  it.skipIf(isRoot)('records a chmod 000 file as permission denied', () => {
    expect(rowByName(catalog, 'unreadable.jpg')).toMatchObject({ status: 'failed', error: expect.stringMatching(/permission denied/) });
  });

  it.runIf(isRoot)('reads a chmod 000 file under root (the folder named like an image covers read failures)', () => {
    expect(rowByName(catalog, 'unreadable.jpg').status).toBe('ok');
  });

  it('skips hidden files, hidden folders, system files and non-image names', () => {
    const names = imageRows(catalog).map((r) => path.basename(r.path));
    for (const skipped of ['.DS_Store', 'Thumbs.db', '.hidden.jpg', 'inside.jpg', 'readme.txt']) {
      expect(names).not.toContain(skipped);
    }
  });

  it('swaps width and height for EXIF orientation 6', () => {
    expect(rowByName(catalog, 'rotated.jpg')).toMatchObject({ width: 20, height: 60 });
  });
});

describe('the pixel cap', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir('pixel-cap');
  });
  afterAll(() => removeDir(dir));

  it('refuses images over maxPixels and accepts them under it', async () => {
    const images = path.join(dir, 'images');
    await writeJpeg(path.join(images, 'big.jpg'), 200, 100, 1); // 20,000 px
    await writeJpeg(path.join(images, 'small.jpg'), 100, 100, 2); // 10,000 px
    const catalog = Catalog.open(':memory:');
    try {
      const run = (maxPixels: number, dataset: string) =>
        importFolders(catalog, { folders: [images], dataset, labelsFromFolders: false, thumbnailDir: path.join(dir, 't'), maxPixels }, testJobContext());
      const capped = await run(15_000, 'capped');
      expect(capped).toMatchObject({ imported: 1, failed: 1 });
      const big = catalog.db.prepare("SELECT status, error FROM images WHERE path LIKE '%big.jpg' AND dataset_id = ?").get(capped.datasetId) as {
        status: string;
        error: string;
      };
      expect(big.status).toBe('failed');
      expect(big.error).toBe('image too large: 200×100 = 20,000 pixels exceeds the 15,000 pixels limit');
      const open = await run(20_000, 'open');
      expect(open).toMatchObject({ imported: 2, failed: 0 });
    } finally {
      catalog.close();
    }
  });
});

describe('folders that cannot be imported', () => {
  it('gives a clear error for a folder that does not exist, before touching the catalog', async () => {
    const catalog = Catalog.open(':memory:');
    try {
      await expect(
        importFolders(catalog, { folders: ['/no/such/folder/anywhere'], dataset: 'x', labelsFromFolders: false, thumbnailDir: '/tmp/unused' }, testJobContext()),
      ).rejects.toThrow(/folder does not exist: \/no\/such\/folder\/anywhere/);
      expect(catalog.listDatasets()).toEqual([]);
    } finally {
      catalog.close();
    }
  });

  it('gives a clear error for a file given as a folder', async () => {
    const dir = makeTempDir('not-folder');
    try {
      const file = path.join(dir, 'a.jpg');
      await writeJpeg(file);
      const catalog = Catalog.open(':memory:');
      await expect(
        importFolders(catalog, { folders: [file], dataset: 'x', labelsFromFolders: false, thumbnailDir: dir }, testJobContext()),
      ).rejects.toThrow(/not a folder/);
      catalog.close();
    } finally {
      removeDir(dir);
    }
  });
});
