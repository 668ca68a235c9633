import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createOptimizer, isDecayExempt, linearWarmup, warmupCosineLr, type OptimizerName } from '../../../../main/train/optim/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const W0 = [0.5, -1, 2, 0.25];
const B0 = [0.1, -0.3];
const gradsAt = (step: number): { w: number[]; b: number[] } => ({
  w: [0.1 * (step + 1), -0.2, 0.05 * step, 0.3],
  b: [0.2, -0.1 * step],
});

/** Naive per-element reference of each optimizer over 3 steps, with decay on `w` only. */
function naive(name: OptimizerName, lr: number, wd: number): { w: number[]; b: number[] } {
  const mu = 0.9;
  const eta = 0.001;
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  const state = { w: [...W0], b: [...B0] };
  const slot1 = { w: W0.map(() => 0), b: B0.map(() => 0) };
  const slot2 = { w: W0.map(() => 0), b: B0.map(() => 0) };
  for (let step = 0; step < 3; step++) {
    const g = gradsAt(step);
    for (const key of ['w', 'b'] as const) {
      const decay = key === 'w';
      const p = state[key];
      let grad = g[key];
      if (name === 'sgd' || name === 'lars') {
        if (decay) grad = grad.map((x, i) => x + wd * p[i]!);
        if (name === 'lars' && decay) {
          const pn = Math.hypot(...p);
          const gn = Math.hypot(...grad);
          const trust = pn > 0 && gn > 0 ? (eta * pn) / gn : 1;
          grad = grad.map((x) => x * trust);
        }
        slot1[key] = slot1[key].map((v, i) => mu * v + grad[i]!);
        state[key] = p.map((x, i) => x - lr * slot1[key][i]!);
      } else {
        const t = step + 1;
        slot1[key] = slot1[key].map((m, i) => b1 * m + (1 - b1) * grad[i]!);
        slot2[key] = slot2[key].map((v, i) => b2 * v + (1 - b2) * grad[i]! ** 2);
        state[key] = p.map((x, i) => {
          const base = decay ? x * (1 - lr * wd) : x;
          const mHat = slot1[key][i]! / (1 - b1 ** t);
          const vHat = slot2[key][i]! / (1 - b2 ** t);
          return base - (lr * mHat) / (Math.sqrt(vHat) + eps);
        });
      }
    }
  }
  return state;
}

describe('optimizers', () => {
  it('exempts biases and 1-D (norm) params from decay by name and shape', () => {
    expect(isDecayExempt('layer1.0.conv1.weight', [3, 3, 4, 4])).toBe(false);
    expect(isDecayExempt('fc.weight', [4, 2])).toBe(false);
    expect(isDecayExempt('fc.bias', [2])).toBe(true);
    expect(isDecayExempt('layer1.0.bn1.weight', [4])).toBe(true);
    expect(isDecayExempt('blocks.0.norm1.weight', [8])).toBe(true);
  });

  for (const name of ['sgd', 'lars', 'adamw'] as const) {
    it(`${name} matches a naive reference over 3 steps, leaks nothing and restores its state`, async () => {
      const w = tf.variable(tf.tensor2d(W0, [2, 2]));
      const b = tf.variable(tf.tensor1d(B0));
      const lr = 0.1;
      const wd = 0.05;
      const opt = createOptimizer(name, [['fc.weight', w], ['fc.bias', b]], { weightDecay: wd });
      const before = tf.memory().numTensors;
      for (let step = 0; step < 3; step++) {
        const g = gradsAt(step);
        const grads = { [w.name]: tf.tensor2d(g.w, [2, 2]), [b.name]: tf.tensor1d(g.b) };
        opt.step(grads, lr);
        tf.dispose(grads);
        expect(tf.memory().numTensors).toBe(before);
      }
      const want = naive(name, lr, wd);
      Array.from(w.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(want.w[i]!, 5));
      Array.from(b.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(want.b[i]!, 5));
      const state = await opt.getState();
      expect(state.step).toBe(3);
      const other = createOptimizer(name, [['fc.weight', w], ['fc.bias', b]], { weightDecay: wd });
      other.setState(state);
      expect(await other.getState()).toEqual(state);
      expect(() => opt.step({}, Number.NaN)).toThrow(/learning rate/);
      opt.dispose();
      other.dispose();
      tf.dispose([w, b]);
    });
  }

  it('warm-up then cosine', () => {
    const o = { baseLr: 1, warmupSteps: 4, totalSteps: 14, finalLr: 0.1 };
    expect(warmupCosineLr(0, o)).toBeCloseTo(0.25);
    expect(warmupCosineLr(3, o)).toBeCloseTo(1);
    expect(warmupCosineLr(4, o)).toBeCloseTo(1);
    expect(warmupCosineLr(9, o)).toBeCloseTo(0.55);
    expect(warmupCosineLr(14, o)).toBeCloseTo(0.1);
    expect(warmupCosineLr(100, o)).toBeCloseTo(0.1);
    for (let s = 4; s < 14; s++) expect(warmupCosineLr(s + 1, o)).toBeLessThan(warmupCosineLr(s, o));
    expect(linearWarmup(0, 0.04, 0.07, 10)).toBeCloseTo(0.04);
    expect(linearWarmup(5, 0.04, 0.07, 10)).toBeCloseTo(0.055);
    expect(linearWarmup(50, 0.04, 0.07, 10)).toBeCloseTo(0.07);
  });
});
