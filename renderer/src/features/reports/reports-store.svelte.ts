import type { EvalInput, ReportSummary } from '../../../../shared/contract/evaluate.js';
import type { Dataset, JobProgress, Run } from '../../../../shared/contract/index.js';
import { api, errorText } from '../../lib/api.js';
import { coalescedLoad } from '../../lib/coalesced-load.js';
import { startingProgress, withProgress } from '../../lib/job-list.js';

export type ReportsView = { kind: 'new' } | { kind: 'report'; reportId: number } | { kind: 'compare'; reportIds: number[] };

/**
 * Every report (newest first), the runs and datasets the evaluation form offers, which reports are ticked for a
 * comparison, the evaluation jobs of this session, and what the page is showing.
 */
export class ReportsStore {
  reports = $state.raw<ReportSummary[]>([]);
  datasets = $state.raw<Dataset[]>([]);
  runs = $state.raw<Run[]>([]);
  loaded = $state(false);
  error = $state<string | null>(null);
  view = $state<ReportsView>({ kind: 'new' });
  /** reports ticked for comparison, in the order they were ticked */
  ticked = $state.raw<number[]>([]);
  jobs = $state.raw<JobProgress[]>([]);
  /** jobs whose cancel was asked for and that have not ended yet */
  cancelling = $state.raw<string[]>([]);
  starting = $state(false);
  startError = $state<string | null>(null);
  private chosen = false;
  private readonly dismissed = new Set<string>();

  readonly runningJobs = $derived(this.jobs.filter((j) => j.state === 'running'));

  /** Reloads reports, runs and datasets; overlapping calls collapse into one extra reload so the last answer wins. */
  readonly load = coalescedLoad({
    fetch: async () => {
      const [reports, datasets, runs] = await Promise.all([
        api.call('reports.list', {}),
        api.call('datasets.list', {}),
        api.call('runs.list', {}),
      ]);
      this.reports = reports;
      this.datasets = datasets;
      this.runs = runs;
      this.error = null;
    },
    onError: (err) => {
      this.error = errorText(err);
    },
    after: () => {
      this.loaded = true;
      const ids = new Set(this.reports.map((r) => r.id));
      this.ticked = this.ticked.filter((id) => ids.has(id));
      // The first visit opens the newest report; with none yet, the form.
      if (!this.chosen && this.reports.length > 0) this.show({ kind: 'report', reportId: this.reports[0]!.id });
      const v = this.view;
      if (v.kind === 'report' && !ids.has(v.reportId)) this.view = { kind: 'new' };
      if (v.kind === 'compare' && v.reportIds.some((id) => !ids.has(id))) this.view = { kind: 'new' };
      this.chosen = true;
    },
  });

  show(view: ReportsView): void {
    this.view = view;
    this.chosen = true;
  }

  toggle(reportId: number): void {
    this.ticked = this.ticked.includes(reportId) ? this.ticked.filter((id) => id !== reportId) : [...this.ticked, reportId];
  }

  compareTicked(): void {
    if (this.ticked.length >= 2) this.show({ kind: 'compare', reportIds: [...this.ticked] });
  }

  /** Picks up evaluations that were already running, e.g. after a reload of the page. */
  async syncJobs(): Promise<void> {
    try {
      for (const j of await api.call('jobs.list', {})) if (j.kind === 'eval' && j.state === 'running') this.upsertJob(j);
    } catch (err) {
      this.error = errorText(err);
    }
  }

  async start(input: EvalInput): Promise<boolean> {
    this.starting = true;
    this.startError = null;
    try {
      const { jobId } = await api.call('reports.start', input);
      if (!this.jobs.some((j) => j.jobId === jobId)) {
        this.upsertJob(startingProgress(jobId, 'eval'));
      }
      return true;
    } catch (err) {
      this.startError = errorText(err);
      return false;
    } finally {
      this.starting = false;
    }
  }

  async cancel(jobId: string): Promise<void> {
    this.cancelling = [...this.cancelling, jobId];
    try {
      await api.call('jobs.cancel', { jobId });
    } catch (err) {
      this.startError = errorText(err);
      this.cancelling = this.cancelling.filter((id) => id !== jobId);
    }
  }

  dismiss(jobId: string): void {
    this.dismissed.add(jobId);
    this.jobs = this.jobs.filter((j) => j.jobId !== jobId);
  }

  /** An evaluation's progress; when one finishes, the list reloads to show its report. */
  applyProgress(p: JobProgress): void {
    if (p.kind !== 'eval') return;
    const before = this.jobs.find((j) => j.jobId === p.jobId);
    this.upsertJob(p);
    if (p.state !== 'running') this.cancelling = this.cancelling.filter((id) => id !== p.jobId);
    if (p.state === 'done' && before?.state !== 'done') void this.load();
  }

  private upsertJob(p: JobProgress): void {
    this.jobs = withProgress(this.jobs, p, this.dismissed);
  }
}

/** The report a finished evaluation job wrote: its result is the stored report (or names it as reportId). */
export function jobReportId(p: JobProgress): number | null {
  if (p.state !== 'done') return null;
  const r = p.result as { id?: unknown; reportId?: unknown } | undefined;
  if (!r) return null;
  if (typeof r.reportId === 'number') return r.reportId;
  return typeof r.id === 'number' ? r.id : null;
}
