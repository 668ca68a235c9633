import type { MethodOptions } from '../methods/base.js';
import type { MethodName } from '../methods/index.js';
import type { SessionInput } from './protocol.js';

/**
 * Each paper's base learning rate, quoted for a batch of 256 images (the linear scaling rule of Goyal et al. 2017,
 * lr = base · B/256, which all five papers state their LR in):
 * - SimCLR (Chen et al. 2020, §B.1): LARS, "learning rate = 0.3 × BatchSize/256";
 * - MoCo v2 (Chen et al. 2020): SGD lr 0.03 for a batch of 256, as in MoCo v1;
 * - MoCo v3 (Chen, Xie, He 2021, §4): AdamW, "lr = 1.5e-4 × BatchSize/256";
 * - BYOL (Grill et al. 2020, §3.2): LARS, "learning rate … 0.2 × BatchSize/256";
 * - DINO (Caron et al. 2021, §B.1): AdamW, "lr = 0.0005 × batchsize/256".
 * These equal the methods' own defaults (a test checks it); the methods take the LR as given, so the run scales it.
 */
export const PAPER_BASE_LR: Record<MethodName, number> = {
  simclr: 0.3,
  mocov2: 0.03,
  mocov3: 1.5e-4,
  byol: 0.2,
  dino: 5e-4,
};

/**
 * SimCLR's rule for small batches (Chen et al. 2020, §B.1 and Fig. B.1): "LearningRate = 0.075 × sqrt(BatchSize)",
 * which the paper found better than the linear rule for small batches and few epochs. The two rules meet at a batch
 * of 4096 (both give 4.8); below it the linear rule starves the LARS updates (at batch 32 it gives 0.0375, and a
 * one-minute demo run stayed within a hair of its random init), so SimCLR's default follows the square-root rule up
 * to 4096 and the linear one above.
 */
export const SIMCLR_SQRT_LR = 0.075;
const SIMCLR_SQRT_UP_TO = 4096;

/**
 * The LR a method gets. A user's --lr is a base LR per 256 images, scaled by batch/256 for every method. Without
 * one, each method takes its paper's rule: base · batch/256 (PAPER_BASE_LR), except SimCLR below a batch of 4096,
 * which takes its paper's square-root rule.
 */
export function scaledLr(method: MethodName, batchSize: number, baseLr?: number): number {
  if (baseLr === undefined && method === 'simclr' && batchSize < SIMCLR_SQRT_UP_TO) return SIMCLR_SQRT_LR * Math.sqrt(batchSize);
  return ((baseLr ?? PAPER_BASE_LR[method]) * batchSize) / 256;
}

/**
 * The run-level knobs a method gets on top of its paper defaults: the LR scaled to the batch the run actually
 * trains with (a user's --lr is a base LR per 256 images, like the papers'), a warm-up of 10% of the run (at most
 * 10 epochs' worth in the papers), and the sizes a user may set per run. Everything else stays at the method's
 * own defaults.
 */
export function methodDefaults(config: SessionInput['config'], totalSteps: number, batchSize: number): Partial<MethodOptions> {
  const options: Partial<MethodOptions> = {
    warmupSteps: Math.max(0, Math.floor(totalSteps * 0.1)),
    lr: scaledLr(config.method, batchSize, config.lr),
  };
  if (config.queueSize !== undefined) options.queueSize = config.queueSize;
  return options;
}
