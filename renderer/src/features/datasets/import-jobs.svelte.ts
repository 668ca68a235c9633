import type { ImportInput, ImportSummary, JobProgress } from '../../../../shared/contract/index.js';
import { api, errorText } from '../../lib/api.js';
import { startingProgress, withProgress } from '../../lib/job-list.js';

/** Import jobs of this session, live from onDidProgress, newest first. */
export class ImportJobs {
  jobs = $state.raw<JobProgress[]>([]);
  readonly running = $derived(this.jobs.filter((j) => j.state === 'running'));
  error = $state<string | null>(null);
  starting = $state(false);
  private readonly dismissed = new Set<string>();

  constructor() {
    api.on('onDidProgress', (p) => {
      if (p.kind === 'import') this.upsert(p);
    });
  }

  /** Picks up imports that were already running, e.g. after a reload of the page. */
  async sync(): Promise<void> {
    try {
      for (const j of await api.call('jobs.list', {})) if (j.kind === 'import' && j.state === 'running') this.upsert(j);
    } catch (err) {
      this.error = errorText(err);
    }
  }

  async start(input: ImportInput): Promise<string | null> {
    this.starting = true;
    this.error = null;
    try {
      const { jobId } = await api.call('datasets.import', input);
      if (!this.jobs.some((j) => j.jobId === jobId)) {
        this.upsert(startingProgress(jobId, 'import'));
      }
      return jobId;
    } catch (err) {
      this.error = errorText(err);
      return null;
    } finally {
      this.starting = false;
    }
  }

  async cancel(jobId: string): Promise<void> {
    try {
      await api.call('jobs.cancel', { jobId });
    } catch (err) {
      this.error = errorText(err);
    }
  }

  dismiss(jobId: string): void {
    this.dismissed.add(jobId);
    this.jobs = this.jobs.filter((j) => j.jobId !== jobId);
  }

  private upsert(p: JobProgress): void {
    this.jobs = withProgress(this.jobs, p, this.dismissed);
  }
}

export function importSummary(p: JobProgress): ImportSummary | null {
  const r = p.result as Partial<ImportSummary> | undefined;
  return r && typeof r.imported === 'number' ? (r as ImportSummary) : null;
}
