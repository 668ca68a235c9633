import type { Services } from '../services.js';
import { attentionMaps } from '../evaluate/attention.js';
import { planEvaluation, runEvaluation } from '../evaluate/report.js';
import { exportReport } from '../evaluate/report-export.js';
import { ReportStore } from '../evaluate/report-store.js';
import type { HandlerGroup } from './types.js';

type EvaluateRequest = 'reports.list' | 'reports.get' | 'reports.start' | 'reports.export' | 'reports.attention';

export function evaluateHandlers(s: Services): HandlerGroup<EvaluateRequest> {
  let store: ReportStore | null = null;
  const reports = () => (store ??= new ReportStore(s.catalog));
  return {
    'reports.list': () => reports().list(),
    'reports.get': ({ reportId }) => reports().get(reportId),
    'reports.start': (input) => {
      // Bad input (unknown dataset, no labels, a run without a checkpoint) fails here, before a job starts.
      const plan = planEvaluation(s.catalog, s.runs.store, input);
      const { jobId, promise } = s.jobs.start('eval', (ctx) => runEvaluation(plan, { catalog: s.catalog, runs: s.runs.store, reports: reports() }, ctx));
      promise.then(
        (report) => s.bus.log('info', 'eval', `report ${report.id}: ${plan.train.name} → ${plan.test.name} done in ${report.seconds.toFixed(1)} s`),
        () => undefined,
      );
      return { jobId };
    },
    'reports.export': async ({ reportId, format, out }) => ({ file: await exportReport(reports().get(reportId), format, out) }),
    'reports.attention': ({ runId, datasetId, count }) => {
      s.catalog.datasetRow(datasetId);
      return attentionMaps(s.catalog, s.runs.store, runId, datasetId, count);
    },
  };
}
