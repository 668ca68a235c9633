import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeDir, writeJpeg, writeLabelledJpegs } from '../ingest/fixtures.js';
import { type CliResult, lastJson, lines, runCurio, runCurioInProcess } from './run-cli.js';

let dir: string;
let images: string;
let db: string;
let home: string;

beforeAll(async () => {
  dir = makeTempDir('cli');
  process.env.CURIO_HOME = path.join(dir, 'home'); // for the in-process runs
  images = path.join(dir, 'pets');
  db = path.join(dir, 'catalog.sqlite');
  home = path.join(dir, 'home');
  await writeLabelledJpegs(images, ['cat', 'dog'], 10);
  fs.writeFileSync(path.join(images, 'cat', 'broken.jpg'), 'not a jpeg');
  fs.writeFileSync(path.join(images, 'dog', 'empty.png'), '');
});
afterAll(() => removeDir(dir));

const env = () => ({ CURIO_HOME: home });

/** A failed run: non-zero exit, nothing on stdout, and the error as one line on stderr (a usage line may follow). */
function expectOneLineError(r: CliResult, command: string, message: RegExp): void {
  expect(r.code, r.stderr).not.toBe(0);
  expect(r.stdout).toBe('');
  const err = lines(r.stderr);
  expect(err[0]).toMatch(new RegExp(`^curio ${command}: error: `));
  expect(err[0]).toMatch(message);
  expect(err.slice(1).every((l) => l.startsWith('usage: '))).toBe(true);
  expect(err.length).toBeLessThanOrEqual(2);
}

