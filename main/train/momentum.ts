import * as tf from '@tensorflow/tfjs';
import type { Module } from './nn/module.js';

/**
 * The one EMA helper used by MoCo, BYOL and DINO: target ← m·target + (1 − m)·online, for every parameter AND
 * every buffer, paired by name. Buffers are EMA'd rather than copied: the target network normalises with batch
 * statistics but never folds them into its running statistics (its forward runs with updateStats: false), so
 * its running mean/var — used only at evaluation — are exactly the EMA of the online ones, and the target
 * changes through this function alone.
 */
export function updateMomentum(online: Module, target: Module, m: number): void {
  if (!(m >= 0 && m <= 1)) throw new Error(`momentum must be in [0, 1], got ${m}`);
  const onlineVars = new Map([...online.namedParameters(), ...online.namedBuffers()]);
  const targetVars = [...target.namedParameters(), ...target.namedBuffers()];
  if (targetVars.length !== onlineVars.size) throw new Error('updateMomentum: online and target differ in structure');
  tf.tidy(() => {
    for (const [name, t] of targetVars) {
      const o = onlineVars.get(name);
      if (!o || o.size !== t.size) throw new Error(`updateMomentum: no online counterpart for "${name}"`);
      t.assign(tf.add(tf.mul(t, m), tf.mul(o, 1 - m)));
    }
  });
}

/**
 * Makes target an exact copy of online (the start of every momentum encoder), on the device: no readback, so it
 * works on backends that can only read asynchronously (webgpu in Node).
 */
export function copyWeights(online: Module, target: Module): void {
  const onlineVars = new Map([...online.namedParameters(), ...online.namedBuffers()]);
  const targetVars = [...target.namedParameters(), ...target.namedBuffers()];
  if (targetVars.length !== onlineVars.size) throw new Error('copyWeights: online and target differ in structure');
  for (const [name, t] of targetVars) {
    const o = onlineVars.get(name);
    if (!o || o.shape.length !== t.shape.length || o.shape.some((d, i) => d !== t.shape[i])) {
      throw new Error(`copyWeights: no online counterpart of the same shape for "${name}"`);
    }
  }
  tf.tidy(() => {
    for (const [name, t] of targetVars) t.assign(tf.clone(onlineVars.get(name)!));
  });
}

/**
 * BYOL's target decay: "τ = 1 − (1 − τbase)·(cos(πk/K) + 1)/2 … τbase = 0.996", rising to 1 at the last step.
 * DINO uses the same schedule (0.996 → 1), MoCo v3 from 0.99; MoCo v2 keeps 0.999 constant.
 */
export function cosineMomentum(step: number, totalSteps: number, base = 0.996, final = 1): number {
  if (totalSteps <= 0) return base;
  const k = Math.min(Math.max(step, 0), totalSteps);
  return final - (final - base) * (Math.cos((Math.PI * k) / totalSteps) + 1) / 2;
}
