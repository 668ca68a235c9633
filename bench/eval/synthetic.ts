import { mulberry32 } from '../../main/common/random.js';
import type { LabeledFeatures } from '../../main/evaluate/features.js';

/**
 * Features that look like a frozen encoder's: class means in a low-dimensional subspace, a shared low-rank
 * nuisance component (correlated features, as real embeddings have) and isotropic noise; non-negative like
 * post-ReLU pooled features when `relu` is set. Accuracy is far from 100%, so the probe has to work.
 */
export function syntheticFeatures(n: number, dim: number, numClasses: number, seed: number, options: { separation?: number; relu?: boolean } = {}): LabeledFeatures {
  const rand = mulberry32(seed);
  const gauss = () => {
    const u = 1 - rand();
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const rank = 16;
  const sep = options.separation ?? 0.12;
  const means = Float32Array.from({ length: numClasses * dim }, () => sep * gauss());
  const basis = Float32Array.from({ length: rank * dim }, () => gauss() / Math.sqrt(rank));
  const data = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  const mix = new Float64Array(rank);
  for (let i = 0; i < n; i++) {
    const y = i % numClasses;
    labels[i] = y;
    for (let r = 0; r < rank; r++) mix[r] = 2 * gauss();
    for (let d = 0; d < dim; d++) {
      let v = means[y * dim + d]! + gauss();
      for (let r = 0; r < rank; r++) v += mix[r]! * basis[r * dim + d]!;
      data[i * dim + d] = options.relu ? Math.max(0, v) : v;
    }
  }
  return { data, n, dim, labels, numClasses };
}

/** Train and test rows drawn from the same class distributions (one generator, split after drawing). */
export function syntheticSplit(nTrain: number, nTest: number, dim: number, numClasses: number, seed: number, options: { separation?: number; relu?: boolean } = {}): { train: LabeledFeatures; test: LabeledFeatures } {
  const all = syntheticFeatures(nTrain + nTest, dim, numClasses, seed, options);
  const part = (from: number, to: number): LabeledFeatures => ({
    data: all.data.slice(from * dim, to * dim),
    n: to - from,
    dim,
    labels: all.labels.slice(from, to),
    numClasses,
  });
  return { train: part(0, nTrain), test: part(nTrain, nTrain + nTest) };
}
