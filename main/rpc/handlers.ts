import type { Services } from '../services.js';
import { datasetHandlers } from './dataset-handlers.js';
import { createDispatcher, type Dispatch } from './dispatcher.js';
import type { Handlers } from './types.js';

/** Every feature's handlers in one map; a feature adds its group here. */
export function createHandlers(s: Services): Handlers {
  return {
    ...datasetHandlers(s),
  };
}

export function createServiceDispatcher(s: Services): Dispatch {
  return createDispatcher(createHandlers(s), (err, method) =>
    s.bus.log('error', 'rpc', `${method}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`),
  );
}
