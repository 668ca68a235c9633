import path from 'node:path';
import { BackboneName } from '../../../shared/contract/train.js';
import { Protocol, type Report } from '../../../shared/contract/evaluate.js';
import { CancelledError } from '../../common/errors.js';
import { encoderLabel, extractionLines, headlineText } from '../../evaluate/html.js';
import { headline, planEvaluation, runEvaluation } from '../../evaluate/report.js';
import { exportReport } from '../../evaluate/report-export.js';
import { ReportStore } from '../../evaluate/report-store.js';
import { createServices } from '../../services.js';
import { parse, requireString, UsageError } from '../args.js';
import { attachProgress, cancelOnSigint, Output } from '../output.js';
import type { Command } from '../command.js';

/** Where `curio eval` writes each report's HTML: reports/ beside the catalog. */
export function reportsDirFor(catalogPath: string): string {
  return path.join(path.dirname(path.resolve(catalogPath)), 'reports');
}

export const evalCommand: Command = {
  name: 'eval',
  usage:
    'curio eval [--db FILE] --run ID|random [--backbone NAME] --train-dataset NAME --test-dataset NAME [--protocol linear,knn] [--fractions 0.01,0.1] [--json]',
  summary: 'Evaluate an encoder (a run or a random init) with the linear probe, kNN and label fractions, against baselines',
  async run(argv) {
    const { values } = parse(argv, {
      run: { type: 'string' },
      backbone: { type: 'string' },
      'train-dataset': { type: 'string' },
      'test-dataset': { type: 'string' },
      protocol: { type: 'string' },
      fractions: { type: 'string' },
    });
    const out = new Output(values.json);
    const input = inputFromFlags(values);
    const services = createServices({ dbPath: values.db, mode: 'browser' });
    const detach = attachProgress(services.bus);
    try {
      const reports = new ReportStore(services.catalog);
      const plan = planEvaluation(services.catalog, services.runs.store, input);
      out.info(`evaluating ${plan.encoder.kind === 'run' ? `run ${plan.encoder.runId} (${plan.encoder.backbone})` : `a random-init ${plan.encoder.backbone}`} at ${plan.encoder.imageSize} px: train ${plan.train.name} (${plan.train.images.length} images), test ${plan.test.name} (${plan.test.images.length} images)`);
      for (const w of plan.warnings) out.info(`warning: ${w}`);
      const { jobId, promise } = services.jobs.start('eval', (ctx) => runEvaluation(plan, { catalog: services.catalog, runs: services.runs.store, reports }, ctx));
      const stopSigint = cancelOnSigint(() => services.jobs.cancel(jobId));
      let report: Report;
      try {
        report = await promise;
      } catch (err) {
        if (err instanceof CancelledError) {
          out.info('evaluation cancelled; no report was stored');
          return 130;
        }
        throw err;
      } finally {
        stopSigint();
        detach();
      }
      const html = await exportReport(report, 'html', reportsDirFor(services.catalog.path));
      out.result(headline(report, html), () => humanReport(report, html));
      return 0;
    } finally {
      detach();
      services.close();
    }
  },
};

function inputFromFlags(values: Record<string, string | boolean | undefined>) {
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const runFlag = requireString(str('run'), 'run');
  let run: number | 'random';
  if (runFlag === 'random') run = 'random';
  else {
    run = Number(runFlag);
    if (!Number.isInteger(run) || run < 1) throw new UsageError(`--run must be a run id (a positive integer) or "random", got "${runFlag}"`);
  }
  const backboneFlag = str('backbone');
  if (backboneFlag !== undefined && run !== 'random') throw new UsageError('--backbone only applies to --run random; a run brings its own backbone');
  const backbone = BackboneName.safeParse(backboneFlag ?? 'small');
  if (!backbone.success) throw new UsageError(`--backbone must be one of ${BackboneName.options.join(', ')}`);
  const protocols = str('protocol')?.split(',').map((p) => p.trim()).filter(Boolean) ?? ['linear', 'knn'];
  if (protocols.length === 0) throw new UsageError('--protocol needs at least one of linear, knn');
  for (const p of protocols) if (!Protocol.safeParse(p).success) throw new UsageError(`--protocol: unknown protocol "${p}"; expected linear, knn`);
  const fractionsFlag = str('fractions');
  const fractions =
    fractionsFlag === undefined
      ? [0.01, 0.1]
      : fractionsFlag
          .split(',')
          .map((f) => f.trim())
          .filter(Boolean)
          .map((f) => {
            const x = Number(f);
            if (!(x > 0 && x < 1)) throw new UsageError(`--fractions: each fraction must be a number in (0, 1), got "${f}"`);
            return x;
          });
  if (fractions.length > 5) throw new UsageError('--fractions: at most 5 fractions');
  return {
    run,
    backbone: backbone.data,
    trainDataset: requireString(str('train-dataset'), 'train-dataset'),
    testDataset: requireString(str('test-dataset'), 'test-dataset'),
    protocols: [...new Set(protocols)] as ('linear' | 'knn')[],
    fractions: [...new Set(fractions)],
  };
}

function humanReport(r: Report, html: string): string {
  return [
    '',
    `Report ${r.id}: ${encoderLabel(r)}, train ${r.trainDataset} → test ${r.testDataset}, ${r.classes.length} classes, ${r.seconds.toFixed(1)} s`,
    ...r.warnings.map((w) => `  warning: ${w}`),
    headlineText(r),
    ...extractionLines(r).map((line) => `  features ${line}`),
    '',
    `HTML report: ${html}`,
  ].join('\n');
}
