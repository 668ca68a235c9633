import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../main/common/random.js';
import type { LabeledFeatures } from '../../../main/evaluate/features.js';
import { fitLinearProbe, linearProbe, predictLinear } from '../../../main/evaluate/linear-probe.js';
import { createSoftmaxObjective } from '../../../main/evaluate/softmax-objective.js';

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** Linearly separable by construction: y = argmax_c (V x)_c for a random V, with a margin enforced. */
function separable(n: number, dim: number, C: number, seed: number, V?: Float64Array, margin = 1): LabeledFeatures & { V: Float64Array } {
  const rand = mulberry32(seed);
  const v = V ?? Float64Array.from({ length: C * dim }, () => gaussian(rand));
  const data = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  const x = new Float64Array(dim);
  for (let i = 0; i < n; ) {
    for (let d = 0; d < dim; d++) x[d] = 3 * gaussian(rand) + 5; // offset and scale so standardisation matters
    const s = Array.from({ length: C }, (_, c) => x.reduce((acc, xd, d) => acc + v[c * dim + d]! * (xd - 5), 0));
    const order = s.map((val, c) => ({ val, c })).sort((a, b) => b.val - a.val);
    if (order[0]!.val - order[1]!.val < margin) continue;
    data.set(x, i * dim);
    labels[i] = order[0]!.c;
    i++;
  }
  return { data, n, dim, labels, numClasses: C, V: v };
}

describe('softmax objective', () => {
  const rand = mulberry32(7);
  const n = 37; // not a multiple of the 4-row block
  const dim = 13;
  const C = 6; // 4-class block plus a tail of 2
  const X = Float32Array.from({ length: n * dim }, () => gaussian(rand));
  const labels = Int32Array.from({ length: n }, () => Math.floor(rand() * C));
  const params = Float64Array.from({ length: C * dim + C }, () => 0.3 * gaussian(rand));

  /** The objective written the obvious way, one row and one class at a time. */
  function naive(p: Float64Array, l2: number): number {
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const z = Array.from({ length: C }, (_, c) => {
        let s = p[C * dim + c]!;
        for (let d = 0; d < dim; d++) s += p[c * dim + d]! * X[i * dim + d]!;
        return s;
      });
      const lse = Math.log(z.reduce((a, v) => a + Math.exp(v), 0));
      loss += lse - z[labels[i]!]!;
    }
    let reg = 0;
    for (let j = 0; j < C * dim; j++) reg += p[j]! * p[j]!;
    return loss / n + 0.5 * l2 * reg;
  }

  it('value matches the naive objective and the gradient matches central differences', () => {
    const obj = createSoftmaxObjective(X, labels, dim, C, 1);
    const grad = new Float64Array(params.length);
    const l2 = 0.05;
    const f = obj.evaluate(params, grad, n, l2);
    expect(f).toBeCloseTo(naive(params, l2), 10);
    const h = 1e-5;
    for (let j = 0; j < params.length; j += 7) {
      const p = Float64Array.from(params);
      p[j] = params[j]! + h;
      const fp = naive(p, l2);
      p[j] = params[j]! - h;
      const fm = naive(p, l2);
      expect(grad[j]).toBeCloseTo((fp - fm) / (2 * h), 6);
    }
  });

  it('worker threads give the same value and gradient as one thread', () => {
    const one = createSoftmaxObjective(X, labels, dim, C, 1);
    const three = createSoftmaxObjective(X, labels, dim, C, 3);
    try {
      expect(three.threads).toBe(3);
      for (const rows of [n, 20, 5]) {
        const g1 = new Float64Array(params.length);
        const g3 = new Float64Array(params.length);
        expect(three.evaluate(params, g3, rows, 0.01)).toBeCloseTo(one.evaluate(params, g1, rows, 0.01), 12);
        for (let j = 0; j < params.length; j++) expect(g3[j]).toBeCloseTo(g1[j]!, 12);
      }
    } finally {
      three.close();
    }
  });
});

describe('linear probe', () => {
  it('reaches ≥ 99% on linearly separable features (10 classes, 32 dims)', () => {
    // Class scores (V(x − 5))_c have a spread of about 3·√32 ≈ 17; the top two are kept at least 8 apart.
    const train = separable(4000, 32, 10, 1, undefined, 8);
    const test = separable(2000, 32, 10, 2, train.V, 8);
    const r = linearProbe(train, test, { l2Grid: [1e-3, 1e-4, 1e-5, 1e-6], seed: 1 });
    expect(r.top1).toBeGreaterThanOrEqual(0.99);
    expect(r.top5).toBeGreaterThanOrEqual(r.top1);
    expect(r.confusion.flat().reduce((a, b) => a + b, 0)).toBe(2000);
    expect(r.perClass).toHaveLength(10);
    expect(r.validation.length).toBeGreaterThan(0);
    expect(r.validation.map((v) => v.l2)).toEqual([...r.validation.map((v) => v.l2)].sort((a, b) => b - a));
  });

  it('is reproducible, and its threaded fit gives the same predictions', () => {
    const train = separable(1200, 20, 5, 3);
    const a = fitLinearProbe(train, { l2Grid: [1e-2, 1e-3], seed: 4 });
    const b = fitLinearProbe(train, { l2Grid: [1e-2, 1e-3], seed: 4 });
    expect(Array.from(b.model.weights)).toEqual(Array.from(a.model.weights));
    const t = fitLinearProbe(train, { l2Grid: [1e-2, 1e-3], seed: 4, threads: 2 });
    expect(t.l2).toBe(a.l2);
    const sa = predictLinear(a.model, train);
    const st = predictLinear(t.model, train);
    for (let j = 0; j < sa.length; j++) expect(st[j]).toBeCloseTo(sa[j]!, 3);
  });

  it('folds the standardisation into the model: scores on raw features equal scores on standardised ones', () => {
    const train = separable(500, 8, 3, 5);
    const fit = fitLinearProbe(train, { l2Grid: [1e-2] });
    const s = predictLinear(fit.model, train);
    // Shift and scale the features: a refit must give the same predictions (the probe is affine-invariant
    // per feature up to the penalty, which standardisation removes).
    const shifted = { ...train, data: train.data.map((v, i) => 10 * v + (i % 8)) };
    const fit2 = fitLinearProbe(shifted, { l2Grid: [1e-2] });
    const s2 = predictLinear(fit2.model, shifted);
    for (let j = 0; j < s.length; j++) expect(s2[j]).toBeCloseTo(s[j]!, 2);
  });

  it('refuses bad input with a clear message', () => {
    const train = separable(100, 4, 3, 6);
    expect(() => fitLinearProbe({ ...train, labels: train.labels.map(() => 7) })).toThrow(/label 7 at row 0 is outside \[0, 3\)/);
    expect(() => fitLinearProbe({ ...train, n: 99 })).toThrow(/expected n × dim/);
    const nan = Float32Array.from(train.data);
    nan[5] = NaN;
    expect(() => fitLinearProbe({ ...train, data: nan })).toThrow(/row 1, column 1 is not finite/);
    expect(() => linearProbe(train, { ...train, dim: 2, data: train.data.subarray(0, 200) })).toThrow(/dimension 4, test features 2/);
    expect(() => fitLinearProbe(train, { l2Grid: [-1] })).toThrow(/L2 grid/);
  });
});
