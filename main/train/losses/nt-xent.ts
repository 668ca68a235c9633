import * as tf from '@tensorflow/tfjs';
import { l2Normalize } from '../nn/layers.js';

/**
 * NT-Xent, SimCLR (Chen et al. 2020): "the normalized temperature-scaled cross entropy loss", over 2N views.
 * z1, z2: [N, D] projections of two views of the same N images (normalised here). For each of the 2N views the
 * positive is its twin, the negatives are the other 2(N − 1) views; the loss is the mean over all 2N anchors.
 * Returns a scalar.
 */
export function ntXentLoss(z1: tf.Tensor2D, z2: tf.Tensor2D, temperature = 0.5): tf.Scalar {
  if (z1.shape[0] !== z2.shape[0] || z1.shape[1] !== z2.shape[1]) {
    throw new Error(`ntXentLoss: views have shapes [${z1.shape}] and [${z2.shape}]`);
  }
  if (!(temperature > 0)) throw new Error(`ntXentLoss: temperature must be > 0, got ${temperature}`);
  return tf.tidy(() => {
    const n = z1.shape[0];
    const z = l2Normalize(tf.concat([z1, z2], 0)) as tf.Tensor2D;
    const selfMask = tf.mul(tf.eye(2 * n), 1e9);
    const logits = tf.sub(tf.div(tf.matMul(z, z, false, true), temperature), selfMask);
    const twin = Array.from({ length: 2 * n }, (_, i) => (i + n) % (2 * n));
    const positives = tf.oneHot(tf.tensor1d(twin, 'int32'), 2 * n);
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), positives), 1))) as tf.Scalar;
  });
}
