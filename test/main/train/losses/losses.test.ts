import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { byolLoss, dinoLoss, infoNceLoss, mocoV3Loss, ntXentLoss } from '../../../../main/train/losses/index.js';
import { mulberry32 } from '../../../../main/common/random.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type Matrix = number[][];

function randomMatrix(rows: number, cols: number, seed: number): Matrix {
  const rand = mulberry32(seed);
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => rand() * 2 - 1));
}
const normalize = (v: number[]): number[] => {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / n);
};
const dot = (a: number[], b: number[]): number => a.reduce((s, x, i) => s + x * b[i]!, 0);
const logSumExp = (xs: number[]): number => {
  const m = Math.max(...xs);
  return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
};
const softmax = (xs: number[]): number[] => {
  const l = logSumExp(xs);
  return xs.map((x) => Math.exp(x - l));
};
function value(f: () => tf.Scalar): number {
  const t = f();
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
}
function t2(m: Matrix): tf.Tensor2D {
  return tf.tensor2d(m);
}
function expectClose(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThan(1e-4 * Math.max(1, Math.abs(expected)));
}

function naiveNtXent(z1: Matrix, z2: Matrix, temp: number): number {
  const z = [...z1, ...z2].map(normalize);
  const n2 = z.length;
  let total = 0;
  for (let i = 0; i < n2; i++) {
    const twin = (i + n2 / 2) % n2;
    const others: number[] = [];
    for (let j = 0; j < n2; j++) if (j !== i) others.push(dot(z[i]!, z[j]!) / temp);
    total += -(dot(z[i]!, z[twin]!) / temp - logSumExp(others));
  }
  return total / n2;
}

function naiveInfoNce(q: Matrix, k: Matrix, queue: Matrix, temp: number): number {
  let total = 0;
  q.forEach((qi, i) => {
    const a = normalize(qi);
    const logits = [dot(a, normalize(k[i]!)) / temp, ...queue.map((row) => dot(a, row) / temp)];
    total += -(logits[0]! - logSumExp(logits));
  });
  return total / q.length;
}

function naiveCtr(q: Matrix, k: Matrix, temp: number): number {
  let total = 0;
  q.forEach((qi, i) => {
    const logits = k.map((kj) => dot(normalize(qi), normalize(kj)) / temp);
    total += -(logits[i]! - logSumExp(logits));
  });
  return (total / q.length) * 2 * temp;
}

function naiveByol(p1: Matrix, p2: Matrix, z1: Matrix, z2: Matrix): number {
  const term = (p: Matrix, z: Matrix) => p.reduce((s, pi, i) => s + (2 - 2 * dot(normalize(pi), normalize(z[i]!))), 0) / p.length;
  return term(p1, z2) + term(p2, z1);
}

function naiveDino(student: Matrix[], teacher: Matrix[], center: number[], sT: number, tT: number): number {
  let total = 0;
  let pairs = 0;
  teacher.forEach((t, i) => {
    student.forEach((s, v) => {
      if (v === i) return;
      let sum = 0;
      t.forEach((row, n) => {
        const q = softmax(row.map((x, k) => (x - center[k]!) / tT));
        const logits = s[n]!.map((x) => x / sT);
        const lse = logSumExp(logits);
        sum += -q.reduce((acc, qk, k) => acc + qk * (logits[k]! - lse), 0);
      });
      total += sum / t.length;
      pairs++;
    });
  });
  return total / pairs;
}

const batchSizes = [1, 3, 8];
const temperatures = [0.07, 0.2, 0.5, 1];

