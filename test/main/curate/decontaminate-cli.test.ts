import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Catalog } from '../../../main/catalog/catalog.js';
import { runCli } from '../../../main/cli/main.js';
import { nearCopy, picture, write } from './curate-fixtures.js';

const run = promisify(execFile);
const bin = path.resolve('bin/curio.js');
const curio = (args: string[]) =>
  run('node', [bin, ...args], { env: { ...process.env, CURIO_FROM_SOURCE: '1' } }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
/** The CLI in this process (no tsx start-up per call); stdout and stderr captured. */
async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((stdout += String(c)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((stderr += String(c)), true));
  try {
    const code = await runCli(args);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;

describe('curio curate / curio export', () => {
  let tmp: string;
  let db: string;
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-curate-cli-'));
    db = path.join(tmp, 'c.db');
    const pool = path.join(tmp, 'pool');
    const evalDir = path.join(tmp, 'eval');
    for (let i = 0; i < 12; i++) write(path.join(pool, i < 6 ? 'red' : 'blue'), `p${i}.png`, await picture(i));
    for (let e = 0; e < 3; e++) {
      const png = await picture(200 + e);
      write(evalDir, `e${e}.png`, png);
      if (e < 2) write(path.join(pool, 'red'), `copy${e}.jpg`, await nearCopy(png));
    }
    for (const [dir, name] of [[pool, 'pool'], [evalDir, 'eval']]) {
      const r = await cli(['import', dir!, '--db', db, '--dataset', name!, '--labels-from-folders', '--json']);
      expect(r.code, r.stderr).toBe(0);
    }
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('decontaminate --apply --json (through bin/curio.js): counts and the new version on the last line', async () => {
    const r = await curio(['curate', 'decontaminate', '--db', db, '--dataset', 'pool', '--against', 'eval', '--apply', 'pool-clean', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = lastJson(r.stdout);
    expect(j.removed).toBe(2);
    expect(j.kept).toBe(12);
    const c = Catalog.open(db);
    const applied = j.applied as { name: string; datasetId: number; imageCount: number };
    expect(applied).toEqual({ name: 'pool-clean', datasetId: c.datasetIdByName('pool-clean'), imageCount: 12 });
    c.close();
  });

  it('balance and retrieve --json', async () => {
    const b = await cli(['curate', 'balance', '--db', db, '--dataset', 'pool', '--clusters', '3', '--per-cluster', '2', '--seed', '4', '--json']);
    expect(b.code, b.stderr).toBe(0);
    const bj = lastJson(b.stdout);
    expect(bj.clusters).toBe(3);
    expect(bj.kept).toBe((bj.keptSizes as number[]).reduce((s, x) => s + x, 0));
    expect((bj.keptSizes as number[]).every((x) => x <= 2)).toBe(true);
    expect(bj.applied).toBeNull();
    const r = await cli(['curate', 'retrieve', '--db', db, '--dataset', 'pool', '--seed-dataset', 'eval', '--per-image', '1', '--apply', 'near-eval', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rj = lastJson(r.stdout);
    expect((rj.applied as { imageCount: number }).imageCount).toBe(rj.kept);
  });

  it.each([
    [['decontaminate', '--dataset', 'pool', '--against', 'eval', '--cosine', '1.5'], /--cosine: cosine threshold must be in 0.5..1/],
    [['balance', '--dataset', 'pool', '--clusters', '0'], /--clusters: clusters must be at least 1/],
    [['retrieve', '--dataset', 'pool', '--seed-dataset', 'eval', '--per-image', 'x'], /--per-image must be a number/],
    [['sort'], /unknown curate step "sort"/],
  ])('refuses %j with exit 2', async (args, message) => {
    const r = await cli(['curate', ...args, '--db', db]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('export --format copy writes label folders; a non-empty folder needs --force', async () => {
    const out = path.join(tmp, 'export');
    const r = await cli(['export', '--db', db, '--dataset', 'pool-clean', '--format', 'copy', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson(r.stdout).written).toBe(12);
    expect(fs.readdirSync(out).sort()).toEqual(['blue', 'red']);
    expect(fs.readdirSync(path.join(out, 'red'))).toHaveLength(6);
    const again = await cli(['export', '--db', db, '--dataset', 'pool-clean', '--format', 'csv', '--out', out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/not empty/);
    const bad = await cli(['export', '--db', db, '--dataset', 'pool-clean', '--format', 'zip', '--out', out]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--format/);
  });
});
