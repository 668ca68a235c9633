import { invalid } from '../common/errors.js';

/**
 * A feature matrix in row-major order: row i is `data.subarray(i * dim, (i + 1) * dim)`.
 * Labels are class indices in [0, numClasses).
 */
export interface FeatureMatrix {
  data: Float32Array;
  n: number;
  dim: number;
}

export interface LabeledFeatures extends FeatureMatrix {
  labels: Int32Array;
  numClasses: number;
}

/** Checks shapes and labels once at the boundary, so the kernels can trust their inputs. */
export function checkFeatures(x: FeatureMatrix, what: string): void {
  if (!Number.isInteger(x.n) || x.n < 1) throw invalid(`${what}: needs at least one row (n = ${x.n})`);
  if (!Number.isInteger(x.dim) || x.dim < 1) throw invalid(`${what}: dimension must be a positive integer (dim = ${x.dim})`);
  if (x.data.length !== x.n * x.dim) {
    throw invalid(`${what}: data has ${x.data.length} values, expected n × dim = ${x.n} × ${x.dim} = ${x.n * x.dim}`);
  }
  for (let i = 0; i < x.data.length; i++) {
    if (!Number.isFinite(x.data[i]!)) {
      throw invalid(`${what}: value at row ${Math.floor(i / x.dim)}, column ${i % x.dim} is not finite (${x.data[i]})`);
    }
  }
}

export function checkLabeled(x: LabeledFeatures, what: string): void {
  checkFeatures(x, what);
  if (!Number.isInteger(x.numClasses) || x.numClasses < 2) throw invalid(`${what}: needs at least 2 classes (numClasses = ${x.numClasses})`);
  if (x.labels.length !== x.n) throw invalid(`${what}: ${x.labels.length} labels for ${x.n} rows`);
  for (let i = 0; i < x.n; i++) {
    const y = x.labels[i]!;
    if (y < 0 || y >= x.numClasses) throw invalid(`${what}: label ${y} at row ${i} is outside [0, ${x.numClasses})`);
  }
}

/** Rows `indices` of `x`, copied into a new matrix (labels too). */
export function selectRows(x: LabeledFeatures, indices: ArrayLike<number>): LabeledFeatures {
  const { dim } = x;
  const data = new Float32Array(indices.length * dim);
  const labels = new Int32Array(indices.length);
  for (let r = 0; r < indices.length; r++) {
    const i = indices[r]!;
    data.set(x.data.subarray(i * dim, (i + 1) * dim), r * dim);
    labels[r] = x.labels[i]!;
  }
  return { data, n: indices.length, dim, labels, numClasses: x.numClasses };
}

/** Number of rows per class. */
export function classCounts(labels: Int32Array, numClasses: number): Int32Array {
  const counts = new Int32Array(numClasses);
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]!++;
  return counts;
}
