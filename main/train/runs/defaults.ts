import type { MethodOptions } from '../methods/base.js';
import type { SessionInput } from './protocol.js';

/**
 * The run-level knobs a method gets on top of its paper defaults: the user's LR (as given; each method's default
 * is already its paper's value), a warm-up of 10% of the run (at most 10 epochs' worth in the papers), and the
 * sizes a user may set per run. Everything else stays at the method's own defaults.
 */
export function methodDefaults(config: SessionInput['config'], totalSteps: number): Partial<MethodOptions> {
  const options: Partial<MethodOptions> = { warmupSteps: Math.max(0, Math.floor(totalSteps * 0.1)) };
  if (config.lr !== undefined) options.lr = config.lr;
  if (config.queueSize !== undefined) options.queueSize = config.queueSize;
  return options;
}
