import { describe, expect, it } from 'vitest';
import { CancelledError } from '../../../main/common/errors.js';
import { minimizeLbfgs, minimizeLbfgsAsync } from '../../../main/evaluate/lbfgs.js';
import { fitLinearProbe, fitLinearProbeAsync } from '../../../main/evaluate/linear-probe.js';
import { runStepsAsync, type Steps } from '../../../main/evaluate/steps.js';
import { mulberry32 } from '../../../main/common/random.js';
import type { LabeledFeatures } from '../../../main/evaluate/features.js';

/** C Gaussian blobs in `dim` dimensions, overlapping enough that the fit takes a few iterations. */
function blobs(n: number, dim: number, C: number, seed: number): LabeledFeatures {
  const rand = mulberry32(seed);
  const centres = Array.from({ length: C * dim }, () => rand() * 2 - 1);
  const data = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % C;
    labels[i] = c;
    for (let d = 0; d < dim; d++) data[i * dim + d] = centres[c * dim + d]! + (rand() + rand() + rand() - 1.5);
  }
  return { data, n, dim, labels, numClasses: C };
}

// f(x) = Σ i·(x_i − 1)²: an ill-conditioned quadratic with its minimum at 1.
const quadratic = (x: Float64Array, g: Float64Array) => {
  let f = 0;
  for (let i = 0; i < x.length; i++) {
    const d = x[i]! - 1;
    f += (i + 1) * d * d;
    g[i] = 2 * (i + 1) * d;
  }
  return f;
};

describe('sync and async drivers of the step generators', () => {
  it('the async L-BFGS takes exactly the steps of the sync one', async () => {
    const opts = { gradientTolerance: 1e-9, relativeTolerance: 0, maxIterations: 500 };
    const a = minimizeLbfgs(quadratic, new Float64Array(50), opts);
    const b = await minimizeLbfgsAsync(quadratic, new Float64Array(50), { ...opts, sliceMs: 0 });
    expect(b.iterations).toBe(a.iterations);
    expect(b.evaluations).toBe(a.evaluations);
    expect(Array.from(b.x)).toEqual(Array.from(a.x));
  });

  it('the async probe fit gives the sync fit, threaded or not', async () => {
    const train = blobs(600, 16, 3, 1);
    const options = { l2Grid: [1e-2, 1e-3], seed: 2 };
    const sync = fitLinearProbe(train, options);
    const async1 = await fitLinearProbeAsync(train, { ...options, threads: 1 });
    const async2 = await fitLinearProbeAsync(train, { ...options, threads: 2 });
    expect(Array.from(async1.model.weights)).toEqual(Array.from(sync.model.weights));
    expect(async2.l2).toBe(sync.l2);
    for (let i = 0; i < sync.model.weights.length; i++) expect(async2.model.weights[i]).toBeCloseTo(sync.model.weights[i]!, 4);
  });

  it('an abort stops the generator at its next yield, runs its finally blocks and rejects with CancelledError', async () => {
    const controller = new AbortController();
    let steps = 0;
    let cleaned = false;
    function* endless(): Steps<number> {
      try {
        for (;;) {
          steps++;
          if (steps === 50) controller.abort();
          yield;
        }
      } finally {
        cleaned = true;
      }
    }
    await expect(runStepsAsync(endless(), { signal: controller.signal })).rejects.toBeInstanceOf(CancelledError);
    expect(steps).toBe(50);
    expect(cleaned).toBe(true);
  });

  it('a threaded fit cancelled mid-way rejects quickly, and the next fit still works', async () => {
    const train = blobs(4000, 64, 10, 2);
    const controller = new AbortController();
    let iterations = 0;
    const started = performance.now();
    let abortedAt = 0;
    const fit = fitLinearProbeAsync(train, {
      l2Grid: [1e-8],
      gradientTolerance: 0,
      relativeTolerance: 0,
      maxIterations: 100_000,
      threads: 2,
      signal: controller.signal,
      onProgress: () => {
        if (++iterations === 5) {
          abortedAt = performance.now();
          controller.abort();
        }
      },
    });
    await expect(fit).rejects.toBeInstanceOf(CancelledError);
    expect(iterations).toBe(5);
    expect(performance.now() - abortedAt).toBeLessThan(1000);
    expect(abortedAt).toBeGreaterThan(started);
    const again = await fitLinearProbeAsync(train, { l2Grid: [1e-2], threads: 2, maxIterations: 20 });
    expect(again.refit.iterations).toBeGreaterThan(0);
  });
});
