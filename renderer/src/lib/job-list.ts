import type { JobKind, JobProgress } from '../../../shared/contract/index.js';

/**
 * The jobs a page follows (imports, evaluations), newest first, with one job's progress applied. A dismissed job
 * stays gone, and a job never steps back from an ended state to running: events of one job pass each other only
 * across a reconnect. Returns `jobs` itself when nothing changes, so a $state.raw holder does not update.
 */
export function withProgress(jobs: readonly JobProgress[], p: JobProgress, dismissed: ReadonlySet<string>): JobProgress[] {
  if (dismissed.has(p.jobId)) return jobs as JobProgress[];
  const i = jobs.findIndex((j) => j.jobId === p.jobId);
  if (i >= 0 && jobs[i]!.state !== 'running' && p.state === 'running') return jobs as JobProgress[];
  return i >= 0 ? jobs.with(i, p) : [p, ...jobs];
}

/** What a job shows from the moment its start returned until its first progress event. */
export function startingProgress(jobId: string, kind: JobKind): JobProgress {
  return { jobId, kind, state: 'running', phase: 'starting', done: 0, total: null, failed: 0, rate: 0, etaSeconds: null, elapsedSeconds: 0 };
}
