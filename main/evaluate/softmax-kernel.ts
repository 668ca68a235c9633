/**
 * The multinomial logistic loss and its gradient over a range of rows, in one pass over the features:
 * for each block of 4 rows, logits z = W x + b (W is [C, D], row c contiguous), softmax, then
 * ∂/∂W_c += Σ_r (p_rc − [y_r = c]) x_r while the block is still in cache.
 *
 * Returns the SUM of −log p(y_r | x_r) over the rows; gradW/gradB receive the un-normalised sums (they are
 * added to, not overwritten), so row ranges computed in different threads can be summed.
 * This file imports nothing so the worker threads can load it on their own.
 */
export function softmaxLossGradRange(
  X: Float32Array,
  labels: Int32Array,
  dim: number,
  numClasses: number,
  rowStart: number,
  rowEnd: number,
  W: Float64Array,
  bias: Float64Array,
  gradW: Float64Array,
  gradB: Float64Array,
  z: Float64Array, // scratch, length 4 * numClasses
): number {
  const D = dim;
  const C = numClasses;
  let loss = 0;
  let i = rowStart;
  for (; i + 4 <= rowEnd; i += 4) {
    const o0 = i * D;
    const o1 = o0 + D;
    const o2 = o1 + D;
    const o3 = o2 + D;
    // Logits, 4 rows × 4 classes per pass over d (16 accumulators: 8 loads feed 16 multiply-adds).
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const w0 = c * D;
      const w1 = w0 + D;
      const w2 = w1 + D;
      const w3 = w2 + D;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
      let e0 = 0, e1 = 0, e2 = 0, e3 = 0, f0 = 0, f1 = 0, f2 = 0, f3 = 0;
      for (let d = 0; d < D; d++) {
        const x0 = X[o0 + d]!, x1 = X[o1 + d]!, x2 = X[o2 + d]!, x3 = X[o3 + d]!;
        const u0 = W[w0 + d]!, u1 = W[w1 + d]!, u2 = W[w2 + d]!, u3 = W[w3 + d]!;
        a0 += u0 * x0; a1 += u1 * x0; a2 += u2 * x0; a3 += u3 * x0;
        b0 += u0 * x1; b1 += u1 * x1; b2 += u2 * x1; b3 += u3 * x1;
        e0 += u0 * x2; e1 += u1 * x2; e2 += u2 * x2; e3 += u3 * x2;
        f0 += u0 * x3; f1 += u1 * x3; f2 += u2 * x3; f3 += u3 * x3;
      }
      const q0 = bias[c]!, q1 = bias[c + 1]!, q2 = bias[c + 2]!, q3 = bias[c + 3]!;
      z[c] = a0 + q0; z[c + 1] = a1 + q1; z[c + 2] = a2 + q2; z[c + 3] = a3 + q3;
      z[C + c] = b0 + q0; z[C + c + 1] = b1 + q1; z[C + c + 2] = b2 + q2; z[C + c + 3] = b3 + q3;
      z[2 * C + c] = e0 + q0; z[2 * C + c + 1] = e1 + q1; z[2 * C + c + 2] = e2 + q2; z[2 * C + c + 3] = e3 + q3;
      z[3 * C + c] = f0 + q0; z[3 * C + c + 1] = f1 + q1; z[3 * C + c + 2] = f2 + q2; z[3 * C + c + 3] = f3 + q3;
    }
    for (; c < C; c++) {
      const w = c * D;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (let d = 0; d < D; d++) {
        const wd = W[w + d]!;
        a0 += wd * X[o0 + d]!;
        a1 += wd * X[o1 + d]!;
        a2 += wd * X[o2 + d]!;
        a3 += wd * X[o3 + d]!;
      }
      const q = bias[c]!;
      z[c] = a0 + q;
      z[C + c] = a1 + q;
      z[2 * C + c] = a2 + q;
      z[3 * C + c] = a3 + q;
    }
    for (let r = 0; r < 4; r++) loss += softmaxInPlace(z, r * C, C, labels[i + r]!);
    for (let c = 0; c < C; c++) gradB[c] = gradB[c]! + z[c]! + z[C + c]! + z[2 * C + c]! + z[3 * C + c]!;
    // Gradient, 4 classes × 4 rows per pass over d.
    c = 0;
    for (; c + 4 <= C; c += 4) {
      const g00 = z[c]!, g01 = z[c + 1]!, g02 = z[c + 2]!, g03 = z[c + 3]!;
      const g10 = z[C + c]!, g11 = z[C + c + 1]!, g12 = z[C + c + 2]!, g13 = z[C + c + 3]!;
      const g20 = z[2 * C + c]!, g21 = z[2 * C + c + 1]!, g22 = z[2 * C + c + 2]!, g23 = z[2 * C + c + 3]!;
      const g30 = z[3 * C + c]!, g31 = z[3 * C + c + 1]!, g32 = z[3 * C + c + 2]!, g33 = z[3 * C + c + 3]!;
      const w0 = c * D;
      const w1 = w0 + D;
      const w2 = w1 + D;
      const w3 = w2 + D;
      for (let d = 0; d < D; d++) {
        const x0 = X[o0 + d]!, x1 = X[o1 + d]!, x2 = X[o2 + d]!, x3 = X[o3 + d]!;
        gradW[w0 + d] = gradW[w0 + d]! + g00 * x0 + g10 * x1 + g20 * x2 + g30 * x3;
        gradW[w1 + d] = gradW[w1 + d]! + g01 * x0 + g11 * x1 + g21 * x2 + g31 * x3;
        gradW[w2 + d] = gradW[w2 + d]! + g02 * x0 + g12 * x1 + g22 * x2 + g32 * x3;
        gradW[w3 + d] = gradW[w3 + d]! + g03 * x0 + g13 * x1 + g23 * x2 + g33 * x3;
      }
    }
    for (; c < C; c++) {
      const g0 = z[c]!;
      const g1 = z[C + c]!;
      const g2 = z[2 * C + c]!;
      const g3 = z[3 * C + c]!;
      const w = c * D;
      for (let d = 0; d < D; d++) {
        gradW[w + d] = gradW[w + d]! + g0 * X[o0 + d]! + g1 * X[o1 + d]! + g2 * X[o2 + d]! + g3 * X[o3 + d]!;
      }
    }
  }
  for (; i < rowEnd; i++) {
    const o = i * D;
    for (let c = 0; c < C; c++) {
      const w = c * D;
      let a = 0;
      for (let d = 0; d < D; d++) a += W[w + d]! * X[o + d]!;
      z[c] = a + bias[c]!;
    }
    loss += softmaxInPlace(z, 0, C, labels[i]!);
    for (let c = 0; c < C; c++) {
      const g = z[c]!;
      gradB[c] = gradB[c]! + g;
      const w = c * D;
      for (let d = 0; d < D; d++) gradW[w + d] = gradW[w + d]! + g * X[o + d]!;
    }
  }
  return loss;
}

/** Replaces logits z[o..o+C) with p − onehot(y) and returns −log p_y (computed stably). */
function softmaxInPlace(z: Float64Array, o: number, C: number, y: number): number {
  const zy = z[o + y]!;
  let max = -Infinity;
  for (let c = 0; c < C; c++) if (z[o + c]! > max) max = z[o + c]!;
  let sum = 0;
  for (let c = 0; c < C; c++) {
    const e = Math.exp(z[o + c]! - max);
    z[o + c] = e;
    sum += e;
  }
  const nll = Math.log(sum) + max - zy;
  const inv = 1 / sum;
  for (let c = 0; c < C; c++) z[o + c] = z[o + c]! * inv;
  z[o + y] = z[o + y]! - 1;
  return nll;
}
