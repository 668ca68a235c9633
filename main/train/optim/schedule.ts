export interface WarmupCosineOptions {
  baseLr: number;
  warmupSteps: number;
  totalSteps: number;
  /** LR reached at the end of the cosine, 0 by default. */
  finalLr?: number;
}

/**
 * Linear warm-up to baseLr over warmupSteps (step 0 already gets baseLr/warmupSteps, so no step is wasted at
 * 0), then half-cosine decay to finalLr at totalSteps, flat after. Used by SimCLR, BYOL, MoCo v3 and DINO.
 */
export function warmupCosineLr(step: number, options: WarmupCosineOptions): number {
  const { baseLr, warmupSteps, totalSteps } = options;
  const finalLr = options.finalLr ?? 0;
  if (step < warmupSteps) return (baseLr * (step + 1)) / warmupSteps;
  const span = Math.max(1, totalSteps - warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - warmupSteps) / span));
  return finalLr + ((baseLr - finalLr) * (1 + Math.cos(Math.PI * progress))) / 2;
}

/** Linear ramp from `from` to `to` over `steps`, then `to` (DINO's teacher temperature warm-up). */
export function linearWarmup(step: number, from: number, to: number, steps: number): number {
  if (steps <= 0 || step >= steps) return to;
  return from + ((to - from) * Math.max(0, step)) / steps;
}
