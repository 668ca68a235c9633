import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Catalog } from '../../../main/catalog/catalog.js';
import { EventBus } from '../../../main/common/event-bus.js';
import { JobManager } from '../../../main/common/jobs.js';
import { exportDataset, safeSegment } from '../../../main/curate/export-dataset.js';
import { importFolders } from '../../../main/ingest/import.js';
import { createHandlers } from '../../../main/rpc/handlers.js';
import { createServices } from '../../../main/services.js';
import type { ExportFormat } from '../../../shared/contract/curate-versions.js';
import { picture, write } from './curate-fixtures.js';

/** Every file under `dir` (links included, not followed), relative, sorted. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

describe('dataset export', () => {
  let tmp: string;
  let catalog: Catalog;
  const jobs = new JobManager(new EventBus());
  const run = (dataset: string, format: ExportFormat, out: string, force = false) =>
    jobs.start('export', (ctx) => exportDataset(catalog, { dataset, format, out, force }, ctx)).promise;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-export-'));
    const src = path.join(tmp, 'src');
    write(path.join(src, 'cat'), 'a.png', await picture(1));
    write(path.join(src, 'cat'), 'b,"odd".png', await picture(2));
    write(path.join(src, 'dog'), 'a.png', await picture(3)); // same file name as cat/a.png
    write(path.join(src, 'dog'), 'con.png', await picture(4));
    write(path.join(src, 'dog'), 'x\\..\\..evil.png', await picture(5));
    catalog = Catalog.open(path.join(tmp, 'catalog.db'));
    await jobs.start('import', (ctx) => importFolders(catalog, { folders: [src], dataset: 'pets', labelsFromFolders: true, thumbnailDir: path.join(tmp, 'thumbs') }, ctx)).promise;
    // A version whose labels try to climb out of the export folder.
    const id = catalog.datasetIdByName('pets');
    const members = catalog.datasetImages(id).map((img, i) => ({ imageId: img.id, label: ['../../escape', '/etc', '..', 'C:\\x', null][i]! }));
    catalog.createDerivedDataset('hostile', 'curated', id, members);
  });
  afterAll(() => {
    catalog?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('csv manifest: path, label, sha256, width, height, quoted where needed', async () => {
    const out = path.join(tmp, 'out-csv', 'nested'); // created when missing
    const r = await run('pets', 'csv', out);
    expect(r.written).toBe(5);
    const lines = fs.readFileSync(r.manifest!, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('path,label,sha256,width,height');
    expect(lines).toHaveLength(6);
    const odd = lines.find((l) => l.includes('odd'))!;
    expect(odd).toMatch(/^".*b,""odd""\.png",cat,[0-9a-f]{64},64,64$/);
  });

  it('json manifest matches the catalog', async () => {
    const r = await run('pets', 'json', path.join(tmp, 'out-json'));
    const rows = JSON.parse(fs.readFileSync(r.manifest!, 'utf8')) as { path: string; label: string; sha256: string; width: number; height: number }[];
    const images = catalog.datasetImages(catalog.datasetIdByName('pets'));
    expect(rows).toEqual(images.map((i) => ({ path: i.path, label: i.label, sha256: i.sha256, width: i.width, height: i.height })));
  });

  it('copy: label subfolders, clashing names kept apart, originals untouched', async () => {
    const out = path.join(tmp, 'out-copy');
    const r = await run('pets', 'copy', out);
    expect(r.written).toBe(5);
    const files = tree(out);
    expect(files).toHaveLength(5);
    expect(files.filter((f) => f.startsWith(`cat${path.sep}`))).toHaveLength(2);
    expect(files).toContain(path.join('dog', 'a.png'));
    expect(files).toContain(path.join('dog', '_con.png'));
    expect(files).toContain(path.join('dog', 'x_.._..evil.png'));
    expect(files.every((f) => !f.split(path.sep).some((seg) => seg === '..' || seg.startsWith('.')))).toBe(true);
    const src = catalog.datasetImages(catalog.datasetIdByName('pets')).find((i) => i.label === 'cat' && i.path.endsWith('a.png'))!;
    expect(fs.readFileSync(path.join(out, 'cat', 'a.png'))).toEqual(fs.readFileSync(src.path));
    expect(fs.lstatSync(path.join(out, 'cat', 'a.png')).isSymbolicLink()).toBe(false);
  });

  it('symlink: links to the original files', async () => {
    const out = path.join(tmp, 'out-link');
    await run('pets', 'symlink', out);
    const link = path.join(out, 'dog', 'a.png');
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(path.isAbsolute(fs.readlinkSync(link))).toBe(true);
    expect(fs.readFileSync(link).length).toBeGreaterThan(0);
  });

  it('labels and file names cannot lead outside the folder', async () => {
    const outer = path.join(tmp, 'jail');
    const out = path.join(outer, 'out');
    const r = await run('hostile', 'copy', out);
    expect(r.written).toBe(5);
    expect(tree(outer).every((f) => f.startsWith(`out${path.sep}`))).toBe(true);
    expect(fs.existsSync(path.join(tmp, 'escape'))).toBe(false);
    const folders = fs.readdirSync(out).sort();
    expect(folders).toEqual(['C__x', '_', '_.._escape', '_etc', '_unlabelled'].sort());
    expect(safeSegment('../../x')).toBe('_.._x');
    expect(safeSegment('..')).toBe('_');
    expect(safeSegment('a/b\\c\u0000')).toBe('a_b_c_');
  });

  it('refuses to follow a label folder that links outside, even with --force', async () => {
    const out = path.join(tmp, 'out-trap');
    const outside = path.join(tmp, 'outside');
    fs.mkdirSync(outside);
    fs.mkdirSync(out);
    fs.symlinkSync(outside, path.join(out, 'cat'));
    await expect(run('pets', 'copy', out, true)).rejects.toThrow(/refusing to write outside/);
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it('refuses a non-empty folder unless forced, and a file as the folder', async () => {
    const out = path.join(tmp, 'out-full');
    write(out, 'keep.txt', Buffer.from('mine'));
    await expect(run('pets', 'csv', out)).rejects.toThrow(/not empty.*--force/);
    const r = await run('pets', 'csv', out, true);
    expect(r.written).toBe(5);
    expect(fs.readFileSync(path.join(out, 'keep.txt'), 'utf8')).toBe('mine');
    await expect(run('pets', 'csv', path.join(out, 'keep.txt'))).rejects.toThrow(/not a folder/);
  });

  it('over RPC: refuses a relative folder, and the job writes the manifest', async () => {
    const services = createServices({ dbPath: path.join(tmp, 'catalog.db'), mode: 'browser' });
    try {
      const h = createHandlers(services);
      expect(() => h['curate.export']({ dataset: 'pets', format: 'csv', out: 'relative/dir', force: false })).toThrow(/absolute path/);
      const out = path.join(tmp, 'out-rpc');
      const { jobId } = await h['curate.export']({ dataset: 'pets', format: 'json', out, force: false });
      await vi.waitFor(() => expect(services.jobs.list().find((j) => j.jobId === jobId)?.state).toBe('done'), { timeout: 10_000 });
      expect(fs.existsSync(path.join(out, 'manifest.json'))).toBe(true);
    } finally {
      services.close();
    }
  });
});
