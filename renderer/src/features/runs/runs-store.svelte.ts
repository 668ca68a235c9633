import type { Dataset, EventPayload, Run, RunConfigInput, RunMetrics } from '../../../../shared/contract/index.js';
import { api, errorText } from '../../lib/api.js';
import { coalescedLoad } from '../../lib/coalesced-load.js';
import { defaultFields, type RunFormFields } from './run-form.js';

export type RunsView = { kind: 'new' } | { kind: 'run'; runId: number };

/** Every run (newest first), the datasets a new run may train on, and what the page is showing. */
export class RunsStore {
  runs = $state.raw<Run[]>([]);
  datasets = $state.raw<Dataset[]>([]);
  loaded = $state(false);
  error = $state<string | null>(null);
  view = $state<RunsView>({ kind: 'new' });
  starting = $state(false);
  startError = $state<string | null>(null);
  /** the new-run form's fields; kept here so a second run starts from the first one's settings */
  formFields = $state<RunFormFields>(defaultFields());
  private chosen = false;

  /** Reloads runs and datasets; overlapping calls collapse into one extra reload so the last answer wins. */
  readonly load = coalescedLoad({
    fetch: async () => {
      const [runs, datasets] = await Promise.all([api.call('runs.list', {}), api.call('datasets.list', {})]);
      this.runs = runs;
      this.datasets = datasets;
      this.error = null;
    },
    onError: (err) => {
      this.error = errorText(err);
    },
    after: () => {
      this.loaded = true;
      // The first visit opens the newest run; with none yet, the form.
      if (!this.chosen && this.runs.length > 0) this.show({ kind: 'run', runId: this.runs[0]!.id });
      if (this.view.kind === 'run' && !this.runs.some((r) => this.view.kind === 'run' && r.id === this.view.runId)) this.view = { kind: 'new' };
      this.chosen = true;
    },
  });

  show(view: RunsView): void {
    this.view = view;
    this.chosen = true;
  }

  /** Starts a run; on success shows its page, on failure keeps main's message for the form. */
  async start(config: RunConfigInput): Promise<boolean> {
    this.starting = true;
    this.startError = null;
    try {
      const { runId } = await api.call('runs.start', config);
      await this.load();
      this.show({ kind: 'run', runId });
      return true;
    } catch (err) {
      this.startError = errorText(err);
      return false;
    } finally {
      this.starting = false;
    }
  }

  /** A step moves the run's row (step, epoch, last loss) without a round trip. */
  applyMetrics(m: RunMetrics): void {
    if (m.kind !== 'step') return;
    const i = this.runs.findIndex((r) => r.id === m.runId);
    if (i === -1) return;
    const next = this.runs.slice();
    next[i] = { ...this.runs[i]!, step: m.step, epoch: m.epoch, loss: m.loss };
    this.runs = next;
  }

  /**
   * A status change reloads the list (it also brings the backend and checkpoint main recorded meanwhile).
   * Log lines travel on the same event with status 'running'; they change nothing here unless the row has
   * no backend yet, which the first log lines of a run are about.
   */
  applyStatus(e: EventPayload<'onDidRunStatus'>): void {
    const run = this.runs.find((r) => r.id === e.runId);
    if (e.line !== undefined) {
      if (!run || run.backend === null) void this.load();
      return;
    }
    if (run) {
      this.runs = this.runs.map((r) => (r.id === e.runId ? { ...r, status: e.status, error: e.error } : r));
    }
    void this.load();
  }
}
