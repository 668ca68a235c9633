import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobProgress } from '../../../shared/contract/jobs.js';
import { Catalog } from '../../../main/catalog/catalog.js';
import { EventBus } from '../../../main/common/event-bus.js';
import { JobManager } from '../../../main/common/jobs.js';
import { thumbnailPath } from '../../../main/ingest/decode.js';
import { type ImportOptions, importFolders, labelFor } from '../../../main/ingest/import.js';
import {
  imageRows,
  jpegBytes,
  makeTempDir,
  removeDir,
  rowByName,
  testJobContext,
  writeJpeg,
  writeLabelledJpegs,
} from './fixtures.js';

let dir: string;
let images: string;
let thumbs: string;
let catalog: Catalog;

beforeEach(() => {
  dir = makeTempDir('import');
  images = path.join(dir, 'images');
  thumbs = path.join(dir, 'thumbnails');
  catalog = Catalog.open(path.join(dir, 'catalog.sqlite'));
});
afterEach(() => {
  catalog.close();
  removeDir(dir);
});

function run(extra: Partial<ImportOptions> = {}, ctx = testJobContext()) {
  return importFolders(catalog, { folders: [images], dataset: 'ds', labelsFromFolders: true, thumbnailDir: thumbs, ...extra }, ctx);
}

describe('import', () => {
  it('labels images by their parent folder, only when asked', async () => {
    await writeLabelledJpegs(images, ['cat', 'dog'], 3);
    await writeJpeg(path.join(images, 'cat', 'kittens', 'small.jpg'), 8, 8, 99);
    const labelled = await run();
    expect(labelled).toMatchObject({ imported: 7, failed: 0, skipped: 0, missing: 0, cancelled: false });
    expect(catalog.labels(labelled.datasetId)).toEqual([
      { label: 'cat', count: 3 },
      { label: 'dog', count: 3 },
      { label: 'kittens', count: 1 },
    ]);
    const plain = await run({ dataset: 'plain', labelsFromFolders: false });
    expect(catalog.labels(plain.datasetId)).toEqual([{ label: null, count: 7 }]);
    expect(labelFor('/a/b/c.jpg', true)).toBe('b');
    expect(labelFor('/a/b/c.jpg', false)).toBeNull();
  });

  it('writes a thumbnail per image into the cache, keyed by the sha256 of the file', async () => {
    await writeLabelledJpegs(images, ['a'], 3, 300);
    await run();
    for (const row of imageRows(catalog)) {
      const file = thumbnailPath(thumbs, row.sha256!);
      expect(path.basename(file)).toBe(`${row.sha256}.webp`);
      expect(row.thumbnail).toBe(1);
      const meta = await import('sharp').then((s) => s.default(file).metadata());
      expect(meta.format).toBe('webp');
      expect(Math.max(meta.width!, meta.height!)).toBe(128);
    }
    // a byte-identical copy shares the cached thumbnail
    fs.copyFileSync(path.join(images, 'a', '0000.jpg'), path.join(images, 'a', 'copy.jpg'));
    await run();
    expect(rowByName(catalog, 'copy.jpg').sha256).toBe(rowByName(catalog, '0000.jpg').sha256);
    expect(fs.readdirSync(thumbs, { recursive: true }).filter((f) => String(f).endsWith('.webp'))).toHaveLength(3);
  });

  it('re-import skips unchanged files, re-decodes changed ones and marks vanished ones missing', async () => {
    await writeLabelledJpegs(images, ['a', 'b'], 4);
    const first = await run();
    expect(first).toMatchObject({ imported: 8, skipped: 0 });
    const before = new Map(imageRows(catalog).map((r) => [path.basename(path.dirname(r.path)) + '/' + path.basename(r.path), r]));

    const again = await run();
    expect(again).toMatchObject({ imported: 0, skipped: 8, failed: 0, missing: 0 });

    // a/0000: new content and size; a/0001: same bytes, newer mtime; b/0000: deleted; b/new: added
    fs.writeFileSync(path.join(images, 'a', '0000.jpg'), await jpegBytes(40, 40, 1234));
    const touched = path.join(images, 'a', '0001.jpg');
    const later = new Date(fs.statSync(touched).mtimeMs + 60_000);
    fs.utimesSync(touched, later, later);
    fs.rmSync(path.join(images, 'b', '0000.jpg'));
    await writeJpeg(path.join(images, 'b', 'new.jpg'), 10, 10, 777);

    const third = await run();
    expect(third).toMatchObject({ imported: 3, skipped: 5, failed: 0, missing: 1 });
    const changed = rowByName(catalog, '0000.jpg');
    expect(changed.path.endsWith(`a${path.sep}0000.jpg`)).toBe(true);
    expect(changed).toMatchObject({ status: 'ok', width: 40, height: 40 });
    expect(changed.sha256).not.toBe(before.get('a/0000.jpg')!.sha256);
    expect(rowByName(catalog, '0001.jpg')).toMatchObject({ mtime_ms: Math.floor(fs.statSync(touched).mtimeMs), sha256: before.get('a/0001.jpg')!.sha256 });
    const gone = imageRows(catalog).find((r) => r.path === path.join(images, 'b', '0000.jpg'))!;
    expect(gone).toMatchObject({ status: 'missing', error: 'file no longer exists' });
    expect(catalog.getDataset(third.datasetId)).toMatchObject({ imageCount: 9, okCount: 8, missingCount: 1 });
    expect(imageRows(catalog)).toHaveLength(9);

    // a missing file that comes back is imported again; a missing one stays counted once
    fs.writeFileSync(path.join(images, 'b', '0000.jpg'), await jpegBytes(16, 16, 5));
    const fourth = await run();
    expect(fourth).toMatchObject({ imported: 1, skipped: 8, missing: 0 });
    expect(catalog.getDataset(fourth.datasetId)).toMatchObject({ imageCount: 9, okCount: 9, missingCount: 0 });
  });

  it('retries failed files on re-import instead of skipping them', async () => {
    await writeLabelledJpegs(images, ['a'], 2);
    fs.writeFileSync(path.join(images, 'a', 'broken.jpg'), 'not yet a picture');
    expect(await run()).toMatchObject({ imported: 2, failed: 1 });
    expect(await run()).toMatchObject({ imported: 0, skipped: 2, failed: 1 });
    fs.writeFileSync(path.join(images, 'a', 'broken.jpg'), await jpegBytes(12, 12, 3));
    expect(await run()).toMatchObject({ imported: 1, skipped: 2, failed: 0 });
    expect(rowByName(catalog, 'broken.jpg')).toMatchObject({ status: 'ok', error: null });
  });

  it('marks missing only under the folders it scanned', async () => {
    const other = path.join(dir, 'other');
    await writeLabelledJpegs(images, ['a'], 2);
    await writeJpeg(path.join(other, 'x', 'one.jpg'), 8, 8, 50);
    await importFolders(catalog, { folders: [images, other], dataset: 'ds', labelsFromFolders: true, thumbnailDir: thumbs }, testJobContext());
    // the second folder is not part of this run: its files are not "missing"
    fs.rmSync(path.join(images, 'a', '0000.jpg'));
    expect(await run()).toMatchObject({ skipped: 1, missing: 1 });
    expect(rowByName(catalog, 'one.jpg').status).toBe('ok');
    // a folder whose name extends the imported one ("images-2" next to "images") is not under it
    const sibling = `${images}-2`;
    await writeJpeg(path.join(sibling, 'z.jpg'), 8, 8, 51);
    await importFolders(catalog, { folders: [sibling], dataset: 'ds', labelsFromFolders: true, thumbnailDir: thumbs }, testJobContext());
    expect(await run()).toMatchObject({ missing: 0 });
    expect(rowByName(catalog, 'z.jpg').status).toBe('ok');
  });

  it('lists a file reached twice through symlinked folders once', async () => {
    await writeLabelledJpegs(images, ['a'], 2);
    fs.symlinkSync(path.join(images, 'a'), path.join(images, 'alias'));
    const s = await run();
    expect(s.imported + s.failed).toBe(2);
  });
});

