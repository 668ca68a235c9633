import * as tf from '@tensorflow/tfjs';
import type { PipelineSpec, PipelineSpecInput } from '../../shared/contract/augment.js';
import { toBytes } from './bytes.js';
import { augmentBatch } from './ops.js';
import type { AugmentRound } from './preview-thread.js';

/**
 * The preview's augmentation, one augmentBatch call per round, each view returned as 8-bit RGB. The same code
 * runs on the preview worker and, where there is no worker, on the calling thread.
 */
export async function augmentRounds(
  pixels: Float32Array,
  shape: [number, number, number, 3],
  spec: PipelineSpec | PipelineSpecInput,
  wanted: readonly AugmentRound[],
): Promise<Uint8Array[][]> {
  const x = tf.tensor4d(pixels, shape);
  try {
    const rounds: Uint8Array[][] = [];
    for (const { seed, views: only } of wanted) {
      const views = augmentBatch(x, spec, seed, { only });
      try {
        rounds.push(await Promise.all(views.map(async (v) => {
          const data = (await v.data()) as Float32Array;
          return toBytes(data, 0, data.length, 3);
        })));
      } finally {
        tf.dispose(views);
      }
    }
    return rounds;
  } finally {
    x.dispose();
  }
}
