import { z } from 'zod';
import { JobProgress } from './jobs.js';

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
} as const;
export type EventName = keyof typeof events;
export type EventPayload<N extends EventName> = z.infer<(typeof events)[N]>;
