import type { Method, MethodOptions } from './base.js';
import { BYOL } from './byol.js';
import { DINO } from './dino.js';
import { MoCoV2 } from './mocov2.js';
import { MoCoV3 } from './mocov3.js';
import { SimCLR } from './simclr.js';

export { Method, BufferModule, type MethodOptions, type MethodState, type StepMetrics, type ViewOutputs } from './base.js';
export { SimCLR } from './simclr.js';
export { MoCoV2, KeyQueue } from './mocov2.js';
export { MoCoV3 } from './mocov3.js';
export { BYOL } from './byol.js';
export { DINO } from './dino.js';

/** Adding a method: one file with its hooks, its loss in losses/, one line here. */
export const METHODS = {
  simclr: SimCLR,
  mocov2: MoCoV2,
  mocov3: MoCoV3,
  byol: BYOL,
  dino: DINO,
} as const satisfies Record<string, new (options: MethodOptions) => Method>;

export type MethodName = keyof typeof METHODS;
export const METHOD_NAMES = Object.keys(METHODS) as MethodName[];

export function isMethodName(name: string): name is MethodName {
  return Object.hasOwn(METHODS, name);
}

/** Builds a method and its modules and optimizer, ready for trainStep. */
export function createMethod(name: string, options: MethodOptions): Method {
  if (!isMethodName(name)) throw new Error(`unknown method "${name}"; expected one of ${METHOD_NAMES.join(', ')}`);
  return new METHODS[name](options).init();
}
