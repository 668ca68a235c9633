import type { Services } from '../services.js';
import { augmentHandlers } from './augment-handlers.js';
import { curateHandlers } from './curate-handlers.js';
import { curateVersionHandlers } from './curate-version-handlers.js';
import { curateReviewHandlers } from './curate-review-handlers.js';
import { datasetHandlers } from './dataset-handlers.js';
import { createDispatcher, type Dispatch } from './dispatcher.js';
import { evaluateHandlers } from './evaluate-handlers.js';
import { trainHandlers } from './train-handlers.js';
import type { Handlers } from './types.js';

/** Every feature's handlers in one map; a feature adds its group here. */
export function createHandlers(s: Services, overrides: Partial<Handlers> = {}): Handlers {
  return {
    ...datasetHandlers(s),
    ...curateHandlers(s),
    ...curateVersionHandlers(s),
    ...curateReviewHandlers(s),
    ...trainHandlers(s),
    ...augmentHandlers(s),
    ...evaluateHandlers(s),
    ...overrides,
  };
}

/** The dispatcher a transport serves; a shell may override handlers that need it (e.g. native dialogs). */
export function createServiceDispatcher(s: Services, overrides: Partial<Handlers> = {}): Dispatch {
  return createDispatcher(createHandlers(s, overrides), (err, method) =>
    s.bus.log('error', 'rpc', `${method}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`),
  );
}
