import { describe, expect, it } from 'vitest';
import type { JobProgress } from '../../../shared/contract/index.js';
import { startingProgress, withProgress } from '../../../renderer/src/lib/job-list.js';

const at = (jobId: string, state: JobProgress['state'], done: number): JobProgress => ({ ...startingProgress(jobId, 'import'), state, done, phase: 'reading' });

describe('withProgress', () => {
  it('puts a new job first and replaces a known one in place', () => {
    const none = new Set<string>();
    let jobs = withProgress([], at('a', 'running', 1), none);
    jobs = withProgress(jobs, at('b', 'running', 1), none);
    expect(jobs.map((j) => j.jobId)).toEqual(['b', 'a']);
    const before = jobs;
    jobs = withProgress(jobs, at('a', 'running', 5), none);
    expect(jobs.map((j) => [j.jobId, j.done])).toEqual([['b', 1], ['a', 5]]);
    expect(before[1]!.done).toBe(1);
  });
  it('never steps an ended job back to running, and leaves the list itself untouched then', () => {
    const jobs = [at('a', 'done', 9)];
    expect(withProgress(jobs, at('a', 'running', 3), new Set())).toBe(jobs);
    expect(withProgress(jobs, at('a', 'failed', 9), new Set())[0]!.state).toBe('failed');
  });
  it('keeps a dismissed job out', () => {
    const jobs = [at('b', 'running', 1)];
    expect(withProgress(jobs, at('a', 'running', 1), new Set(['a']))).toBe(jobs);
  });
});

describe('startingProgress', () => {
  it('is a running job of the kind asked, with nothing done and nothing known yet', () => {
    expect(startingProgress('j1', 'eval')).toEqual({ jobId: 'j1', kind: 'eval', state: 'running', phase: 'starting', done: 0, total: null, failed: 0, rate: 0, etaSeconds: null, elapsedSeconds: 0 });
  });
});
