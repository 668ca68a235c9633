import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMethod, METHOD_NAMES } from '../../../../main/train/methods/index.js';
import { methodDefaults, PAPER_BASE_LR, scaledLr } from '../../../../main/train/runs/defaults.js';
import type { SessionInput } from '../../../../main/train/runs/protocol.js';

const config = (method: string, lr?: number) =>
  ({ method, ...(lr === undefined ? {} : { lr }) }) as unknown as SessionInput['config'];

describe('run defaults: the linear LR scaling rule', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('the paper base LRs are the methods\' own defaults (so the table cannot drift from the method files)', () => {
    for (const name of METHOD_NAMES) {
      const tiny = { hiddenDim: 8, outDim: 8, predictorHiddenDim: 8, bottleneckDim: 8, queueSize: 16 };
      const method = createMethod(name, { backbone: 'small', imageSize: 8, totalSteps: 100, warmupSteps: 0, ...tiny });
      try {
        expect(method.lrAt(0), name).toBeCloseTo(PAPER_BASE_LR[name], 12);
      } finally {
        method.dispose();
      }
    }
  });

  it('scales the base LR by batch/256: the paper LR at 256, half at 128, 4× at 1024; a user LR is a base LR too', () => {
    // SimCLR: the square-root rule 0.075·√B below 4096, where it meets the linear 0.3·B/256; linear above
    expect(scaledLr('simclr', 256)).toBeCloseTo(1.2, 12);
    expect(scaledLr('simclr', 32)).toBeCloseTo(0.075 * Math.sqrt(32), 12);
    expect(scaledLr('simclr', 4095)).toBeCloseTo(0.075 * Math.sqrt(4095), 12);
    expect(scaledLr('simclr', 4096)).toBeCloseTo(4.8, 12); // SimCLR's 0.3 × 4096/256
    expect(scaledLr('simclr', 8192)).toBeCloseTo(9.6, 12);
    // a user's --lr is a base per 256 images, linear for every method
    expect(scaledLr('simclr', 128, 0.3)).toBeCloseTo(0.15, 12);
    expect(scaledLr('byol', 128)).toBeCloseTo(0.1, 12);
    expect(scaledLr('dino', 1024)).toBeCloseTo(2e-3, 12); // DINO's 5e-4 × 1024/256
    expect(scaledLr('mocov3', 8)).toBeCloseTo((1.5e-4 * 8) / 256, 15);
    expect(scaledLr('mocov2', 512, 0.1)).toBeCloseTo(0.2, 12);
  });

  it('methodDefaults passes the scaled LR, a 10% warm-up and the queue size', () => {
    expect(methodDefaults(config('simclr'), 1000, 64)).toEqual({ warmupSteps: 100, lr: 0.075 * Math.sqrt(64) }); // SimCLR's square-root rule
    expect(methodDefaults(config('mocov2', 0.06), 50, 512)).toEqual({ warmupSteps: 5, lr: 0.12 });
    const q = methodDefaults({ ...config('mocov2'), queueSize: 4096 }, 9, 256);
    expect(q).toEqual({ warmupSteps: 0, lr: 0.03, queueSize: 4096 });
  });
});
