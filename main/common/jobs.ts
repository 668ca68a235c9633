import { randomUUID } from 'node:crypto';
import type { JobKind, JobProgress } from '../../shared/contract/jobs.js';
import type { EventBus } from './event-bus.js';
import { CancelledError, errorMessage } from './errors.js';

export interface JobContext {
  readonly jobId: string;
  readonly signal: AbortSignal;
  /** Throws CancelledError once cancel was asked for; call it between units of work. */
  throwIfCancelled(): void;
  setPhase(phase: string, total?: number | null): void;
  setTotal(total: number | null): void;
  /** Report progress: `done` and `failed` are absolute counts of the current phase. */
  progress(done: number, failed?: number, message?: string): void;
}

/**
 * Rate and ETA for a count that grows over time. The rate is an exponential moving average over windows of at
 * least half a second, so a burst or a stall does not swing the ETA wildly.
 */
export class RateMeter {
  private lastTime: number;
  private lastDone = 0;
  private smoothed = 0;
  readonly startTime: number;

  constructor(now = performance.now()) {
    this.startTime = now;
    this.lastTime = now;
  }

  update(done: number, now = performance.now()): number {
    const dt = (now - this.lastTime) / 1000;
    if (dt >= 0.5) {
      const instant = Math.max(0, done - this.lastDone) / dt;
      this.smoothed = this.smoothed === 0 ? instant : 0.7 * this.smoothed + 0.3 * instant;
      this.lastTime = now;
      this.lastDone = done;
    } else if (this.smoothed === 0 && done > 0) {
      const elapsed = (now - this.startTime) / 1000;
      if (elapsed > 0.05) this.smoothed = done / elapsed;
    }
    return this.smoothed;
  }

  eta(done: number, total: number | null): number | null {
    if (total === null || this.smoothed <= 0) return null;
    return Math.max(0, total - done) / this.smoothed;
  }

  elapsed(now = performance.now()): number {
    return (now - this.startTime) / 1000;
  }
}

interface JobRecord {
  controller: AbortController;
  progress: JobProgress;
  promise: Promise<unknown>;
}

/**
 * Runs long work (import, embed, train…) with progress events, an ETA and cancel. A job's function receives a
 * context; the manager turns its result or error into the final progress event.
 */
export class JobManager {
  private readonly jobs = new Map<string, JobRecord>();

  constructor(
    private readonly bus: EventBus,
    private readonly minEmitIntervalMs = 200,
  ) {}

  start<T>(kind: JobKind, run: (ctx: JobContext) => Promise<T>): { jobId: string; promise: Promise<T> } {
    const jobId = `${kind}-${randomUUID().slice(0, 8)}`;
    const controller = new AbortController();
    const jobStart = performance.now();
    let meter = new RateMeter(jobStart);
    let lastEmit = 0;
    const progress: JobProgress = {
      jobId,
      kind,
      state: 'running',
      phase: 'starting',
      done: 0,
      total: null,
      failed: 0,
      rate: 0,
      etaSeconds: null,
      elapsedSeconds: 0,
    };
    const emit = (force = false) => {
      const now = performance.now();
      if (!force && now - lastEmit < this.minEmitIntervalMs) return;
      lastEmit = now;
      progress.elapsedSeconds = (now - jobStart) / 1000;
      this.bus.emit('onDidProgress', { ...progress });
    };
    const ctx: JobContext = {
      jobId,
      signal: controller.signal,
      throwIfCancelled() {
        if (controller.signal.aborted) throw new CancelledError();
      },
      setPhase(phase, total = null) {
        progress.phase = phase;
        progress.total = total;
        progress.done = 0;
        progress.failed = 0;
        meter = new RateMeter();
        emit(true);
      },
      setTotal(total) {
        progress.total = total;
        emit(true);
      },
      progress(done, failed = progress.failed, message) {
        progress.done = done;
        progress.failed = failed;
        progress.rate = meter.update(done);
        progress.etaSeconds = meter.eta(done, progress.total);
        if (message !== undefined) progress.message = message;
        emit();
      },
    };
    const promise = (async () => {
      emit(true);
      try {
        const result = await run(ctx);
        progress.state = controller.signal.aborted ? 'cancelled' : 'done';
        progress.result = result;
        progress.etaSeconds = 0;
        return result;
      } catch (err) {
        progress.state = err instanceof CancelledError || controller.signal.aborted ? 'cancelled' : 'failed';
        progress.error = errorMessage(err);
        throw err;
      } finally {
        emit(true);
      }
    })();
    // A job's failure is reported through its progress event; keep an unobserved rejection from killing the process.
    promise.catch(() => undefined);
    this.jobs.set(jobId, { controller, progress, promise });
    return { jobId, promise };
  }

  cancel(jobId: string): boolean {
    const job = this.jobs.get(jobId);
    if (!job || job.progress.state !== 'running') return false;
    job.controller.abort();
    return true;
  }

  list(): JobProgress[] {
    return [...this.jobs.values()].map((j) => ({ ...j.progress }));
  }

  get(jobId: string): JobProgress | undefined {
    const job = this.jobs.get(jobId);
    return job ? { ...job.progress } : undefined;
  }

  /** Resolves when the job ends, whatever its outcome. */
  async settled(jobId: string): Promise<JobProgress | undefined> {
    const job = this.jobs.get(jobId);
    if (!job) return undefined;
    await job.promise.catch(() => undefined);
    return { ...job.progress };
  }

  cancelAll(): void {
    for (const id of this.jobs.keys()) this.cancel(id);
  }
}
