import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../main/common/random.js';
import { classCounts } from '../../../main/evaluate/features.js';
import { labelFractionIndices, linearProbeFractions, meanStd } from '../../../main/evaluate/fractions.js';

describe('label fractions', () => {
  // Unequal classes: 1000, 500, 2000, 37 rows, interleaved.
  const sizes = [1000, 500, 2000, 37];
  const labels = Int32Array.from(sizes.flatMap((s, c) => new Array<number>(s).fill(c)));
  const rand = mulberry32(1);
  for (let i = labels.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [labels[i], labels[j]] = [labels[j]!, labels[i]!];
  }

  it('take round(fraction × class size) of every class, at least one', () => {
    for (const [fraction, expected] of [
      [0.01, [10, 5, 20, 1]],
      [0.1, [100, 50, 200, 4]],
    ] as const) {
      const idx = labelFractionIndices(labels, 4, fraction, 0);
      const counts = classCounts(Int32Array.from(idx, (i) => labels[i]!), 4);
      expect(Array.from(counts)).toEqual(expected);
      expect(new Set(idx).size).toBe(idx.length);
      expect(Array.from(idx)).toEqual([...idx].sort((a, b) => a - b));
    }
  });

  it('are reproducible by seed and differ between seeds', () => {
    const a = labelFractionIndices(labels, 4, 0.1, 7);
    const b = labelFractionIndices(labels, 4, 0.1, 7);
    const c = labelFractionIndices(labels, 4, 0.1, 8);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(Array.from(c)).not.toEqual(Array.from(a));
    // A 1% draw is not simply a prefix of the sorted 10% one, but both are subsets of the data.
    expect(labelFractionIndices(labels, 4, 0.01, 7).every((i) => i >= 0 && i < labels.length)).toBe(true);
    expect(() => labelFractionIndices(labels, 4, 0, 1)).toThrow(/\(0, 1\]/);
  });

  it('mean ± sample std', () => {
    const { mean, std } = meanStd([0.5, 0.6, 0.7]);
    expect(mean).toBeCloseTo(0.6, 12);
    expect(std).toBeCloseTo(0.1, 12); // sample std: sqrt((0.01 + 0 + 0.01) / 2)
    expect(meanStd([0.4]).std).toBe(0);
  });

  it('run a probe per fraction and seed', () => {
    const n = 2000;
    const dim = 6;
    const r = mulberry32(3);
    const make = (count: number) => {
      const y = Int32Array.from({ length: count }, (_, i) => i % 4);
      const data = Float32Array.from({ length: count * dim }, (_, j) => (Math.floor(j / dim) % 4 === j % dim ? 2 : 0) + r() - 0.5);
      return { data, n: count, dim, labels: y, numClasses: 4 };
    };
    const res = linearProbeFractions(make(n), make(400), { fractions: [0.02, 0.1], seeds: [0, 1, 2], probe: { l2Grid: [1e-2, 1e-3] } });
    expect(res.map((f) => f.runs.map((x) => x.labelled))).toEqual([
      [40, 40, 40],
      [200, 200, 200],
    ]);
    for (const f of res) {
      expect(f.mean).toBeGreaterThan(0.9);
      expect(f.std).toBeCloseTo(meanStd(f.runs.map((x) => x.top1)).std, 12);
    }
  });
});
