import { z } from 'zod';
import { request } from './define.js';
import { Empty } from './common.js';

export const JobKind = z.enum(['import', 'split', 'embed', 'dedup', 'curate', 'train', 'eval', 'export']);
export type JobKind = z.infer<typeof JobKind>;
export const JobState = z.enum(['running', 'done', 'failed', 'cancelled']);
export type JobState = z.infer<typeof JobState>;

export const JobProgress = z.object({
  jobId: z.string(),
  kind: JobKind,
  state: JobState,
  phase: z.string(),
  done: z.number().int().nonnegative(),
  total: z.number().int().nonnegative().nullable(),
  failed: z.number().int().nonnegative(),
  /** items per second, smoothed */
  rate: z.number().nonnegative(),
  /** seconds left; null while unknown */
  etaSeconds: z.number().nonnegative().nullable(),
  elapsedSeconds: z.number().nonnegative(),
  message: z.string().optional(),
  /** the job's result once state is `done` (shape depends on the kind) */
  result: z.unknown().optional(),
  error: z.string().optional(),
});
export type JobProgress = z.infer<typeof JobProgress>;

export const jobRequests = {
  'jobs.list': request('Jobs that are running or ended in this session', Empty, z.array(JobProgress)),
  'jobs.cancel': request(
    'Cancel a running job; what it finished so far is kept',
    z.object({ jobId: z.string().min(1).max(100) }).strict(),
    z.object({ cancelled: z.boolean() }),
  ),
} as const;