describe('curio import', () => {
  it('--json: exits 0 with failed files, and the last stdout line is the summary', async () => {
    const r = await runCurio(['import', images, '--db', db, '--labels-from-folders', '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout)).toHaveLength(1); // progress went to stderr
    const summary = lastJson(r);
    expect(summary).toMatchObject({ dataset: 'pets', imported: 20, skipped: 0, failed: 2 });
    for (const key of ['imported', 'skipped', 'failed', 'seconds']) expect(typeof summary[key]).toBe('number');
    expect(summary.seconds as number).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/import importing: 22\/22/);

    const check = new BetterSqlite3(db, { readonly: true });
    expect(check.prepare("SELECT label, COUNT(*) AS n FROM images WHERE status = 'ok' GROUP BY label ORDER BY label").all()).toEqual([
      { label: 'cat', n: 10 },
      { label: 'dog', n: 10 },
    ]);
    check.close();

    const again = await runCurioInProcess(['import', images, '--db', db, '--labels-from-folders', '--json']);
    expect(lastJson(again)).toMatchObject({ imported: 0, skipped: 20, failed: 2 });
  });

  it('prints a human summary without --json', async () => {
    const r = await runCurioInProcess(['import', images, '--db', db, '--dataset', 'pets-2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^dataset {2}pets-2\nimported 20\nskipped {2}0 unchanged\nfailed {3}2\n/);
  });

  it('uses the default catalog in CURIO_HOME without --db', async () => {
    const r = await runCurioInProcess(['import', images, '--json', '--dataset', 'default-db']);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.existsSync(path.join(home, 'catalog.sqlite'))).toBe(true);
    expect(fs.readdirSync(path.join(home, 'thumbnails')).length).toBeGreaterThan(0);
  });

  it('applies --max-pixels', async () => {
    const big = path.join(dir, 'big');
    await writeJpeg(path.join(big, 'wide.jpg'), 300, 100, 1);
    await writeJpeg(path.join(big, 'small.jpg'), 10, 10, 2);
    const r = await runCurioInProcess(['import', big, '--db', db, '--max-pixels', '20000', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson(r)).toMatchObject({ imported: 1, failed: 1 });
  });

  it('fails with one line for a folder that does not exist', async () => {
    const missing = path.join(dir, 'no-such-folder');
    const r = await runCurio(['import', missing, '--db', db, '--json'], env());
    expectOneLineError(r, 'import', new RegExp(`folder does not exist: ${missing}$`));
    expect(lines(r.stderr)).toHaveLength(1);
  });

  it('fails with one line for an unknown flag', async () => {
    const r = await runCurio(['import', images, '--db', db, '--bogus'], env());
    expectOneLineError(r, 'import', /unknown option '--bogus'/i);
  });

  it.each([
    [['import', '--db', 'X'], /give at least one folder/],
    [['import', 'FOLDER', '--max-pixels', 'lots'], /--max-pixels must be a positive number/],
    [['import', 'FOLDER', '--dataset', ''], /--dataset/],
    [['import', 'FOLDER', '--db'], /--db/],
  ])('fails with one line for bad arguments: %j', async (args, message) => {
    const r = await runCurioInProcess(args.map((a) => (a === 'FOLDER' ? images : a === 'X' ? db : a)));
    expectOneLineError(r, 'import', message);
  });

  it('fails with one line for a catalog it cannot open, keeping the file', async () => {
    const notDb = path.join(dir, 'notes.txt');
    fs.writeFileSync(notDb, 'my notes, not a catalog\n'.repeat(200));
    const r = await runCurioInProcess(['import', images, '--db', notDb, '--json']);
    expectOneLineError(r, 'import', /not a database|cannot open catalog/);
    expect(fs.readFileSync(notDb, 'utf8')).toBe('my notes, not a catalog\n'.repeat(200));
  });
});

describe('curio split', () => {
  it('--json makes class-balanced parts, reproducible by seed', async () => {
    const split = (into: string, seed: string) =>
      runCurio(['split', '--dataset', 'pets', '--into', into, '--seed', seed, '--db', db, '--json'], env());
    const r = await split('train:0.9,test:0.1', '1');
    expect(r.code, r.stderr).toBe(0);
    const result = lastJson(r) as { parts: { name: string; count: number; perLabel: Record<string, number> }[] };
    expect(result.parts.map((p) => [p.name, p.count, p.perLabel])).toEqual([
      ['train', 18, { cat: 9, dog: 9 }],
      ['test', 2, { cat: 1, dog: 1 }],
    ]);
    const again = await runCurioInProcess(['split', '--dataset', 'pets', '--into', 'train-b:0.9,test-b:0.1', '--seed', '1', '--db', db, '--json']);
    const check = new BetterSqlite3(db, { readonly: true });
    const ids = (name: string) =>
      check
        .prepare('SELECT image_id FROM dataset_members m JOIN datasets d ON d.id = m.dataset_id WHERE d.name = ? ORDER BY image_id')
        .all(name)
        .map((r) => (r as { image_id: number }).image_id);
    expect(again.code).toBe(0);
    expect(ids('test-b')).toEqual(ids('test'));
    check.close();
  });

  it.each([
    [['--dataset', 'pets', '--into', 'train:0.9,test:0.1'], /already exists/],
    [['--dataset', 'pets', '--into', 'a:0.7,b:0.7'], /add up to 1\.400, more than 1/],
    [['--dataset', 'pets', '--into', 'a:zero'], /bad split part "a:zero"/],
    [['--dataset', 'nope', '--into', 'x:0.5'], /no dataset named "nope"/],
    [['--into', 'x:0.5'], /missing --dataset/],
    [['--dataset', 'pets', '--into', 'x:0.5', '--seed', '1.5'], /--seed must be an integer/],
  ])('fails with one line for %j', async (args, message) => {
    const r = await runCurioInProcess(['split', ...args, '--db', db, '--json']);
    expectOneLineError(r, 'split', message);
  });
});

describe('curio', () => {
  it('exits non-zero on an unknown command and prints usage', async () => {
    const r = await runCurioInProcess(['frobnicate']);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)[0]).toBe('curio: unknown command "frobnicate"');
  });

  it('prints help for a command and exits 0', async () => {
    const r = await runCurioInProcess(['import', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: curio import <folder…>/);
  });
});
