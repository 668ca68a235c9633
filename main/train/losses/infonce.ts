import * as tf from '@tensorflow/tfjs';
import { l2Normalize } from '../nn/layers.js';

/**
 * InfoNCE with a memory queue, MoCo (He et al. 2020; v2: Chen et al. 2020, τ = 0.2): "a query q matches a key
 * k+ … contrasted with the keys in the queue". q, k: [N, C] query and momentum-key embeddings (normalised here);
 * queue: [K, C] earlier keys, already unit length. Logits [N, 1 + K] = [q·k+, q·queue] / τ, label 0; mean over N.
 */
export function infoNceLoss(q: tf.Tensor2D, k: tf.Tensor2D, queue: tf.Tensor2D, temperature = 0.2): tf.Scalar {
  if (q.shape[0] !== k.shape[0] || q.shape[1] !== k.shape[1] || queue.shape[1] !== q.shape[1]) {
    throw new Error(`infoNceLoss: q [${q.shape}], k [${k.shape}] and queue [${queue.shape}] disagree`);
  }
  if (!(temperature > 0)) throw new Error(`infoNceLoss: temperature must be > 0, got ${temperature}`);
  return tf.tidy(() => {
    const qn = l2Normalize(q) as tf.Tensor2D;
    const kn = l2Normalize(k) as tf.Tensor2D;
    const positive = tf.sum(tf.mul(qn, kn), 1, true);
    const negatives = tf.matMul(qn, queue, false, true);
    const logits = tf.div(tf.concat([positive, negatives], 1), temperature);
    const logProbs = tf.logSoftmax(logits);
    return tf.neg(tf.mean(tf.slice(logProbs, [0, 0], [-1, 1]))) as tf.Scalar;
  });
}