describe('cancel', () => {
  it('keeps what was done, leaves a consistent catalog, and a re-import completes it', async () => {
    await writeLabelledJpegs(images, ['a', 'b', 'c'], 100, 24);
    const bus = new EventBus();
    const jobs = new JobManager(bus, 0);
    const events: JobProgress[] = [];
    bus.subscribe((name, payload) => {
      if (name === 'onDidProgress') events.push(payload as JobProgress);
    });
    let jobId = '';
    let cancelled = false;
    bus.subscribe((name, payload) => {
      const p = payload as JobProgress;
      if (name === 'onDidProgress' && p.phase === 'importing' && p.done >= 60 && !cancelled) {
        cancelled = true;
        jobs.cancel(jobId);
      }
    });
    const started = jobs.start('import', (ctx) =>
      importFolders(catalog, { folders: [images], dataset: 'ds', labelsFromFolders: true, thumbnailDir: thumbs, concurrency: 2, batchSize: 16 }, ctx),
    );
    jobId = started.jobId;
    const summary = await started.promise;

    expect(summary.cancelled).toBe(true);
    expect(summary.imported).toBeGreaterThanOrEqual(60);
    expect(summary.imported).toBeLessThan(300);
    expect((await jobs.settled(jobId))?.state).toBe('cancelled');
    // everything counted was written, nothing was declared missing, and the file is sound
    const rows = imageRows(catalog);
    expect(rows).toHaveLength(summary.imported + summary.failed);
    expect(rows.every((r) => r.status === 'ok' && r.sha256 && r.thumbnail === 1)).toBe(true);
    expect(catalog.db.pragma('integrity_check', { simple: true })).toBe('ok');
    // progress carried counts, a rate and an ETA while it ran
    const running = events.filter((e) => e.phase === 'importing' && e.state === 'running' && e.done > 0);
    expect(running.length).toBeGreaterThan(0);
    expect(running.at(-1)).toMatchObject({ total: 300 });
    expect(running.some((e) => e.rate > 0 && e.etaSeconds !== null)).toBe(true);

    const resumed = await run();
    expect(resumed).toMatchObject({ cancelled: false, skipped: summary.imported, imported: 300 - summary.imported, failed: 0, missing: 0 });
    expect(imageRows(catalog)).toHaveLength(300);
    expect(catalog.labels(resumed.datasetId).map((l) => l.count)).toEqual([100, 100, 100]);
  });

  it('a cancel during the scan writes no rows and marks nothing missing', async () => {
    await writeLabelledJpegs(images, ['a'], 5);
    await run();
    const ctx = testJobContext();
    ctx.cancel();
    const summary = await run({}, ctx);
    expect(summary).toMatchObject({ cancelled: true, imported: 0, missing: 0 });
    expect(imageRows(catalog).every((r) => r.status === 'ok')).toBe(true);
  });
});
