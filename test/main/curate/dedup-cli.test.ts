import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../../main/catalog/catalog.js';

const run = promisify(execFile);
const bin = path.resolve('bin/curio.js');
const curio = (args: string[]) =>
  run('node', [bin, ...args], { env: { ...process.env, CURIO_FROM_SOURCE: '1' } }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

describe('curio dedup', () => {
  let tmp: string;
  let db: string;
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-dedup-cli-'));
    db = path.join(tmp, 'c.db');
    const dir = path.join(tmp, 'imgs');
    fs.mkdirSync(dir);
    // Three distinct pictures; the first one also as a byte copy and as a smaller re-encode.
    const pic = (seed: number) =>
      sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 0, g: 0, b: 0 } } })
        .composite([
          { input: Buffer.from(`<svg width="64" height="48"><rect x="${seed * 9}" y="${seed * 5}" width="${20 + seed * 4}" height="18" fill="white"/><circle cx="${50 - seed * 12}" cy="${30 - seed * 4}" r="${6 + seed}" fill="rgb(${seed * 80},120,200)"/></svg>`) },
        ])
        .png()
        .toBuffer();
    const a = await pic(0);
    fs.writeFileSync(path.join(dir, 'a.png'), a);
    fs.writeFileSync(path.join(dir, 'a-copy.png'), a);
    fs.writeFileSync(path.join(dir, 'a-small.jpg'), await sharp(a).resize(48, 36).jpeg({ quality: 60 }).toBuffer());
    fs.writeFileSync(path.join(dir, 'b.png'), await pic(2));
    fs.writeFileSync(path.join(dir, 'c.png'), await pic(4));
    const imp = await curio(['import', dir, '--db', db, '--dataset', 'pics', '--json']);
    expect(imp.code).toBe(0);
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('reports groups as JSON on the last line and changes nothing without --apply', async () => {
    const r = await curio(['dedup', '--db', db, '--dataset', 'pics', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const groups = JSON.parse(r.stdout.trim().split('\n').pop()!) as { keep: string; duplicates: { path: string; similarity: number }[] }[];
    const c = Catalog.open(db);
    expect(c.listDatasets().map((d) => d.name)).toEqual(['pics']);
    // Resolution rule: 64×48 beats 48×36; between a.png and its byte copy the first imported wins (the import
    // decodes in parallel, so which one that is can vary).
    const ids = new Map(c.datasetImages(c.datasetIdByName('pics')).map((img) => [path.basename(img.path), img.id]));
    c.close();
    const first = ids.get('a.png')! < ids.get('a-copy.png')! ? 'a.png' : 'a-copy.png';
    const second = first === 'a.png' ? 'a-copy.png' : 'a.png';
    expect(groups).toHaveLength(1);
    expect(path.basename(groups[0]!.keep)).toBe(first);
    expect(groups[0]!.duplicates.map((d) => path.basename(d.path)).sort()).toEqual([second, 'a-small.jpg'].sort());
    expect(groups[0]!.duplicates.find((d) => d.path.endsWith(second))!.similarity).toBe(1);
  });

  it('--apply makes a curated version without the duplicates', async () => {
    const r = await curio(['dedup', '--db', db, '--dataset', 'pics', '--apply', 'pics-dedup', '--keep', 'first']);
    expect(r.code, r.stderr).toBe(0);
    const c = Catalog.open(db);
    const v = c.getDataset(c.datasetIdByName('pics-dedup'));
    expect(v.kind).toBe('curated');
    expect(v.imageCount).toBe(3);
    c.close();
    const again = await curio(['dedup', '--db', db, '--dataset', 'pics', '--apply', 'pics-dedup']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
  });

  it.each([
    [['--cosine', '1.5'], /--cosine: cosine threshold must be in 0.5..1/],
    [['--phash-distance', '40'], /--phash-distance: phash distance must be in 0..32/],
    [['--phash-distance', 'x'], /--phash-distance must be a number/],
    [['--strategy', 'exact,magic'], /--strategy/],
    [['--keep', 'biggest'], /--keep/],
  ])('refuses %j with a clear error', async (flags, message) => {
    const r = await curio(['dedup', '--db', db, '--dataset', 'pics', ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('names a missing dataset', async () => {
    const r = await curio(['dedup', '--db', db, '--dataset', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no dataset named "nope"/);
  });
});