describe('losses match naive references', () => {
  it('NT-Xent (SimCLR) over batch sizes and temperatures, symmetric in the views', () => {
    for (const n of batchSizes)
      for (const temp of temperatures) {
        const z1 = randomMatrix(n, 5, n * 10 + 1);
        const z2 = randomMatrix(n, 5, n * 10 + 2);
        const got = value(() => ntXentLoss(t2(z1), t2(z2), temp));
        expectClose(got, naiveNtXent(z1, z2, temp));
        expectClose(value(() => ntXentLoss(t2(z2), t2(z1), temp)), got);
      }
  });

  it('InfoNCE with a queue (MoCo v2)', () => {
    for (const n of batchSizes)
      for (const temp of temperatures) {
        const q = randomMatrix(n, 6, n + 3);
        const k = randomMatrix(n, 6, n + 4);
        const queue = randomMatrix(16, 6, n + 5).map(normalize);
        expectClose(value(() => infoNceLoss(t2(q), t2(k), t2(queue), temp)), naiveInfoNce(q, k, queue, temp));
      }
  });

  it('MoCo v3 symmetric contrastive loss, symmetric in the views', () => {
    for (const n of batchSizes)
      for (const temp of temperatures) {
        const [q1, q2, k1, k2] = [1, 2, 3, 4].map((s) => randomMatrix(n, 4, n * 7 + s)) as [Matrix, Matrix, Matrix, Matrix];
        const got = value(() => mocoV3Loss(t2(q1), t2(q2), t2(k1), t2(k2), temp));
        expectClose(got, naiveCtr(q1, k2, temp) + naiveCtr(q2, k1, temp));
        expectClose(value(() => mocoV3Loss(t2(q2), t2(q1), t2(k2), t2(k1), temp)), got);
      }
  });

  it('BYOL normalized MSE, symmetric in the views, 0 for aligned predictions', () => {
    for (const n of batchSizes) {
      const [p1, p2, z1, z2] = [1, 2, 3, 4].map((s) => randomMatrix(n, 5, n * 5 + s)) as [Matrix, Matrix, Matrix, Matrix];
      const got = value(() => byolLoss(t2(p1), t2(p2), t2(z1), t2(z2)));
      expectClose(got, naiveByol(p1, p2, z1, z2));
      expectClose(value(() => byolLoss(t2(p2), t2(p1), t2(z2), t2(z1))), got);
      const scaled = z2.map((row) => row.map((x) => 3 * x));
      expect(value(() => byolLoss(t2(scaled), t2(z1), t2(z1), t2(z2)))).toBeLessThan(1e-5);
    }
  });

  it('DINO cross-entropy with centering and sharpening, 2 global + local crops', () => {
    for (const n of batchSizes)
      for (const [sT, tT] of [
        [0.1, 0.04],
        [0.1, 0.07],
        [0.5, 0.2],
      ] as const) {
        const k = 7;
        const student = [1, 2, 3, 4].map((s) => randomMatrix(n, k, n * 11 + s).map((r) => r.map((x) => 3 * x)));
        const teacher = [5, 6].map((s) => randomMatrix(n, k, n * 11 + s).map((r) => r.map((x) => 3 * x)));
        const center = randomMatrix(1, k, n)[0]!;
        const got = value(() => dinoLoss(student.map(t2), teacher.map(t2), tf.tensor1d(center), { studentTemp: sT, teacherTemp: tT }));
        expectClose(got, naiveDino(student, teacher, center, sT, tT));
      }
  });

  it('rejects mismatched shapes and bad temperatures', () => {
    const a = tf.zeros([2, 3]) as tf.Tensor2D;
    const b = tf.zeros([3, 3]) as tf.Tensor2D;
    expect(() => ntXentLoss(a, b)).toThrow(/shapes/);
    expect(() => ntXentLoss(a, a, 0)).toThrow(/temperature/);
    expect(() => infoNceLoss(a, a, tf.zeros([4, 2]) as tf.Tensor2D)).toThrow(/disagree/);
    expect(() => dinoLoss([a], [a], tf.zeros([3]), { studentTemp: 0.1, teacherTemp: 0.04 })).toThrow(/crops/);
  });

  it('leaks no tensors', () => {
    const z = tf.randomNormal([4, 3]) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    value(() => ntXentLoss(z, z));
    value(() => mocoV3Loss(z, z, z, z));
    value(() => byolLoss(z, z, z, z));
    value(() => infoNceLoss(z, z, z));
    expect(tf.memory().numTensors).toBe(before);
    z.dispose();
  });
});
