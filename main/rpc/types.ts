import type { ParsedInput, RequestName, RequestOutput } from '../../shared/contract/index.js';

export type Handler<N extends RequestName> = (input: ParsedInput<N>) => RequestOutput<N> | Promise<RequestOutput<N>>;
/** A handler for every request of the contract; the compiler flags one that is missing. */
export type Handlers = { [N in RequestName]: Handler<N> };
/** The handlers one feature contributes. */
export type HandlerGroup<K extends RequestName> = { [N in K]: Handler<N> };
