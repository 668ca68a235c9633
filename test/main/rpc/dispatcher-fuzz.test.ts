// Fuzzes the one gate both transports call: every request name, unknown names, hostile and half-valid payloads.
// Every reply must be a well-formed ok or error Reply, no handler may crash, nothing may leak onto
// Object.prototype, and the catalog must come out intact.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceDispatcher } from '../../../main/rpc/handlers.js';
import type { Dispatch } from '../../../main/rpc/dispatcher.js';
import { integrityProblems, makeTempDir, seededServices, settleJobs, snapshotDataset, type SeededServices } from './fixtures.js';
import { PayloadFuzzer, REQUEST_NAMES } from './fuzz-payloads.js';
import type { RequestName } from '../../../shared/contract/index.js';
import { ReportStore } from '../../../main/evaluate/report-store.js';
import { replyProblem } from './reply-check.js';

const SEED = Number(process.env.CURIO_FUZZ_SEED ?? 20_240_601);
const CASES = 2_000;
/** CURIO_FUZZ_DEBUG=1 prints, per request, how often it answered ok and its most frequent errors. */
const DEBUG = process.env.CURIO_FUZZ_DEBUG === '1';
/**
 * Requests that cannot reliably answer ok here however valid the payload, and why. They are still fuzzed (valid
 * payloads included); they only leave the denominator of the "reached" bar. (app.pickFolders and app.pickModelFile
 * are not here: outside Electron they answer ok with supported: false.)
 */
const UNREACHABLE: Partial<Record<RequestName, string>> = {
  // The fuzz stops its one run at once; whether the worker wrote a checkpoint before it saw the stop is a race
  // (seed 7 sometimes wins it), so these two answer ok only by chance and would make the bar flaky.
  'runs.exportEncoder': 'needs a run checkpoint (else conflict "no checkpoint yet"), written only once training got going',
  'reports.attention': 'needs a run checkpoint too',
};

