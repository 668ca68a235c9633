import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobProgress } from '../../../shared/contract/jobs.js';
import type { Catalog } from '../../../main/catalog/catalog.js';
import { CancelledError } from '../../../main/common/errors.js';
import { EventBus } from '../../../main/common/event-bus.js';
import { JobManager } from '../../../main/common/jobs.js';
import { mulberry32 } from '../../../main/common/random.js';
import { encoderKey, featureCacheFile, featureKey, writeFeatureCache } from '../../../main/evaluate/extract.js';
import { type EvalPlan, planEvaluation, runEvaluation } from '../../../main/evaluate/report.js';
import { ReportStore } from '../../../main/evaluate/report-store.js';
import { RunStore } from '../../../main/train/runs/run-store.js';
import { makeTempDir, removeDir } from '../ingest/fixtures.js';
import { tintedCatalog } from './report-fixtures.js';

// Synthetic features are written into the feature cache under the keys the evaluation computes, so the job skips
// the encoder and goes straight to a linear probe that is slow on purpose: 40,000 dimensions, a tiny λ and no
// stopping tolerance (each objective evaluation takes ~10 ms; the whole fit would run for minutes).
const DIM = 40_000;

let dir: string;
let catalog: Catalog;
let plan: EvalPlan;
let cacheDir: string;

function writeSynthetic(part: EvalPlan['train'], seed: number): void {
  const rand = mulberry32(seed);
  const data = new Float32Array(part.images.length * DIM);
  for (let i = 0; i < data.length; i++) data[i] = rand() - 0.5;
  const key = featureKey(encoderKey(plan.encoder), part.id, part.images);
  writeFeatureCache(featureCacheFile(cacheDir, key), key, { data, n: part.images.length, dim: DIM });
}

beforeAll(async () => {
  dir = makeTempDir('report-cancel');
  catalog = await tintedCatalog(dir, 20);
  cacheDir = path.join(dir, 'features');
  plan = planEvaluation(catalog, new RunStore(catalog), { run: 'random', trainDataset: 'train', testDataset: 'test', backbone: 'small' });
  writeSynthetic(plan.train, 1);
  writeSynthetic(plan.test, 2);
});
afterAll(() => {
  catalog?.close();
  removeDir(dir);
});

describe('cancelling an evaluation job', () => {
  it('stops a linear probe mid-fit within a second, keeps the event loop turning during the fit, and stores no report', async () => {
    const reports = new ReportStore(catalog);
    const before = reports.list().length;
    const bus = new EventBus();
    const jobs = new JobManager(bus, 0);
    const seen: JobProgress[] = [];
    bus.subscribe((name, payload) => {
      if (name === 'onDidProgress') seen.push(payload as JobProgress);
    });
    const probe = { l2Grid: [1e-7], maxIterations: 1_000_000, gradientTolerance: 0, relativeTolerance: 0, threads: 1 };
    const { jobId, promise } = jobs.start('eval', (ctx) => runEvaluation(plan, { catalog, runs: new RunStore(catalog), reports, cacheDir, probe }, ctx));
    const outcome = promise.then(
      () => 'resolved',
      (err: unknown) => err,
    );

    // The longest the event loop went without a turn while the fit ran: a timer that should fire every 10 ms.
    let last = performance.now();
    let worstGap = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
    }, 10);
    try {
      // Wait until the probe is well into its iterations (progress events only arrive if the loop turns).
      const fitting = () => seen.filter((p) => p.phase === 'linear probe' && p.message?.includes('refit')).at(-1);
      const deadline = performance.now() + 60_000;
      while ((fitting()?.done ?? 0) < 20 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const atCancel = fitting();
      expect(atCancel?.done, 'the probe reported 20 L-BFGS iterations').toBeGreaterThanOrEqual(20);
      worstGap = 0;
      last = performance.now();
      await new Promise((r) => setTimeout(r, 500)); // measure the loop over half a second of fitting

      const gapWhileFitting = worstGap;
      const cancelledAt = performance.now();
      expect(jobs.cancel(jobId)).toBe(true);
      const err = await outcome;
      const latency = performance.now() - cancelledAt;

      expect(err).toBeInstanceOf(CancelledError);
      expect(latency).toBeLessThan(1000);
      expect(gapWhileFitting).toBeLessThan(500);
      const final = (await jobs.settled(jobId))!;
      expect(final.state).toBe('cancelled');
      // it was still fitting when cancelled: no later phase was ever entered
      expect(seen.filter((p) => p.state === 'running').at(-1)!.phase).toBe('linear probe');
      expect(reports.list().length).toBe(before);
      expect(catalog.db.prepare('SELECT COUNT(*) AS n FROM reports').get()).toEqual({ n: before });
    } finally {
      clearInterval(ticker);
    }
  }, 120_000);
});
