/**
 * The evaluation requests, typed from their contract map. Until the evaluate handlers are merged into the
 * contract's `requests`, the generic api.call does not know their names; this wrapper keeps the page typed.
 */
import type { z } from 'zod';
import type { evaluateRequests } from '../../../../shared/contract/evaluate.js';
import { api } from '../../lib/api.js';

type EvaluateRequests = typeof evaluateRequests;
type Name = keyof EvaluateRequests;

export function callReports<N extends Name>(name: N, input: z.input<EvaluateRequests[N]['input']>): Promise<z.output<EvaluateRequests[N]['output']>> {
  const call = api.call.bind(api) as unknown as (name: string, input: unknown) => Promise<z.output<EvaluateRequests[N]['output']>>;
  return call(name, input);
}
