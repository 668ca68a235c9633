import { presetFor } from '../../shared/contract/augment.js';
import { PipelineStore } from '../augment/pipeline-store.js';
import { PreviewService } from '../augment/preview.js';
import type { Services } from '../services.js';
import type { HandlerGroup } from './types.js';

type AugmentRequest =
  | 'pipelines.list'
  | 'pipelines.get'
  | 'pipelines.create'
  | 'pipelines.update'
  | 'pipelines.delete'
  | 'pipelines.import'
  | 'pipelines.export'
  | 'augment.preset'
  | 'augment.preview';

/**
 * Saved pipelines and the designer's preview; one PreviewService per transport keeps its decoded samples warm and
 * augments on its own worker thread, so a preview does not hold up other requests.
 */
export function augmentHandlers(s: Services): HandlerGroup<AugmentRequest> {
  let store: PipelineStore | null = null;
  let preview: PreviewService | null = null;
  const pipelines = () => (store ??= new PipelineStore(s.catalog));
  const previews = () => (preview ??= new PreviewService(s.catalog, { pipelines: pipelines(), thread: 'worker' }));
  return {
    'pipelines.list': () => pipelines().list(),
    'pipelines.get': ({ name }) => pipelines().get(name),
    'pipelines.create': ({ name, spec, method }) => pipelines().create(name, spec, method),
    'pipelines.update': ({ name, spec, method, rename }) =>
      pipelines().update(name, spec, { ...(method !== undefined ? { method } : {}), ...(rename !== undefined ? { rename } : {}) }),
    'pipelines.delete': ({ name }) => ({ deleted: pipelines().delete(name) }),
    'pipelines.import': ({ name, json, overwrite }) => pipelines().import(json, { ...(name !== undefined ? { name } : {}), overwrite }),
    'pipelines.export': ({ name }) => ({ json: pipelines().export(name) }),
    'augment.preset': ({ method, datasetId, size }) => {
      const imageSize = size ?? (datasetId !== undefined ? previews().datasetImageSize(datasetId) : 32);
      return { spec: presetFor(method, imageSize) as unknown as Record<string, unknown>, imageSize };
    },
    'augment.preview': (input) => previews().preview(input),
  };
}
