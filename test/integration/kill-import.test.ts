import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thumbnailPath } from '../../main/ingest/decode.js';
import { jpegBytes, makeTempDir, removeDir, withJpegComment } from '../main/ingest/fixtures.js';
import type { ChildProcess } from 'node:child_process';
import { collect, lastJson, spawnCurio } from '../main/cli/run-cli.js';

/** Polls the catalog (a reader beside the writer, as WAL allows) until the import has committed rows. */
async function waitForCommittedRows(db: string, child: ChildProcess): Promise<number> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 25));
    if (!fs.existsSync(db)) continue;
    try {
      const reader = new BetterSqlite3(db, { readonly: true, fileMustExist: true });
      try {
        const n = (reader.prepare('SELECT COUNT(*) AS n FROM images').get() as { n: number }).n;
        if (n > 0) return n;
      } finally {
        reader.close();
      }
    } catch {
      // the schema is not created yet
    }
  }
  if (child.exitCode !== null) throw new Error(`the import ended (code ${child.exitCode}) before any rows were seen`);
  child.kill('SIGKILL');
  throw new Error('no rows committed within 60 s');
}

const CLASSES = 4;
const PER_CLASS = 750; // 3,000 images: enough that a kill lands mid-import

describe('kill -9 during an import', () => {
  let dir: string;
  let images: string;
  let db: string;
  const files: string[] = [];

  beforeAll(async () => {
    dir = makeTempDir('kill');
    images = path.join(dir, 'images');
    db = path.join(dir, 'catalog.sqlite');
    const bases = await Promise.all(Array.from({ length: 40 }, (_, i) => jpegBytes(16, 16, i + 1)));
    for (let c = 0; c < CLASSES; c++) {
      fs.mkdirSync(path.join(images, `class${c}`), { recursive: true });
      for (let i = 0; i < PER_CLASS; i++) {
        const file = path.join(images, `class${c}`, `${String(i).padStart(4, '0')}.jpg`);
        fs.writeFileSync(file, withJpegComment(bases[(c * PER_CLASS + i) % bases.length]!, `image ${c}/${i}`));
        files.push(file);
      }
    }
  });
  afterAll(() => removeDir(dir));

  it('leaves a sound catalog holding a consistent subset, and a re-import completes it', async () => {
    const child = spawnCurio(['import', images, '--db', db, '--labels-from-folders', '--json']);
    const exited = collect(child);

    // Kill as soon as some batches are committed (read through WAL while the writer runs).
    const committedBeforeKill = await waitForCommittedRows(db, child);
    child.kill('SIGKILL');
    const killed = await exited;
    expect(killed.signal, `the import ended (code ${killed.code}) before it could be killed: ${killed.stdout} ${killed.stderr}`).toBe('SIGKILL');
    expect(committedBeforeKill).toBeGreaterThan(0);

    const check = new BetterSqlite3(db);
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(check.pragma('foreign_key_check')).toEqual([]);
    const rows = check.prepare('SELECT path, status, sha256, phash, width, height, label, thumbnail FROM images').all() as {
      path: string;
      status: string;
      sha256: string | null;
      phash: string | null;
      width: number | null;
      height: number | null;
      label: string | null;
      thumbnail: number;
    }[];
    check.close();
    // a proper subset of the files, each row complete (whole batches or nothing), no duplicates
    expect(rows.length).toBeGreaterThanOrEqual(committedBeforeKill);
    expect(rows.length).toBeLessThan(files.length);
    expect(new Set(rows.map((r) => r.path)).size).toBe(rows.length);
    const known = new Set(files);
    for (const r of rows) {
      expect(known.has(r.path)).toBe(true);
      expect(r).toMatchObject({ status: 'ok', width: 16, height: 16, thumbnail: 1, label: path.basename(path.dirname(r.path)) });
      expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(fs.existsSync(thumbnailPath(path.join(dir, 'thumbnails'), r.sha256!))).toBe(true);
    }

    const resumed = await collect(spawnCurio(['import', images, '--db', db, '--labels-from-folders', '--json']));
    expect(resumed.code, resumed.stderr).toBe(0);
    const summary = lastJson(resumed);
    expect(summary).toMatchObject({ skipped: rows.length, imported: files.length - rows.length, failed: 0, missing: 0 });

    const after = new BetterSqlite3(db, { readonly: true });
    expect(after.prepare("SELECT COUNT(*) AS n, COUNT(DISTINCT path) AS paths FROM images WHERE status = 'ok'").get()).toEqual({
      n: files.length,
      paths: files.length,
    });
    expect(after.prepare('SELECT COUNT(*) AS n FROM images').get()).toEqual({ n: files.length });
    expect(after.prepare('SELECT label, COUNT(*) AS n FROM images GROUP BY label ORDER BY label').all()).toEqual(
      Array.from({ length: CLASSES }, (_, c) => ({ label: `class${c}`, n: PER_CLASS })),
    );
    after.close();
  });

  it('Ctrl-C (SIGINT) cancels, keeps the finished batches, reports cancelled and exits 130', async () => {
    const sigintDb = path.join(dir, 'sigint.sqlite');
    const child = spawnCurio(['import', images, '--db', sigintDb, '--json']);
    const exited = collect(child);
    await waitForCommittedRows(sigintDb, child);
    child.kill('SIGINT');
    const r = await exited;
    const summary = lastJson(r);
    expect(summary.cancelled).toBe(true);
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/cancelling/);
    const check = new BetterSqlite3(sigintDb, { readonly: true });
    expect(check.prepare('SELECT COUNT(*) AS n FROM images').get()).toEqual({ n: (summary.imported as number) + (summary.failed as number) });
    expect(check.prepare("SELECT COUNT(*) AS n FROM images WHERE status = 'missing'").get()).toEqual({ n: 0 });
    check.close();
    expect(summary.imported as number).toBeLessThan(files.length);
  });
});