describe('dispatcher fuzz', () => {
  let seeded: SeededServices;
  let dispatch: Dispatch;
  const cwd = process.cwd();
  let sandbox = '';

  beforeAll(async () => {
    seeded = await seededServices('dispatch-fuzz', 6, 8);
    dispatch = createServiceDispatcher(seeded.services);
    // Relative paths in payloads resolve inside an empty folder, three levels down, so `.` and `../..` find nothing.
    sandbox = path.join(makeTempDir('fuzz-cwd'), 'a', 'b', 'c');
    fs.mkdirSync(sandbox, { recursive: true });
    process.chdir(sandbox);
  });

  afterAll(() => {
    process.chdir(cwd);
    seeded?.cleanup();
    fs.rmSync(path.resolve(sandbox, '../../..'), { recursive: true, force: true });
  });

  it(`answers ${CASES} random payloads over every request with well-formed replies (seed ${SEED})`, async () => {
    const { services, datasetId, dbPath } = seeded;
    const before = snapshotDataset(services, datasetId);
    const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    const imageIds = before.images.items.map((i) => i.id);
    const world = {
      readIds: [datasetId, seeded.fillerIds[0]!, ...imageIds],
      deletableIds: seeded.fillerIds,
      readDatasets: ['seed', 'filler-1'],
      folders: [seeded.imagesDir],
      dataset: { id: datasetId, name: 'seed', imageIds },
      outDir: makeTempDir('fuzz-out'),
      runIds: [] as number[],
      jobIds: [] as string[],
      reportIds: [storedReport(services, datasetId)],
    };
    const fuzz = new PayloadFuzzer(SEED, { exotic: true, maxString: 2_000_000 }, world);
    const errorsBy = new Map<string, Map<string, number>>();

    const problems: string[] = [];
    const okBy = new Map<string, number>();
    const errorCodes = new Map<string, number>();
    let deletedSeed = false;
    for (let i = 0; i < CASES; i++) {
      const { method, params } = fuzz.case(i);
      let reply: unknown;
      try {
        reply = await dispatch(method, params);
      } catch (err) {
        problems.push(`case ${i} (${String(method).slice(0, 40)}): dispatch threw ${(err as Error).message}`);
        continue;
      }
      const problem = replyProblem(method, reply);
      if (problem) problems.push(`case ${i} (${String(method).slice(0, 40)}): ${problem}`);
      const r = reply as { ok: boolean; result?: unknown; error?: { code: string } };
      if (r.ok) {
        okBy.set(String(method), (okBy.get(String(method)) ?? 0) + 1);
        const { jobId, runId } = (r.result ?? {}) as { jobId?: unknown; runId?: unknown };
        if (typeof jobId === 'string') {
          await dispatch('jobs.cancel', { jobId });
          if (world.jobIds.length < 20) world.jobIds.push(jobId);
        }
        // A run the fuzz started is stopped at once; later payloads name it in runs.get/pause/stop/resume.
        if (method === 'runs.start' && typeof runId === 'number') {
          services.runs.stop(runId);
          world.runIds.push(runId);
        }
        if (method === 'datasets.delete' && (r.result as { deleted: boolean }).deleted && (params as { datasetId?: unknown }).datasetId === datasetId) {
          deletedSeed = true;
        }
      } else if (r.error) {
        errorCodes.set(r.error.code, (errorCodes.get(r.error.code) ?? 0) + 1);
        if (DEBUG && typeof method === 'string') {
          const byMessage = errorsBy.get(method) ?? new Map<string, number>();
          const message = `${r.error.code}: ${(r.error as { message?: string }).message?.slice(0, 160)}`;
          byMessage.set(message, (byMessage.get(message) ?? 0) + 1);
          errorsBy.set(method, byMessage);
        }
      }
    }
    await services.runs.stopAll();
    await settleJobs(services);
    fs.rmSync(world.outDir, { recursive: true, force: true });
    if (DEBUG) {
      for (const name of REQUEST_NAMES) {
        const errors = [...(errorsBy.get(name) ?? new Map<string, number>())].sort((a, b) => b[1] - a[1]).slice(0, 4);
        console.info(`${name}: ok ${okBy.get(name) ?? 0}; ${errors.map(([m, c]) => `${c}× ${m}`).join(' | ')}`);
      }
    }

    expect(problems.slice(0, 30), `seed ${SEED}`).toEqual([]);
    // The fuzz reached the handlers, not just the schema gate: nearly every request that can answer ok here did,
    // because a share of the payloads are valid ones built from the seeded catalog (then mutated for the rest).
    // Seeds 20240601, 7 and 1 each reach all 41; 90% leaves room for a seed whose few valid draws miss one.
    const reachable = REQUEST_NAMES.filter((n) => !(n in UNREACHABLE));
    const missed = reachable.filter((n) => (okBy.get(n) ?? 0) === 0);
    expect(reachable.length - missed.length, `never answered ok: ${missed.join(', ')}`).toBeGreaterThanOrEqual(Math.ceil(reachable.length * 0.9));
    expect(errorCodes.get('invalid-input') ?? 0).toBeGreaterThan(CASES / 4);
    expect(errorCodes.get('unknown-request') ?? 0).toBeGreaterThan(0);

    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeys);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    expect(integrityProblems(dbPath)).toEqual([]);
    if (deletedSeed) {
      expect(services.catalog.listDatasets().some((d) => d.id === datasetId)).toBe(false);
    } else {
      expect(snapshotDataset(services, datasetId)).toEqual(before);
    }
    // Still serving after all that.
    const info = await dispatch('app.info', {});
    expect(info.ok).toBe(true);
    console.info(`dispatcher fuzz seed ${SEED}: ${CASES} cases, ok by method ${JSON.stringify(Object.fromEntries(okBy))}, errors ${JSON.stringify(Object.fromEntries(errorCodes))}, seed dataset deleted: ${deletedSeed}`);
  });

  // Found by the fuzz: these answered code 'failed', which the transports reserve for a handler that crashed.
  it('a run without a checkpoint answers conflict, with the reason, from every request that needs one', async () => {
    const { services } = seeded;
    const datasetId = services.catalog.createDataset('no-checkpoint', 'import');
    const runId = services.runs.store.create('no-checkpoint', datasetId, { dataset: 'no-checkpoint' } as never);
    const out = path.join(makeTempDir('fuzz-nockpt'), 'encoder');
    const replies = {
      'runs.exportEncoder': await dispatch('runs.exportEncoder', { runId, format: 'tfjs', out }),
      'reports.attention': await dispatch('reports.attention', { runId, datasetId, count: 1 }),
      'runs.resume': await dispatch('runs.resume', { runId }),
    };
    for (const [method, reply] of Object.entries(replies)) {
      expect(replyProblem(method, reply), method).toBeNull();
      expect(reply, method).toMatchObject({ ok: false, error: { code: 'conflict', message: expect.stringMatching(new RegExp(`run ${runId} has no checkpoint`)) } });
    }
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  });
});

/** One stored evaluation report on the seeded dataset, so reports.get/export have something to read. */
function storedReport(services: SeededServices['services'], datasetId: number): number {
  return new ReportStore(services.catalog).insert({
    encoder: { kind: 'random', runId: null, backbone: 'small', method: null, epochs: null, steps: null, imageSize: 32 },
    trainDatasetId: datasetId,
    testDatasetId: datasetId,
    trainDataset: 'seed',
    testDataset: 'seed',
    classes: ['cat', 'dog'],
    linear: null,
    knn: { k10: 0.5, k20: 0.5, k100: 0.5 },
    fractions: {},
    baselines: { random: { linear: null, knn: null }, pixels: { linear: { top1: 0.5 } } },
    warnings: [],
    leakCount: 0,
    seconds: 1,
  }).id;
}
