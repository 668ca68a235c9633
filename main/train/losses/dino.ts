import * as tf from '@tensorflow/tfjs';

export interface DinoLossOptions {
  /** τs, 0.1 in the paper. */
  studentTemp: number;
  /** τt after warm-up, 0.04–0.07 in the paper (warmed up linearly from 0.04). */
  teacherTemp: number;
}

/**
 * DINO (Caron et al. 2021): "min −Σ_{x∈{x1g,x2g}} Σ_{x′∈V, x′≠x} P_t(x) log P_s(x′)", with the teacher output
 * centred (c, a running mean of teacher outputs) and sharpened (low τt): P_t = softmax((g_t − c)/τt),
 * P_s = softmax(g_s/τs). student: one [N, K] per crop, the 2 global crops first, then the local crops;
 * teacher: one [N, K] per global crop; center: [K] or [1, K]. Averaged over the batch and over the pairs.
 */
export function dinoLoss(
  student: tf.Tensor2D[],
  teacher: tf.Tensor2D[],
  center: tf.Tensor,
  options: DinoLossOptions,
): tf.Scalar {
  if (teacher.length === 0 || student.length < 2) throw new Error('dinoLoss: needs ≥ 1 teacher and ≥ 2 student crops');
  if (!(options.studentTemp > 0 && options.teacherTemp > 0)) throw new Error('dinoLoss: temperatures must be > 0');
  return tf.tidy(() => {
    const targets = teacher.map((t) => tf.softmax(tf.div(tf.sub(t, center), options.teacherTemp)));
    const logProbs = student.map((s) => tf.logSoftmax(tf.div(s, options.studentTemp)));
    const terms: tf.Tensor[] = [];
    targets.forEach((q, i) => {
      logProbs.forEach((logP, v) => {
        if (v === i) return;
        terms.push(tf.mean(tf.neg(tf.sum(tf.mul(q, logP), 1))));
      });
    });
    if (terms.length === 0) throw new Error('dinoLoss: no teacher/student pairs');
    return tf.div(tf.addN(terms), terms.length) as tf.Scalar;
  });
}
