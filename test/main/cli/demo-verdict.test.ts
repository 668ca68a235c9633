import { describe, expect, it } from 'vitest';
import { trainedVsRandom } from '../../../main/cli/commands/demo.js';

const evaluation = (knn: number, linear: number, randomKnn: number, randomLinear: number) => ({
  knn: { k20: knn },
  linear: { top1: linear },
  baselines: { random: { knn: { k20: randomKnn }, linear: { top1: randomLinear } } },
});

describe('the demo\'s trained-vs-random line', () => {
  it('says "below" when the trained encoder loses, with both numbers and the gap', () => {
    const v = trainedVsRandom(evaluation(0.527, 0.62, 0.7, 0.793));
    expect(v.text).toContain('kNN k=20 52.7% vs 70.0%, 17.3 points below random init');
    expect(v.text).toContain('linear 62.0% vs 79.3%, 17.3 points below random init');
    expect(v.json.knnK20).toBeCloseTo(-0.173, 6);
    expect(v.json.linearTop1).toBeCloseTo(-0.173, 6);
  });

  it('says "above" only for a measured gain, and n/a where a number is missing', () => {
    const v = trainedVsRandom(evaluation(0.8, 0.7, 0.7, 0.7));
    expect(v.text).toContain('10.0 points above random init');
    expect(v.text).toContain('linear 70.0% vs 70.0%, 0.0 points level with random init');
    const missing = trainedVsRandom({ knn: null, linear: { top1: 0.5 }, baselines: { random: { knn: { k20: 0.4 }, linear: null } } });
    expect(missing.text).toContain('kNN k=20 n/a; linear n/a');
    expect(missing.json).toEqual({ knnK20: null, linearTop1: null });
  });
});
