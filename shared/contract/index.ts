import type { z } from 'zod';
import { curateRequests } from './curate.js';
import { curateVersionRequests } from './curate-versions.js';
import { curateReviewRequests } from './curate-review.js';
import { datasetRequests } from './datasets.js';
import { evaluateRequests } from './evaluate.js';
import { jobRequests } from './jobs.js';
import { pipelineRequests } from './pipelines.js';
import { runRequests } from './train.js';

export * from './augment.js';
export * from './common.js';
export * from './curate.js';
export * from './curate-versions.js';
export * from './curate-review.js';
export * from './datasets.js';
export * from './evaluate.js';
export * from './define.js';
export * from './events.js';
export * from './jobs.js';
export * from './pipelines.js';
export * from './train.js';

/** Every request main answers, by name. Each feature contributes one map. */
export const requests = {
  ...datasetRequests,
  ...curateRequests,
  ...curateVersionRequests,
  ...curateReviewRequests,
  ...jobRequests,
  ...runRequests,
  ...pipelineRequests,
  ...evaluateRequests,
} as const;

export type Requests = typeof requests;
export type RequestName = keyof Requests;
/** What a caller may send (defaults not yet applied). */
export type RequestInput<N extends RequestName> = z.input<Requests[N]['input']>;
/** What a handler receives once the schema has parsed it. */
export type ParsedInput<N extends RequestName> = z.output<Requests[N]['input']>;
export type RequestOutput<N extends RequestName> = z.output<Requests[N]['output']>;

export function isRequestName(name: unknown): name is RequestName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(requests, name);
}
