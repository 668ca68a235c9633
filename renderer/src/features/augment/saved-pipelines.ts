import type { RunConfigInput, SavedPipeline } from '../../../../shared/contract/index.js';
import { api } from '../../lib/api.js';

/**
 * How another form (the new-run form) offers saved pipelines: <PipelineOptions /> adds them to its pipeline
 * <select> as values `saved:NAME`, and resolveRunPipeline swaps such a value for the saved spec before runs.start,
 * so the run stores its own snapshot and later edits of the saved pipeline don't change its history.
 */
export const SAVED_PREFIX = 'saved:';

export function savedValue(name: string): string {
  return `${SAVED_PREFIX}${name}`;
}

export async function listSavedPipelines(): Promise<SavedPipeline[]> {
  return api.call('pipelines.list', {});
}

export async function resolveRunPipeline(config: RunConfigInput): Promise<RunConfigInput> {
  const { pipeline } = config;
  if (typeof pipeline !== 'string' || !pipeline.startsWith(SAVED_PREFIX)) return config;
  try {
    const saved = await api.call('pipelines.get', { name: pipeline.slice(SAVED_PREFIX.length) });
    return { ...config, pipeline: saved.spec };
  } catch {
    // deleted since the form listed it: runs.start then refuses the name with a clear error
    return config;
  }
}
