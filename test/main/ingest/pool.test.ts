import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../../main/catalog/catalog.js';
import { DecodeError, decodeImage } from '../../../main/ingest/decode.js';
import { importFolders } from '../../../main/ingest/import.js';
import { DecodePool } from '../../../main/ingest/pool.js';
import {
  corruptJpegBytes,
  imageRows,
  makeTempDir,
  removeDir,
  testJobContext,
  truncatedJpegBytes,
  writeLabelledJpegs,
  writePng,
  writeRotatedJpeg,
} from './fixtures.js';

let dir: string;
let images: string;
let files: string[];

beforeAll(async () => {
  dir = makeTempDir('pool');
  images = path.join(dir, 'images');
  files = await writeLabelledJpegs(images, ['a', 'b'], 12, 40);
  const bad = path.join(images, 'bad');
  fs.mkdirSync(bad, { recursive: true });
  fs.writeFileSync(path.join(bad, 'empty.jpg'), '');
  fs.writeFileSync(path.join(bad, 'text.png'), 'hello, not a png');
  fs.writeFileSync(path.join(bad, 'corrupt.jpg'), await corruptJpegBytes(4));
  fs.writeFileSync(path.join(bad, 'cut.jpg'), await truncatedJpegBytes(5));
  fs.mkdirSync(path.join(bad, 'folder.jpg'));
  await writePng(path.join(bad, 'fine.png'), 50, 20, 6);
  await writeRotatedJpeg(path.join(bad, 'rotated.jpg'), 60, 30);
  files.push(...fs.readdirSync(bad).map((f) => path.join(bad, f)));
});
afterAll(() => removeDir(dir));

/**
 * The reason's kind ("corrupt image data", "cannot decode image", …) without libvips' detail: libvips keeps one
 * error buffer per process, so the detail of a failure can name what another thread was decoding at that moment.
 */
function kind(message: string | null): string | null {
  return message === null ? null : message.split(':')[0]!;
}

async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await run() };
  } catch (err) {
    return { error: err instanceof DecodeError ? `DecodeError: ${kind(err.message)}` : String(err) };
  }
}

describe('DecodePool', () => {
  it('gives the same results and the same kinds of DecodeError as decoding in-process', async () => {
    const pool = new DecodePool(2);
    try {
      const inProcess = path.join(dir, 'thumbs-inprocess');
      const pooled = path.join(dir, 'thumbs-pooled');
      const want = await Promise.all(files.map((f) => outcome(() => decodeImage(f, { thumbnailDir: inProcess }))));
      const got = await Promise.all(files.map((f) => outcome(() => pool.decode(f, { thumbnailDir: pooled }))));
      expect(got).toEqual(want);
      const failures = want.filter((w) => 'error' in (w as object));
      expect(failures.length).toBe(5); // empty, text, corrupt, cut, folder
      expect(fs.readdirSync(pooled, { recursive: true }).filter((f) => String(f).endsWith('.webp')).sort()).toEqual(
        fs.readdirSync(inProcess, { recursive: true }).filter((f) => String(f).endsWith('.webp')).sort(),
      );
    } finally {
      await pool.close();
    }
  });

  it('falls back to decoding in-process when its workers cannot start', async () => {
    const broken = () => new Worker('throw new Error("cannot load the decode worker")', { eval: true, stdout: true, stderr: true });
    const pool = new DecodePool(2, broken);
    try {
      const thumbs = path.join(dir, 'thumbs-fallback');
      const want = await Promise.all(files.map((f) => outcome(() => decodeImage(f, { thumbnailDir: path.join(dir, 'thumbs-ref') }))));
      const got = await Promise.all(files.map((f) => outcome(() => pool.decode(f, { thumbnailDir: thumbs }))));
      expect(got).toEqual(want);
      expect(pool.decodesInProcess).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('refuses work after close', async () => {
    const pool = new DecodePool(1);
    await pool.close();
    await expect(pool.decode(files[0]!, { thumbnailDir: dir })).rejects.toThrow(/closed/);
  });
});

describe('import on the worker pool', () => {
  it('writes the same catalog rows as the in-process import', async () => {
    const rowsOf = async (useWorkers: boolean) => {
      const sub = makeTempDir(`pool-import-${useWorkers}`);
      const catalog = Catalog.open(path.join(sub, 'c.sqlite'));
      try {
        const summary = await importFolders(
          catalog,
          { folders: [images], dataset: 'd', labelsFromFolders: true, thumbnailDir: path.join(sub, 't'), useWorkers },
          testJobContext(),
        );
        const rows = imageRows(catalog).map(({ id: _id, ...r }) => ({ ...r, error: kind(r.error), imported_at: undefined }));
        return { summary: { ...summary, seconds: 0 }, rows: rows.sort((x, y) => x.path.localeCompare(y.path)) };
      } finally {
        catalog.close();
        removeDir(sub);
      }
    };
    const pooled = await rowsOf(true);
    const inProcess = await rowsOf(false);
    expect(pooled.summary).toMatchObject({ imported: files.length - 5, failed: 5 });
    expect(pooled).toEqual(inProcess);
  });
});
