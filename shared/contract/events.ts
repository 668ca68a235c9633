import { z } from 'zod';
import { JobProgress } from './jobs.js';
import { RunMetrics, RunStatus } from './train.js';

export const LogEntry = z.object({
  level: z.enum(['debug', 'info', 'warn', 'error']),
  message: z.string(),
  source: z.string(),
  time: z.string(),
});
export type LogEntry = z.infer<typeof LogEntry>;

/** Everything main pushes to a client, by name. */
export const events = {
  onDidProgress: JobProgress,
  onDidLog: LogEntry,
  onDidChangeDatasets: z.object({ datasetId: z.number().int().positive().nullable() }),
  /** a training step or epoch of a run */
  onDidRunMetrics: RunMetrics,
  onDidRunStatus: z.object({ runId: z.number().int().positive(), status: RunStatus, error: z.string().nullable(), line: z.string().optional() }),
} as const;
export type EventName = keyof typeof events;
export type EventPayload<N extends EventName> = z.infer<(typeof events)[N]>;
