import * as tf from '@tensorflow/tfjs';
import { l2Normalize } from '../nn/layers.js';

/** ‖p̄ − z̄‖² = 2 − 2·cos(p, z) per row, mean over the batch. p, z: [N, C]. */
export function normalizedMse(p: tf.Tensor2D, z: tf.Tensor2D): tf.Scalar {
  if (p.shape[0] !== z.shape[0] || p.shape[1] !== z.shape[1]) throw new Error(`normalizedMse: [${p.shape}] vs [${z.shape}]`);
  return tf.tidy(() => {
    const cos = tf.sum(tf.mul(l2Normalize(p), l2Normalize(z)), 1);
    return tf.mean(tf.sub(2, tf.mul(cos, 2))) as tf.Scalar;
  });
}

/**
 * BYOL (Grill et al. 2020): "we define the following mean squared error between the normalized predictions and
 * target projections … symmetrize the loss by separately feeding v′ to the online network and v to the target",
 * L = ‖q̄(z1) − z̄′2‖² + ‖q̄(z2) − z̄′1‖². p1, p2: online predictions [N, C]; z1, z2: target projections [N, C].
 * Returns a scalar in [0, 8].
 */
export function byolLoss(p1: tf.Tensor2D, p2: tf.Tensor2D, z1: tf.Tensor2D, z2: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.add(normalizedMse(p1, z2), normalizedMse(p2, z1)) as tf.Scalar);
}
