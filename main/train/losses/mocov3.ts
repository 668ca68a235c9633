import * as tf from '@tensorflow/tfjs';
import { l2Normalize } from '../nn/layers.js';

/** ctr(q, k) = CE(q·kᵀ/τ, diag) · 2τ, with the other keys in the batch as negatives (MoCo v3's official code). */
function contrastive(q: tf.Tensor2D, k: tf.Tensor2D, temperature: number): tf.Scalar {
  const n = q.shape[0];
  const logits = tf.div(tf.matMul(l2Normalize(q) as tf.Tensor2D, l2Normalize(k) as tf.Tensor2D, false, true), temperature);
  const diag = tf.eye(n);
  return tf.mul(tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), diag), 1))), 2 * temperature) as tf.Scalar;
}

/**
 * MoCo v3 (Chen, Xie, He 2021): "we use a symmetrized loss: ctr(q1, k2) + ctr(q2, k1)", keys from the momentum
 * encoder of the same batch, no queue, τ = 0.2 (ViT) / 1.0 (ResNet). q1, q2: predictor outputs [N, C] for views
 * 1 and 2; k1, k2: momentum projector outputs [N, C]. Returns a scalar.
 */
export function mocoV3Loss(q1: tf.Tensor2D, q2: tf.Tensor2D, k1: tf.Tensor2D, k2: tf.Tensor2D, temperature = 0.2): tf.Scalar {
  for (const t of [q2, k1, k2]) {
    if (t.shape[0] !== q1.shape[0] || t.shape[1] !== q1.shape[1]) throw new Error('mocoV3Loss: all inputs must be [N, C]');
  }
  if (!(temperature > 0)) throw new Error(`mocoV3Loss: temperature must be > 0, got ${temperature}`);
  return tf.tidy(() => tf.add(contrastive(q1, k2, temperature), contrastive(q2, k1, temperature)) as tf.Scalar);
}
