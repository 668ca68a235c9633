import * as tf from '@tensorflow/tfjs';
import { parsePipelineSpec, type PipelineSpec, type PipelineSpecInput } from '../../shared/contract/augment.js';
import { drawBatch, planViews, type OpDraws, type ViewKind } from './params.js';

/**
 * Augmentation as batched tensor ops on the active tfjs backend. Images are NHWC float32 in [0, 1]; random
 * parameters come from params.ts (seeded, on the CPU) and are applied per image with broadcast factors, so one
 * kernel launch serves the whole batch.
 */

/** ITU-R BT.601 luma, as torchvision's rgb_to_grayscale. */
const LUMA = [0.299, 0.587, 0.114] as const;

/**
 * The views of a batch for `seed`. `only` computes just those view indices (in that order): each view draws from
 * its own seeded streams, so a view's pixels are the same whichever others are computed (the designer's preview
 * shows 2 of DINO's 8 local crops and need not make the other 6).
 */
export function augmentBatch(
  images: tf.Tensor4D,
  spec: PipelineSpec | PipelineSpecInput,
  seed: number,
  { only }: { only?: readonly number[] } = {},
): tf.Tensor4D[] {
  const parsed = parsePipelineSpec(spec);
  if (images.rank !== 4 || images.shape[3] !== 3) {
    throw new Error(`augmentBatch expects NHWC RGB images [n, h, w, 3], got shape [${images.shape.join(', ')}]`);
  }
  if (images.dtype !== 'float32') throw new Error(`augmentBatch expects float32 images in [0, 1], got ${images.dtype}`);
  if (!Number.isInteger(seed)) throw new Error(`augmentBatch seed must be an integer, got ${seed}`);
  const [n, h, w] = images.shape;
  const all = drawBatch(parsed, n, h, w, seed);
  const draws = only
    ? only.map((v) => {
        const d = all[v];
        if (!d || !Number.isInteger(v)) throw new Error(`augmentBatch: view ${v} does not exist (the pipeline makes ${all.length} views)`);
        return d;
      })
    : all;
  return draws.map(({ plan, boxes, ops }) =>
    tf.tidy(() => {
      const flip = flipMask(ops, n);
      let v: tf.Tensor4D = images;
      if ((plan.crop && boxes) || flip) {
        // A horizontal flip commutes with every op after the crop (they are per pixel, or per image like the
        // contrast mean, or a symmetric blur with reflected borders), so it is done by the crop itself: a box
        // with x1 > x2 samples the same points right to left. One gather instead of a crop plus a reverse.
        const [ch, cw] = plan.crop ? [plan.crop.size, plan.crop.size] : [h, w];
        const b = plan.crop && boxes ? safeBoxes(boxes, plan.crop.size, h, w) : wholeBoxes(n);
        if (flip) mirrorBoxes(b, flip);
        const boxInd = tf.range(0, n, 1, 'int32') as tf.Tensor1D;
        v = tf.image.cropAndResize(v, tf.tensor2d(b, [n, 4]), boxInd, [ch, cw], 'bilinear');
      }
      for (const d of ops) v = applyOp(v, d);
      return v === images ? v.clone() : v;
    }),
  );
}

/** Which images end up mirrored: the parity of all the view's horizontal_flip draws; null when none is. */
function flipMask(ops: OpDraws[], n: number): Uint8Array | null {
  const mask = new Uint8Array(n);
  for (const d of ops) if (d.op === 'horizontal_flip') for (let b = 0; b < n; b++) mask[b]! ^= d.apply[b] ? 1 : 0;
  return mask.includes(1) ? mask : null;
}

/** [0, 0, 1, 1] per image: the whole image at its own size samples exactly the pixel centres (a copy). */
function wholeBoxes(n: number): Float32Array {
  const out = new Float32Array(n * 4);
  for (let b = 0; b < n; b++) out.set([0, 0, 1, 1], b * 4);
  return out;
}

/**
 * Swaps x1 and x2 of the flipped images' boxes. The mirrored box's last sample is computed as x2·(W − 1) plus
 * (cropW − 1) negative steps, which can land a rounding error below 0 where the cpu backend extrapolates a black
 * column; a left edge at 0 is moved in by 1e-6 (under 1e-4 px). The whole-image box keeps its exact ends: its
 * steps are exactly −1 px.
 */
function mirrorBoxes(boxes: Float32Array, flip: Uint8Array): void {
  for (let b = 0; b < flip.length; b++) {
    if (!flip[b]) continue;
    const x1 = boxes[b * 4 + 1]!;
    const x2 = boxes[b * 4 + 3]!;
    const whole = x1 === 0 && x2 === 1;
    boxes[b * 4 + 1] = x2;
    boxes[b * 4 + 3] = whole ? 0 : Math.max(x1, 1e-6);
  }
}

