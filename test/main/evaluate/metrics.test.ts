import { describe, expect, it } from 'vitest';
import { argmaxRows, classificationReport, confusionMatrix, perClassAccuracy, topKAccuracy } from '../../../main/evaluate/metrics.js';

/** Reference top-k: stable sort of class indices by descending score. */
function naiveTopK(scores: number[], labels: number[], C: number, k: number): number {
  let hits = 0;
  labels.forEach((y, i) => {
    const row = scores.slice(i * C, (i + 1) * C);
    const order = row.map((s, c) => ({ s, c })).sort((a, b) => b.s - a.s || a.c - b.c).map((e) => e.c);
    if (order.slice(0, k).includes(y)) hits++;
  });
  return hits / labels.length;
}

describe('metrics', () => {
  it('top-k matches a stable-sort reference, ties included', () => {
    const C = 7;
    const n = 300;
    let seed = 3;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    // Coarse scores so ties are frequent.
    const scores = Array.from({ length: n * C }, () => Math.floor(rand() * 4));
    const labels = Array.from({ length: n }, () => Math.floor(rand() * C));
    for (const k of [1, 2, 3, 5, 7]) {
      expect(topKAccuracy(Float32Array.from(scores), Int32Array.from(labels), C, k)).toBeCloseTo(naiveTopK(scores, labels, C, k), 12);
    }
    const pred = argmaxRows(Float32Array.from(scores), n, C);
    const top1ByArgmax = labels.filter((y, i) => pred[i] === y).length / n;
    expect(topKAccuracy(Float32Array.from(scores), Int32Array.from(labels), C, 1)).toBeCloseTo(top1ByArgmax, 12);
  });

  it('confusion matrix and per-class accuracy', () => {
    const labels = Int32Array.from([0, 0, 1, 1, 1, 2]);
    const pred = Int32Array.from([0, 1, 1, 1, 0, 2]);
    const m = confusionMatrix(pred, labels, 4);
    expect(m).toEqual([
      [1, 1, 0, 0],
      [1, 2, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 0],
    ]);
    const acc = perClassAccuracy(m);
    expect(acc.slice(0, 3)).toEqual([0.5, 2 / 3, 1]);
    expect(acc[3]).toBeNaN();
  });

  it('classificationReport puts it together and checks the shape', () => {
    const scores = Float32Array.from([0.9, 0.1, 0, 0.2, 0.7, 0.1, 0.5, 0.4, 0.1]);
    const r = classificationReport(scores, Int32Array.from([0, 1, 1]), 3);
    expect(r.top1).toBeCloseTo(2 / 3);
    expect(r.top5).toBe(1);
    expect(r.confusion).toEqual([
      [1, 0, 0],
      [1, 1, 0],
      [0, 0, 0],
    ]);
    expect(() => classificationReport(scores, Int32Array.from([0, 1]), 3)).toThrow(/expected 2 rows × 3 classes/);
  });
});
