import type { Services } from '../services.js';
import { exportEncoder } from '../train/runs/export.js';
import type { HandlerGroup } from './types.js';

type TrainRequest = 'runs.list' | 'runs.get' | 'runs.start' | 'runs.pause' | 'runs.resume' | 'runs.stop' | 'runs.exportEncoder';

export function trainHandlers(s: Services): HandlerGroup<TrainRequest> {
  return {
    'runs.list': () => s.runs.store.list(),
    'runs.get': ({ runId, maxPoints }) => ({
      run: s.runs.store.get(runId),
      metrics: s.runs.store.metrics(runId, maxPoints),
      logs: s.runs.store.logs(runId),
    }),
    'runs.start': (config) => ({ runId: s.runs.start(config).runId }),
    'runs.pause': ({ runId }) => ({ ok: s.runs.pause(runId) }),
    'runs.resume': ({ runId }) => {
      s.runs.resume(runId);
      return { ok: true };
    },
    'runs.stop': ({ runId }) => ({ ok: s.runs.stop(runId) }),
    'runs.exportEncoder': async ({ runId, format, out }) => ({ files: await exportEncoder(s.runs, runId, format, out) }),
  };
}
