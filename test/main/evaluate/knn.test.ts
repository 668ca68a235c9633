import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../main/common/random.js';
import type { LabeledFeatures } from '../../../main/evaluate/features.js';
import { cosineNeighbors, cosineNeighborsParallel, knnClassify, l2NormalizeRows } from '../../../main/evaluate/knn.js';
import { argmaxRows } from '../../../main/evaluate/metrics.js';

function randomSet(n: number, dim: number, C: number, seed: number): LabeledFeatures {
  const rand = mulberry32(seed);
  const data = Float32Array.from({ length: n * dim }, () => rand() * 2 - 1 + (rand() < 0.1 ? 3 : 0));
  const labels = Int32Array.from({ length: n }, () => Math.floor(rand() * C));
  return { data, n, dim, labels, numClasses: C };
}

/** All similarities one pair at a time, a stable sort, the first k: the definition, written out. */
function bruteForce(train: LabeledFeatures, test: LabeledFeatures, k: number, T: number) {
  const a = l2NormalizeRows(train);
  const b = l2NormalizeRows(test);
  const { dim } = train;
  return Array.from({ length: test.n }, (_, q) => {
    const sims = Array.from({ length: train.n }, (_, r) => {
      let s = 0;
      for (let d = 0; d < dim; d++) s += b[q * dim + d]! * a[r * dim + d]!;
      return { s, r };
    });
    sims.sort((x, y) => y.s - x.s || x.r - y.r);
    const top = sims.slice(0, k);
    const votes = new Array<number>(train.numClasses).fill(0);
    for (const { s, r } of top) votes[train.labels[r]!] = votes[train.labels[r]!]! + Math.exp(s / T);
    let pred = 0;
    votes.forEach((v, c) => {
      if (v > votes[pred]!) pred = c;
    });
    return { index: top.map((t) => t.r), sim: top.map((t) => t.s), pred };
  });
}

describe('DINO kNN classifier', () => {
  // Sizes cross the kernel's tiles (64 test rows, 256 train rows) and its 4 × 4 blocks, with ragged ends.
  const train = randomSet(601, 19, 5, 1);
  const test = randomSet(133, 19, 5, 2);
  // Exact ties: duplicated train rows (same similarity to every query) and a zero query row.
  train.data.copyWithin(10 * 19, 3 * 19, 4 * 19);
  train.data.copyWithin(300 * 19, 3 * 19, 4 * 19);
  test.data.fill(0, 7 * 19, 8 * 19);

  it('neighbours, similarities and votes match a brute-force reference exactly, ties included', async () => {
    const T = 0.07;
    const result = await knnClassify(train, test, { ks: [1, 10, 20, 100], temperature: T });
    const nb = cosineNeighbors(train, test, 100);
    for (const k of [1, 10, 20, 100]) {
      const ref = bruteForce(train, test, k, T);
      const refPred = ref.map((r) => r.pred);
      const refTop1 = refPred.filter((p, i) => p === test.labels[i]).length / test.n;
      expect(result[`k${k}`]!.top1).toBe(refTop1);
      const confusion = Array.from({ length: 5 }, () => new Array<number>(5).fill(0));
      refPred.forEach((p, i) => confusion[test.labels[i]!]![p]!++);
      expect(result[`k${k}`]!.confusion).toEqual(confusion);
      if (k === 100) {
        for (let q = 0; q < test.n; q++) {
          expect(Array.from(nb.index.subarray(q * 100, q * 100 + 100))).toEqual(ref[q]!.index);
          expect(Array.from(nb.sim.subarray(q * 100, q * 100 + 100))).toEqual(ref[q]!.sim);
        }
      }
    }
    // The zero query ties with every train row at similarity 0: the lowest indices win.
    expect(Array.from(nb.index.subarray(7 * 100, 7 * 100 + 5))).toEqual([0, 1, 2, 3, 4]);
  });

  it('threads give identical neighbours', async () => {
    const one = cosineNeighbors(train, test, 20);
    const two = await cosineNeighborsParallel(train, test, 20, 2);
    expect(Array.from(two.index)).toEqual(Array.from(one.index));
    expect(Array.from(two.sim)).toEqual(Array.from(one.sim));
  });

  it('with k larger than the train set, votes use every train row', async () => {
    const small = randomSet(7, 3, 2, 9);
    const r = await knnClassify(small, randomSet(9, 3, 2, 10), { ks: [20] });
    expect(r.k20!.n).toBe(9);
    const nb = cosineNeighbors(small, randomSet(2, 3, 2, 11), 10);
    expect(Array.from(nb.index.subarray(7, 10))).toEqual([-1, -1, -1]);
  });

  it('classifies well-separated clusters correctly and refuses bad input', async () => {
    const rand = mulberry32(5);
    const make = (n: number): LabeledFeatures => {
      const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
      const data = Float32Array.from({ length: n * 8 }, (_, j) => (Math.floor(j / 8) % 3 === j % 8 ? 5 : 0) + 0.3 * rand());
      return { data, n, dim: 8, labels, numClasses: 3 };
    };
    const r = await knnClassify(make(300), make(60), { ks: [10] });
    expect(r.k10!.top1).toBe(1);
    expect(argmaxRows(Float64Array.from([1, 2, 2]), 1, 3)[0]).toBe(1);
    await expect(knnClassify(make(30), { ...make(30), dim: 4, data: new Float32Array(120) })).rejects.toThrow(/dimension 8, test features 4/);
    await expect(knnClassify(make(30), make(30), { ks: [0] })).rejects.toThrow(/positive integers/);
  });
});

describe('kNN cancellation', () => {
  it('an abort stops the worker threads and rejects', async () => {
    const train = randomSet(4000, 64, 3, 1);
    const test = randomSet(2000, 64, 3, 2);
    const controller = new AbortController();
    const run = knnClassify(train, test, { threads: 2, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('cancelled by the user')), 50);
    await expect(run).rejects.toThrow('cancelled by the user');
  });
});
