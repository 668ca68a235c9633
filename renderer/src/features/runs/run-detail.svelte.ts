import type { EventPayload, Run, RunMetrics } from '../../../../shared/contract/index.js';
import { api, errorText } from '../../lib/api.js';
import { appendPoints } from './chart-geometry.js';

export type StepPoint = Extract<RunMetrics, { kind: 'step' }>;
export type EpochPoint = Extract<RunMetrics, { kind: 'epoch' }>;

/**
 * Points runs.get returns per curve; live points keep a curve between half and all of this by halving it when
 * it overflows, so a redraw costs the same on day three of a run as in its first minute.
 */
const HISTORY_POINTS = 2000;
const LIVE_CAP = HISTORY_POINTS;
const MAX_LOG_LINES = 1000;
const MAX_QUEUE = 500;

export type RunAction = 'pause' | 'resume' | 'stop' | 'export';

/**
 * One run as its page shows it: the record, its curves and its log, kept live from main's events. Metric events
 * can arrive many times a second on a fast backend; they are queued and folded in once per animation frame, so
 * the charts redraw at most at the display's rate.
 */
export class RunDetail {
  run = $state.raw<Run | null>(null);
  steps = $state.raw<StepPoint[]>([]);
  epochs = $state.raw<EpochPoint[]>([]);
  logs = $state.raw<string[]>([]);
  error = $state<string | null>(null);
  busy = $state<RunAction | null>(null);
  actionError = $state<string | null>(null);
  exported = $state.raw<string[] | null>(null);
  private queue: RunMetrics[] = [];
  private frame: number | null = null;
  private loading = false;
  private disposed = false;

  constructor(readonly runId: number) {}

  readonly lastStep = $derived(this.steps.length > 0 ? this.steps[this.steps.length - 1]! : null);
  readonly lastEpoch = $derived(this.epochs.length > 0 ? this.epochs[this.epochs.length - 1]! : null);

  /** Fetches the run with its history; live events that land meanwhile are kept and merged after it. */
  async load(): Promise<void> {
    this.loading = true;
    try {
      const r = await api.call('runs.get', { runId: this.runId, maxPoints: HISTORY_POINTS });
      if (this.disposed) return;
      this.run = r.run;
      this.steps = r.metrics.filter((m): m is StepPoint => m.kind === 'step');
      this.epochs = r.metrics.filter((m): m is EpochPoint => m.kind === 'epoch');
      this.logs = r.logs;
      this.error = null;
    } catch (err) {
      this.error = errorText(err);
    } finally {
      this.loading = false;
    }
    const lastStep = this.lastStep?.step ?? 0;
    const lastEpochStep = this.lastEpoch?.step ?? -1;
    this.queue = this.queue.filter((m) => (m.kind === 'step' ? m.step > lastStep : m.step > lastEpochStep));
    this.schedule();
  }

  /** The run record alone (backend, checkpoint, error), after main changed it. */
  async refreshRun(): Promise<void> {
    try {
      const r = await api.call('runs.get', { runId: this.runId, maxPoints: 10 });
      if (!this.disposed) this.run = r.run;
    } catch (err) {
      this.error = errorText(err);
    }
  }

  applyMetrics(m: RunMetrics): void {
    if (m.runId !== this.runId) return;
    this.queue.push(m);
    if (this.loading) return;
    // A hidden window gets no animation frames; fold in now rather than let the queue grow.
    if (this.queue.length >= MAX_QUEUE) this.flush();
    else this.schedule();
  }

  applyStatus(e: EventPayload<'onDidRunStatus'>): void {
    if (e.runId !== this.runId) return;
    if (e.line !== undefined) {
      const logs = [...this.logs, e.line];
      this.logs = logs.length > MAX_LOG_LINES ? logs.slice(logs.length - MAX_LOG_LINES) : logs;
      if (this.run && this.run.backend === null) void this.refreshRun();
      return;
    }
    if (this.run) this.run = { ...this.run, status: e.status, error: e.error };
    void this.refreshRun();
  }

  pause = () => this.act('pause', () => api.call('runs.pause', { runId: this.runId }));
  resume = () => this.act('resume', () => api.call('runs.resume', { runId: this.runId }));
  stop = () => this.act('stop', () => api.call('runs.stop', { runId: this.runId }));

  async exportEncoder(out: string): Promise<void> {
    this.exported = null;
    await this.act('export', async () => {
      const r = await api.call('runs.exportEncoder', { runId: this.runId, format: 'tfjs', out });
      this.exported = r.files;
    });
  }

  dispose(): void {
    this.disposed = true;
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.frame = null;
  }

  private async act(action: RunAction, call: () => Promise<unknown>): Promise<void> {
    this.busy = action;
    this.actionError = null;
    try {
      await call();
    } catch (err) {
      this.actionError = errorText(err);
    } finally {
      this.busy = null;
    }
  }

  private schedule(): void {
    if (this.frame !== null || this.queue.length === 0 || this.disposed) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.flush();
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    const steps = batch.filter((m): m is StepPoint => m.kind === 'step');
    const epochs = batch.filter((m): m is EpochPoint => m.kind === 'epoch');
    if (steps.length > 0) this.steps = appendPoints(this.steps, steps, LIVE_CAP);
    if (epochs.length > 0) this.epochs = appendPoints(this.epochs, epochs, LIVE_CAP);
    const last = steps[steps.length - 1];
    if (last && this.run) this.run = { ...this.run, step: last.step, epoch: last.epoch, loss: last.loss };
  }
}
