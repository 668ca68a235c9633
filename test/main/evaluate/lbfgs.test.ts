import { describe, expect, it } from 'vitest';
import { minimizeLbfgs } from '../../../main/evaluate/lbfgs.js';

describe('L-BFGS', () => {
  it('minimises the Rosenbrock function from the classic start', () => {
    const n = 10;
    const f = (x: Float64Array, g: Float64Array) => {
      let v = 0;
      g.fill(0);
      for (let i = 0; i < n - 1; i++) {
        const a = x[i + 1]! - x[i]! * x[i]!;
        const b = 1 - x[i]!;
        v += 100 * a * a + b * b;
        g[i] = g[i]! - 400 * a * x[i]! - 2 * b;
        g[i + 1] = g[i + 1]! + 200 * a;
      }
      return v;
    };
    const x0 = Float64Array.from({ length: n }, (_, i) => (i % 2 === 0 ? -1.2 : 1));
    const r = minimizeLbfgs(f, x0, { maxIterations: 1000, gradientTolerance: 1e-8, relativeTolerance: 0 });
    expect(r.stop).toBe('gradient');
    for (const v of r.x) expect(v).toBeCloseTo(1, 5);
    expect(r.f).toBeLessThan(1e-10);
  });

  it('solves an ill-conditioned quadratic to the exact minimiser, each step decreasing f', () => {
    const n = 50;
    const diag = Float64Array.from({ length: n }, (_, i) => 10 ** ((4 * i) / (n - 1))); // condition number 1e4
    const target = Float64Array.from({ length: n }, (_, i) => Math.sin(i));
    const f = (x: Float64Array, g: Float64Array) => {
      let v = 0;
      for (let i = 0; i < n; i++) {
        const d = x[i]! - target[i]!;
        v += 0.5 * diag[i]! * d * d;
        g[i] = diag[i]! * d;
      }
      return v;
    };
    const values: number[] = [];
    const r = minimizeLbfgs(f, new Float64Array(n), {
      maxIterations: 3000,
      gradientTolerance: 1e-9,
      relativeTolerance: 0,
      onIteration: (_i, v) => values.push(v),
    });
    expect(r.stop).toBe('gradient');
    for (let i = 0; i < n; i++) expect(r.x[i]).toBeCloseTo(target[i]!, 8);
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeLessThanOrEqual(values[i - 1]!);
    // SciPy's L-BFGS-B (maxcor 10, gtol 1e-9) takes 975 iterations on this problem.
    expect(r.iterations).toBeLessThan(1500);
  });

  it('stops on a flat objective by the relative-reduction rule and can be cancelled', () => {
    const f = (x: Float64Array, g: Float64Array) => {
      g[0] = 2 * x[0]!;
      return x[0]! * x[0]! + 1;
    };
    expect(minimizeLbfgs(f, Float64Array.from([3]), { gradientTolerance: 0, relativeTolerance: 1e-12 }).x[0]).toBeCloseTo(0, 6);
    expect(() =>
      minimizeLbfgs(f, Float64Array.from([3]), {
        gradientTolerance: 0,
        onIteration: () => {
          throw new Error('cancelled');
        },
      }),
    ).toThrow('cancelled');
  });
});
