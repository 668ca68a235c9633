import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Report } from '../../../shared/contract/evaluate.js';
import type { Catalog } from '../../../main/catalog/catalog.js';
import { pct, renderReportHtml } from '../../../main/evaluate/html.js';
import { evaluate, planEvaluation } from '../../../main/evaluate/report.js';
import { exportFolder, exportReport, reportFileName, safeJoin } from '../../../main/evaluate/report-export.js';
import { ReportStore } from '../../../main/evaluate/report-store.js';
import { RunStore } from '../../../main/train/runs/run-store.js';
import { makeTempDir, removeDir } from '../ingest/fixtures.js';
import { fakeRun, importFolder, tintedCatalog, writeTintedImages } from './report-fixtures.js';

let dir: string;
let catalog: Catalog;
let deps: { catalog: Catalog; runs: RunStore; reports: ReportStore; cacheDir: string };
let report: Report;

// A short grid keeps the probes quick; the protocol is the same.
const probe = { l2Grid: [1e-2, 1e-4], maxIterations: 100 };

beforeAll(async () => {
  dir = makeTempDir('report');
  catalog = await tintedCatalog(dir, 20);
  deps = { catalog, runs: new RunStore(catalog), reports: new ReportStore(catalog), cacheDir: path.join(dir, 'features') };
  report = await evaluate({ ...deps, probe }, { run: 'random', trainDataset: 'train', testDataset: 'test', backbone: 'small' });
});
afterAll(() => {
  catalog?.close();
  removeDir(dir);
});