/** What each view of a spec is, for callers that label or group them (the designer shows globals and locals apart). */
export function describeViews(spec: PipelineSpec | PipelineSpecInput, imageSize: number): { kind: ViewKind; size: number }[] {
  return planViews(parsePipelineSpec(spec)).map((p) => ({ kind: p.kind, size: p.crop?.size ?? imageSize }));
}

/**
 * Keeps boxes where every backend samples the same points. Two traps in tf.image.cropAndResize:
 * - The last sample of a box ending at 1 lands at (H − 1)·(1 + ε) after float32 rounding; cpu then returns the
 *   extrapolation value 0 for that whole row while wasm clamps, so one backend shows a black edge.
 * - tfjs-backend-wasm 4.22 gets a box that ends at the bottom edge and spans the full width wrong: it floors the
 *   rows instead of interpolating them ([1/7, 0, 1, 1] at 8 px returns rows 1, 1, 2, … where 1, 1.86, 2.71, … are due).
 * Pulling y2 and x2 in by 1e-6 (a shift under 1e-3 px) avoids both. A box that is the whole image at the image's
 * own size is a plain copy and stays as it is.
 */
function safeBoxes(boxes: Float32Array, cropSize: number, height: number, width: number): Float32Array {
  const out = boxes.slice();
  const copy = cropSize === height && cropSize === width;
  for (let b = 0; b < out.length; b += 4) {
    if (copy && out[b] === 0 && out[b + 1] === 0 && out[b + 2] === 1 && out[b + 3] === 1) continue;
    out[b + 2] = Math.min(out[b + 2]!, 1 - 1e-6);
    out[b + 3] = Math.min(out[b + 3]!, 1 - 1e-6);
  }
  return out;
}

/**
 * Per image, `chosen` where apply is 1, else `other`, as other·(1 − m) + chosen·m: exact for m ∈ {0, 1}, and
 * several times faster on wasm than tf.where with a broadcast [n, 1, 1, 1] condition (measured on 2 cores).
 */
function select(apply: Float32Array, chosen: tf.Tensor4D, other: tf.Tensor4D): tf.Tensor4D {
  if (apply.every((a) => a === 1)) return chosen;
  const m = perImage(apply);
  return tf.add(tf.mul(other, tf.sub(1, m)), tf.mul(chosen, m)) as tf.Tensor4D;
}

function perImage(values: Float32Array): tf.Tensor4D {
  return tf.tensor4d(values, [values.length, 1, 1, 1]);
}

/** Luma as a 1×1 convolution: one pass over the pixels, where mul + sum over channels is two. */
function luma(x: tf.Tensor4D, channels: 1 | 3 = 1): tf.Tensor4D {
  const weights = LUMA.flatMap((l) => Array<number>(channels).fill(l));
  return tf.conv2d(x, tf.tensor4d(weights, [1, 1, 3, channels]), 1, 'valid');
}

function any(apply: Float32Array): boolean {
  return apply.some((a) => a !== 0);
}

function applyOp(x: tf.Tensor4D, d: OpDraws): tf.Tensor4D {
  if (!any(d.apply)) return x;
  switch (d.op) {
    case 'horizontal_flip':
      return x; // done by the crop (flipMask in augmentBatch)
    case 'random_grayscale':
      // luma written to all three output channels by the convolution itself (tf.tile is slow on wasm)
      return select(d.apply, luma(x, 3), x);
    case 'solarize':
      return select(d.apply, tf.where(tf.greaterEqual(x, d.threshold), tf.sub(1, x) as tf.Tensor4D, x), x);
    case 'gaussian_blur':
      return gaussianBlur(x, d.apply, d.sigma);
    case 'color_jitter':
      return colorJitter(x, d);
  }
}

function colorJitter(x: tf.Tensor4D, d: Extract<OpDraws, { op: 'color_jitter' }>): tf.Tensor4D {
  let v = x;
  for (const step of d.order) {
    switch (step) {
      case 'brightness':
        v = tf.clipByValue(tf.mul(v, perImage(d.brightness)), 0, 1) as tf.Tensor4D;
        break;
      // (v − m)·f + m written as v·f + m·(1 − f): one pass over the pixels fewer, and exactly v where f = 1
      case 'contrast': {
        const mean = tf.mean(luma(v), [1, 2, 3], true) as tf.Tensor4D;
        v = blendClip(v, mean, d.contrast);
        break;
      }
      case 'saturation':
        v = blendClip(v, luma(v), d.saturation);
        break;
      case 'hue':
        if (d.hue.some((hh) => hh !== 0)) v = tf.clipByValue(hueRotate(v, d.hue), 0, 1);
        break;
    }
  }
  return v;
}

