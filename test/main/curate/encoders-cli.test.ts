import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../../main/catalog/catalog.js';
import { lines, runCurio } from '../cli/run-cli.js';
import { fakeRun, importFolder, tintedCatalog } from '../evaluate/report-fixtures.js';
import { nearCopy, picture, write } from './curate-fixtures.js';

let dir: string;
let catalog: Catalog;
let db: string;
let runId: number;
let pics: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-encoders-cli-'));
  catalog = await tintedCatalog(dir, 2);
  db = catalog.path;
  runId = await fakeRun(catalog, dir, 'small', 16, 5);
  // five distinct pictures and a near-copy of the first (resized, brighter, low-quality JPEG)
  pics = path.join(dir, 'pics');
  for (let seed = 1; seed <= 5; seed++) write(pics, `p${seed}.png`, await picture(seed));
  write(pics, 'p1-copy.jpg', await nearCopy(await picture(1)));
  await importFolder(catalog, pics, 'pics', false);
}, 120_000);

afterAll(() => {
  catalog?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('--encoder on the curation commands', () => {
  it('curio dedup --encoder RUN embeds with the run (on ONNX Runtime) and prints the groups as JSON', async () => {
    const r = await runCurio(['dedup', '--db', db, '--dataset', 'pics', '--strategy', 'embedding', '--encoder', String(runId), '--json']);
    expect(r.code, r.stderr).toBe(0);
    // with --json the summary goes to stderr
    expect(r.stderr).toMatch(new RegExp(`encoder +run ${runId} \\(small, step 40\\) on onnxruntime`));
    const groups = JSON.parse(lines(r.stdout).at(-1)!) as { keep: string; duplicates: { path: string; similarity: number }[] }[];
    expect(groups).toHaveLength(1);
    expect([groups[0]!.keep, ...groups[0]!.duplicates.map((d) => d.path)].map((p) => path.basename(p)).sort()).toEqual(['p1-copy.jpg', 'p1.png']);
    // the similarity reported is the run encoder's cosine, a number in (0, 1]
    expect(groups[0]!.duplicates[0]!.similarity).toBeGreaterThan(0);
    expect(groups[0]!.duplicates[0]!.similarity).toBeLessThanOrEqual(1);
    const stored = catalog.db.prepare('SELECT DISTINCT encoder FROM embeddings').all() as { encoder: string }[];
    expect(stored.map((s) => s.encoder)).toEqual([expect.stringMatching(new RegExp(`^run:${runId}:step40:`))]);
  }, 120_000);

  it('curio curate decontaminate --encoder RUN compares with the run\'s embeddings and says so', async () => {
    const r = await runCurio(['curate', 'decontaminate', '--db', db, '--dataset', 'pics', '--against', 'tinted', '--encoder', String(runId), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`encoder +run ${runId} \\(small, step 40\\) on onnxruntime`));
    const result = JSON.parse(lines(r.stdout).at(-1)!) as { imageCount: number; evalCount: number };
    expect(result).toMatchObject({ imageCount: 6, evalCount: 6 });
  }, 120_000);

  it('an unknown run, a missing file or a malformed model is one clear line and a non-zero exit', async () => {
    const garbage = path.join(dir, 'garbage.onnx');
    fs.writeFileSync(garbage, 'not a model');
    const cases: [string[], RegExp][] = [
      [['dedup', '--dataset', 'pics', '--encoder', '999'], /^curio dedup: error: no run with id 999$/],
      [['curate', 'decontaminate', '--dataset', 'pics', '--against', 'tinted', '--encoder', path.join(dir, 'nope.onnx')], /^curio curate: error: encoder .*nope\.onnx does not exist$/],
      [['curate', 'balance', '--dataset', 'pics', '--clusters', '2', '--encoder', garbage], /^curio curate: error: cannot load ONNX encoder .*garbage\.onnx/],
    ];
    for (const [args, message] of cases) {
      const r = await runCurio([...args, '--db', db]);
      expect(r.code, args.join(' ')).not.toBe(0);
      const errors = lines(r.stderr).filter((l) => l.includes('error'));
      expect(errors, r.stderr).toHaveLength(1);
      expect(errors[0]).toMatch(message);
    }
  }, 120_000);
});