describe('evaluation reports', () => {
  it('runs every protocol and both baselines, with accuracies that separate tinted classes', () => {
    expect(Report.safeParse(report).success).toBe(true);
    expect(report.classes).toEqual(['blue', 'green', 'red']);
    expect(report.encoder).toMatchObject({ kind: 'random', runId: null, backbone: 'small', imageSize: 16 });
    expect(report.linear!.confusion.flat().reduce((a, b) => a + b, 0)).toBe(18); // 30% of 60
    expect(report.linear!.perClass).toHaveLength(3);
    expect(report.linear!.top1).toBeGreaterThan(0.9);
    expect(report.linear!.top5).toBe(1); // 3 classes: top-5 holds every class
    expect(Object.keys(report.knn!)).toEqual(['k10', 'k20', 'k100']);
    expect(Object.keys(report.fractions)).toEqual(['0.01', '0.1']);
    for (const f of Object.values(report.fractions)) expect(f.runs).toHaveLength(3);
    expect(report.baselines.pixels.linear.top1).toBeGreaterThan(0.9);
    // for a random encoder the random-init baseline is the encoder itself
    expect(report.baselines.random.linear!.top1).toBe(report.linear!.top1);
    expect(report.baselines.random.knn!.k20).toBe(report.knn!.k20);
    expect(report.leakCount).toBe(0);
  });

  it('is stored in the catalog, tied to both datasets, and reads back whole', () => {
    const again = new ReportStore(catalog);
    expect(again.get(report.id)).toEqual(report);
    const listed = again.list().find((s) => s.id === report.id)!;
    expect(listed).toMatchObject({ trainDataset: 'train', testDataset: 'test', linearTop1: report.linear!.top1, knnK20: report.knn!.k20 });
    const row = catalog.db.prepare('SELECT train_dataset_id, test_dataset_id, run_id FROM reports WHERE id = ?').get(report.id);
    expect(row).toEqual({ train_dataset_id: catalog.datasetIdByName('train'), test_dataset_id: catalog.datasetIdByName('test'), run_id: null });
    expect(() => again.get(99_999)).toThrow(/no report with id 99999/);
  });

  it("a run's report has its own random-init baseline of the same architecture and is tied to the run", async () => {
    const runId = await fakeRun(catalog, dir, 'small', 16, 5);
    const r = await evaluate({ ...deps, probe }, { run: runId, trainDataset: 'train', testDataset: 'test', protocols: ['knn'], fractions: [] });
    expect(r.encoder).toMatchObject({ kind: 'run', runId, method: 'simclr', epochs: 2, steps: 40, backbone: 'small', imageSize: 16 });
    expect(r.linear).toBeNull();
    expect(r.fractions).toEqual({});
    expect(r.baselines.random.linear).toBeNull();
    expect(r.baselines.random.knn!.k20).toBeGreaterThan(0);
    expect(new ReportStore(catalog).forRun(runId).map((s) => s.id)).toEqual([r.id]);
  });

  it('a test dataset without labels fails at once, naming it, before any feature is computed', async () => {
    const folder = path.join(dir, 'unlabelled');
    await writeTintedImages(folder, 2, 16, 99);
    await importFolder(catalog, folder, 'no-labels here', false);
    const cacheDir = path.join(dir, 'features-never');
    await expect(evaluate({ ...deps, cacheDir }, { run: 'random', trainDataset: 'train', testDataset: 'no-labels here' })).rejects.toThrow(
      /test dataset "no-labels here" has no labels/,
    );
    expect(fs.existsSync(cacheDir)).toBe(false);
    expect(() => planEvaluation(catalog, deps.runs, { run: 'random', trainDataset: 'no-labels here', testDataset: 'test' })).toThrow(
      /train dataset "no-labels here" has no labels/,
    );
    expect(() => planEvaluation(catalog, deps.runs, { run: 'random', trainDataset: 'train', testDataset: 'missing-set' })).toThrow(/missing-set/);
  });

  it('train and test sharing images (same sha256) is a leak warning with its count', async () => {
    // train vs the whole import: every test image of "tinted" that is also in "train" is a leak (70% of 60 = 42)
    const plan = planEvaluation(catalog, deps.runs, { run: 'random', trainDataset: 'train', testDataset: 'tinted' });
    expect(plan.leakCount).toBe(42);
    expect(plan.warnings.join('\n')).toMatch(/Leak: 42 test image\(s\) also appear in the train set/);
    // a copy of a train file imported under another folder has the same sha256: it counts too
    const train = catalog.datasetImages(catalog.datasetIdByName('train'));
    const picks = [...train.filter((i) => i.label === 'red').slice(0, 3), ...train.filter((i) => i.label === 'blue').slice(0, 1)];
    for (const img of picks) {
      fs.mkdirSync(path.join(dir, 'copies', img.label!), { recursive: true });
      fs.copyFileSync(img.path, path.join(dir, 'copies', img.label!, `copy-${path.basename(img.path)}`));
    }
    await importFolder(catalog, path.join(dir, 'copies'), 'copies');
    const r = await evaluate({ ...deps, probe }, { run: 'random', trainDataset: 'train', testDataset: 'copies', protocols: ['knn'], fractions: [] });
    expect(r.leakCount).toBe(4);
    expect(r.warnings.some((w) => w.startsWith('Leak: 4 test image(s) also appear in the train set'))).toBe(true);
    // "copies" has no green: the green train images leave the evaluation, with a warning saying so
    expect(r.classes).toEqual(['blue', 'red']);
    expect(r.warnings.some((w) => /14 train image\(s\) of 1 class\(es\) absent from the test set \(green\)/.test(w))).toBe(true);
    // the other way round a test class is unlearnable: refused, naming it
    expect(() => planEvaluation(catalog, deps.runs, { run: 'random', trainDataset: 'copies', testDataset: 'test' })).toThrow(/"copies" lacks: green/);
  });

  it('HTML export is self-contained and carries the numbers', async () => {
    const html = renderReportHtml(report);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/\s(src|href)\s*=/i);
    expect(html).not.toMatch(/<script|<link|@import|url\(/i);
    expect(html).toContain('<svg');
    expect(html).toContain('aria-label="confusion matrix"');
    expect(html).toContain('aria-label="per-class accuracy"');
    expect(html).toContain(pct(report.linear!.top1));
    expect(html).toContain(pct(report.knn!.k100));
    expect(html).toContain(pct(report.baselines.pixels.linear.top1));
    expect(html).toContain(`${pct(report.fractions['0.1']!.mean)} ± ${(100 * report.fractions['0.1']!.std).toFixed(1)}`);
    expect(html).toMatch(/centre-cropped/);
    const out = path.join(dir, 'exports');
    const file = await exportReport(report, 'html', out);
    expect(path.dirname(file)).toBe(out);
    expect(fs.readFileSync(file, 'utf8')).toBe(html);
    const json = await exportReport(report, 'json', out);
    expect(JSON.parse(fs.readFileSync(json, 'utf8'))).toEqual(report);
  });

  it('names from datasets are escaped in HTML and cannot steer the export path', async () => {
    const hostile = { ...report, trainDataset: '../../<script>x</script>', testDataset: '..' };
    expect(renderReportHtml(hostile)).not.toContain('<script>');
    const name = reportFileName(hostile, 'html');
    expect(name).not.toContain('/');
    expect(name.startsWith(`report-${report.id}-`)).toBe(true);
    const out = path.join(dir, 'exports-hostile');
    const file = await exportReport(hostile, 'html', out);
    expect(path.dirname(file)).toBe(out);
  });

  it('export paths outside the chosen folder are refused', () => {
    const base = path.join(dir, 'chosen');
    for (const bad of ['../evil.html', 'a/../../evil.html', '/etc/passwd', '..', '.', 'sub/x.html', 'x\\..\\y.html']) {
      expect(() => safeJoin(base, bad), bad).toThrow(/refusing to write/);
    }
    expect(safeJoin(base, 'report-1.html')).toBe(path.join(base, 'report-1.html'));
    expect(() => exportFolder(`${base}/../../elsewhere`)).toThrow(/walks up/);
    fs.writeFileSync(path.join(dir, 'a-file'), 'x');
    expect(() => exportFolder(path.join(dir, 'a-file'))).toThrow(/is a file, not a folder/);
  });

  it('PDF export fails with a clear error where no Chromium exists, and writes nothing', async () => {
    const out = path.join(dir, 'pdf-none');
    await expect(exportReport(report, 'pdf', out, { CURIO_CHROMIUM: path.join(dir, 'no-such-chromium') })).rejects.toThrow(
      /PDF export needs Chromium or Chrome, and none was found/,
    );
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it.skipIf(!fs.existsSync('/usr/bin/chromium'))('PDF export prints through headless Chromium', async () => {
    const file = await exportReport(report, 'pdf', path.join(dir, 'pdf'), { CURIO_CHROMIUM: '/usr/bin/chromium' });
    const bytes = fs.readFileSync(file);
    expect(bytes.subarray(0, 5).toString()).toBe('%PDF-');
    expect(bytes.length).toBeGreaterThan(2000);
  });
});