/** clip(v·f + toward·(1 − f), 0, 1) with a factor f per image. */
function blendClip(v: tf.Tensor4D, toward: tf.Tensor4D, factors: Float32Array): tf.Tensor4D {
  const f = perImage(factors);
  return tf.clipByValue(tf.add(tf.mul(v, f), tf.mul(toward, tf.sub(1, f))), 0, 1) as tf.Tensor4D;
}

// RGB ↔ YIQ (NTSC). A hue shift is a rotation of the (I, Q) chroma plane; luma Y is kept.
const RGB2YIQ = [
  [0.299, 0.587, 0.114],
  [0.595716, -0.274453, -0.321263],
  [0.211456, -0.522591, 0.311135],
];
const YIQ2RGB = invert3(RGB2YIQ);

/** Per-image 3×3 colour matrices M = YIQ⁻¹·R(2π·hue)·YIQ, applied as one batched matMul. */
function hueRotate(x: tf.Tensor4D, hue: Float32Array): tf.Tensor4D {
  const [n, h, w] = x.shape;
  const mats = new Float32Array(n * 9);
  for (let b = 0; b < n; b++) {
    const t = hue[b]! * 2 * Math.PI;
    // Row-vector form: out = in · Mᵀ, so store Mᵀ.
    const m = hue[b] === 0 ? identity3() : mul3(YIQ2RGB, mul3(rotationIQ(t), RGB2YIQ));
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) mats[b * 9 + i * 3 + j] = m[j]![i]!;
  }
  const flat = tf.reshape(x, [n, h * w, 3]) as tf.Tensor3D;
  return tf.reshape(tf.matMul(flat, tf.tensor3d(mats, [n, 3, 3])), [n, h, w, 3]) as tf.Tensor4D;
}

/**
 * Separable Gaussian blur with a different sigma per image: the batch is folded into channels ([1, h, w, n·3])
 * so one depthwise conv per axis applies each image's own kernel. Reflect padding keeps borders bright.
 * Images not selected get a delta kernel (exact identity).
 */
function gaussianBlur(x: tf.Tensor4D, apply: Float32Array, sigma: Float32Array): tf.Tensor4D {
  const [n, h, w] = x.shape;
  let maxSigma = 0;
  for (let b = 0; b < n; b++) if (apply[b]) maxSigma = Math.max(maxSigma, sigma[b]!);
  const radius = Math.min(Math.ceil(3 * maxSigma), h - 1, w - 1);
  if (radius < 1) return x;
  const k = 2 * radius + 1;
  const weights = new Float32Array(k * n * 3);
  for (let b = 0; b < n; b++) {
    const taps = new Float64Array(k);
    if (apply[b]) {
      const s = sigma[b]!;
      let total = 0;
      for (let i = 0; i < k; i++) {
        const d = i - radius;
        taps[i] = Math.exp(-(d * d) / (2 * s * s));
        total += taps[i]!;
      }
      for (let i = 0; i < k; i++) taps[i]! /= total;
    } else {
      taps[radius] = 1;
    }
    for (let i = 0; i < k; i++) for (let c = 0; c < 3; c++) weights[i * n * 3 + b * 3 + c] = taps[i]!;
  }
  const folded = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [1, h, w, n * 3]) as tf.Tensor4D;
  const padded = tf.mirrorPad(folded, [[0, 0], [radius, radius], [radius, radius], [0, 0]], 'reflect');
  const across = tf.depthwiseConv2d(padded, tf.tensor4d(weights, [1, k, n * 3, 1]), 1, 'valid');
  const down = tf.depthwiseConv2d(across, tf.tensor4d(weights, [k, 1, n * 3, 1]), 1, 'valid');
  return tf.transpose(tf.reshape(down, [h, w, n, 3]), [2, 0, 1, 3]) as tf.Tensor4D;
}

type M3 = number[][];
function identity3(): M3 {
  return [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
}
function rotationIQ(t: number): M3 {
  const c = Math.cos(t);
  const s = Math.sin(t);
  return [
    [1, 0, 0],
    [0, c, -s],
    [0, s, c],
  ];
}
function mul3(a: M3, b: M3): M3 {
  return a.map((row) => [0, 1, 2].map((j) => row[0]! * b[0]![j]! + row[1]! * b[1]![j]! + row[2]! * b[2]![j]!));
}
function invert3(m: M3): M3 {
  const [[a, b, c], [d, e, f], [g, h, i]] = m as [[number, number, number], [number, number, number], [number, number, number]];
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
}
