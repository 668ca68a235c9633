import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Catalog } from '../../../main/catalog/catalog.js';
import { renderReportHtml } from '../../../main/evaluate/html.js';
import { evaluate } from '../../../main/evaluate/report.js';
import { ReportStore } from '../../../main/evaluate/report-store.js';
import { RunStore } from '../../../main/train/runs/run-store.js';
import { makeTempDir, removeDir, testJobContext } from '../ingest/fixtures.js';
import { fakeRun, tintedCatalog } from './report-fixtures.js';

// Which runtime evaluation picks, and that the report and the job's phase say so. The ONNX graph writer and ORT's
// session are wrapped so a test can make either fail the way they do in the field: a backbone with no graph (ViTs
// until ab62d00) and an ORT whose native library cannot load.
const broken = vi.hoisted(() => ({ graphFor: null as string | null, ort: false }));

vi.mock('../../../main/onnx/encoder.js', async (importActual) => {
  const actual = await importActual<typeof import('../../../main/onnx/encoder.js')>();
  return {
    ...actual,
    encoderToOnnx: (e: Parameters<typeof actual.encoderToOnnx>[0]) => {
      if (e.backbone === broken.graphFor) throw new Error(`ONNX export supports the ResNet backbones (small, resnet18, resnet50), not ${e.backbone}`);
      return actual.encoderToOnnx(e);
    },
  };
});
vi.mock('../../../main/onnx/runtime.js', async (importActual) => {
  const actual = await importActual<typeof import('../../../main/onnx/runtime.js')>();
  return {
    ...actual,
    createOnnxEmbedderFromBytes: (...args: Parameters<typeof actual.createOnnxEmbedderFromBytes>) =>
      broken.ort ? Promise.reject(new Error('libonnxruntime.so.1: cannot open shared object file')) : actual.createOnnxEmbedderFromBytes(...args),
  };
});

let dir: string;
let catalog: Catalog;
let deps: { catalog: Catalog; runs: RunStore; reports: ReportStore; cacheDir: string };
const probe = { l2Grid: [1e-2], maxIterations: 30 };
const knnOnly = { trainDataset: 'train', testDataset: 'test', protocols: ['knn'] as const, fractions: [] };

beforeAll(async () => {
  dir = makeTempDir('extract-fallback');
  catalog = await tintedCatalog(dir, 6);
  deps = { catalog, runs: new RunStore(catalog), reports: new ReportStore(catalog), cacheDir: path.join(dir, 'features') };
}, 60_000);
afterAll(() => {
  catalog?.close();
  removeDir(dir);
});
beforeEach(() => {
  broken.graphFor = null;
  broken.ort = false;
});

describe('evaluation runtime choice', () => {
  // (ResNet-18 picking ORT by default is checked in extract-runtime.test.ts; the small CNN keeps this one quick)
  it("a run's encoder and its random-init twin extract on ONNX Runtime; the report and the job phases say so", async () => {
    const runId = await fakeRun(catalog, dir, 'small', 16, 4);
    const ctx = testJobContext();
    const r = await evaluate({ ...deps, probe }, { ...knnOnly, run: runId }, ctx);
    expect(r.extraction).toEqual([
      { features: `run ${runId} features: train`, runtime: 'onnxruntime', fallback: null, cached: false },
      { features: `run ${runId} features: test`, runtime: 'onnxruntime', fallback: null, cached: false },
      { features: 'random-init features: train', runtime: 'onnxruntime', fallback: null, cached: false },
      { features: 'random-init features: test', runtime: 'onnxruntime', fallback: null, cached: false },
    ]);
    expect(ctx.phases).toContain(`run ${runId} features: train on ONNX Runtime`);
    expect(renderReportHtml(r)).toContain(`run ${runId} features: train: ONNX Runtime`);
    // read back from the catalog whole
    expect(deps.reports.get(r.id).extraction).toEqual(r.extraction);

    // the same evaluation again reads every feature set from the cache, and says that too
    const again = await evaluate({ ...deps, probe }, { ...knnOnly, run: runId });
    expect(again.extraction!.map((e) => [e.runtime, e.cached])).toEqual(Array(4).fill(['onnxruntime', true]));
    expect(renderReportHtml(again)).toContain('ONNX Runtime, from the feature cache');
  }, 60_000);

  it('an encoder without an ONNX graph (as ViTs were) extracts on tfjs, and the report gives the reason', async () => {
    broken.graphFor = 'vit-tiny';
    const ctx = testJobContext();
    const r = await evaluate({ ...deps, probe }, { ...knnOnly, run: 'random', backbone: 'vit-tiny', seed: 1 }, ctx);
    const why = 'vit-tiny has no ONNX graph yet: ONNX export supports the ResNet backbones (small, resnet18, resnet50), not vit-tiny';
    expect(r.extraction!.map((e) => [e.runtime, e.fallback])).toEqual([
      ['tfjs', why],
      ['tfjs', why],
    ]);
    expect(ctx.phases).toContain(`random-init features: train on tfjs (not ONNX Runtime: ${why})`);
    expect(renderReportHtml(r)).toContain(`tfjs (not ONNX Runtime: ${why})`);
  }, 60_000);

  it('ONNX Runtime failing to load falls back to tfjs with its error; runtime "onnxruntime" refuses instead', async () => {
    broken.ort = true;
    const r = await evaluate({ ...deps, probe }, { ...knnOnly, run: 'random', backbone: 'small', seed: 2 });
    expect(r.extraction!.map((e) => [e.runtime, e.fallback])).toEqual(Array(2).fill(['tfjs', 'ONNX Runtime could not run it: libonnxruntime.so.1: cannot open shared object file']));
    await expect(evaluate({ ...deps, probe, runtime: 'onnxruntime' }, { ...knnOnly, run: 'random', backbone: 'small', seed: 3 })).rejects.toThrow(
      /cannot run random:small:\d+:3 on ONNX Runtime: libonnxruntime/,
    );
  }, 60_000);
});
