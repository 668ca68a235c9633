import type { AugmentOp, PipelineSpec } from '../../shared/contract/augment.js';
import { mulberry32 } from '../common/random.js';

/**
 * The CPU half of augmentation: every random choice for a batch, drawn from seeded generators. The tensor half
 * (ops.ts) only applies these numbers, so a seed fixes the pixels on any backend.
 *
 * Each (view, op position) gets its own stream, so changing one op's parameters in the designer changes only
 * that op's draws, not every op after it.
 */

export type ViewKind = 'view' | 'global' | 'local';

/** One view's recipe: the crop (if any) and the remaining ops with per-view overrides applied. */
export interface ViewPlan {
  index: number;
  kind: ViewKind;
  crop: { size: number; scale: [number, number]; ratio: [number, number] } | null;
  ops: Exclude<AugmentOp, { op: 'random_resized_crop' }>[];
}

const DEFAULT_RATIO: [number, number] = [3 / 4, 4 / 3];

export function planViews(spec: PipelineSpec): ViewPlan[] {
  const cropOp = spec.ops.find((o) => o.op === 'random_resized_crop');
  const rest = spec.ops.filter((o): o is ViewPlan['ops'][number] => o.op !== 'random_resized_crop');
  const plans: ViewPlan[] = [];
  if (spec.multiCrop) {
    const ratio = cropOp?.ratio ?? DEFAULT_RATIO;
    const { global, local } = spec.multiCrop;
    for (let i = 0; i < global.count; i++) plans.push({ index: plans.length, kind: 'global', crop: { size: global.size, scale: global.scale, ratio }, ops: rest });
    for (let i = 0; i < local.count; i++) plans.push({ index: plans.length, kind: 'local', crop: { size: local.size, scale: local.scale, ratio }, ops: rest });
  } else {
    for (let i = 0; i < spec.views; i++) {
      plans.push({ index: i, kind: 'view', crop: cropOp ? { size: cropOp.size, scale: cropOp.scale, ratio: cropOp.ratio } : null, ops: rest });
    }
  }
  for (const plan of plans) {
    for (const o of spec.overrides) {
      const hit = Array.isArray(o.views) ? o.views.includes(plan.index) : (o.views === 'globals') === (plan.kind === 'global') && plan.kind !== 'view';
      if (!hit) continue;
      if (o.op === 'random_resized_crop') {
        if (plan.crop) plan.crop = { ...plan.crop, ...(o.set as Partial<NonNullable<ViewPlan['crop']>>) };
        continue;
      }
      plan.ops = plan.ops.map((op) => (op.op === o.op ? ({ ...op, ...o.set } as typeof op) : op));
    }
  }
  return plans;
}

/** A well-mixed 32-bit seed for stream (seed, view, slot); mulberry32 seeded with neighbours would correlate. */
export function streamSeed(seed: number, view: number, slot: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ Math.imul(view + 1, 0xc2b2ae35), 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 15) ^ Math.imul(slot + 1, 0x165667b1), 0x85ebca6b);
  return (h ^ (h >>> 16)) >>> 0;
}

export interface CropBoxes {
  /** [n, 4] normalised y1, x1, y2, x2 in tf.image.cropAndResize's convention (0 and 1 are the edge pixel centres) */
  boxes: Float32Array;
}

/**
 * torchvision's RandomResizedCrop sampling: up to 10 tries of (area fraction, log-uniform aspect ratio) that fit
 * the image, else a centre crop at the nearest allowed ratio.
 */
export function sampleCropBoxes(
  n: number,
  height: number,
  width: number,
  scale: [number, number],
  ratio: [number, number],
  rand: () => number,
): Float32Array {
  const boxes = new Float32Array(n * 4);
  const area = height * width;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let b = 0; b < n; b++) {
    let h = 0;
    let w = 0;
    let top = 0;
    let left = 0;
    let found = false;
    for (let attempt = 0; attempt < 10 && !found; attempt++) {
      const target = area * (scale[0] + rand() * (scale[1] - scale[0]));
      const aspect = Math.exp(logLo + rand() * (logHi - logLo));
      w = Math.round(Math.sqrt(target * aspect));
      h = Math.round(Math.sqrt(target / aspect));
      if (w > 0 && h > 0 && w <= width && h <= height) {
        top = Math.floor(rand() * (height - h + 1));
        left = Math.floor(rand() * (width - w + 1));
        found = true;
      }
    }
    if (!found) {
      const aspect = width / height;
      if (aspect < ratio[0]) {
        w = width;
        h = Math.round(w / ratio[0]);
      } else if (aspect > ratio[1]) {
        h = height;
        w = Math.round(h * ratio[1]);
      } else {
        w = width;
        h = height;
      }
      h = Math.max(1, Math.min(h, height));
      w = Math.max(1, Math.min(w, width));
      top = Math.floor((height - h) / 2);
      left = Math.floor((width - w) / 2);
    }
    boxes[b * 4] = height > 1 ? top / (height - 1) : 0;
    boxes[b * 4 + 1] = width > 1 ? left / (width - 1) : 0;
    boxes[b * 4 + 2] = height > 1 ? (top + h - 1) / (height - 1) : 0;
    boxes[b * 4 + 3] = width > 1 ? (left + w - 1) / (width - 1) : 0;
  }
  return boxes;
}

/** Per-image draws for one op: `apply` 1/0 and the op's numbers, each a length-n array. */
export type OpDraws =
  | { op: 'horizontal_flip'; apply: Float32Array }
  | { op: 'random_grayscale'; apply: Float32Array }
  | { op: 'solarize'; apply: Float32Array; threshold: number }
  | { op: 'gaussian_blur'; apply: Float32Array; sigma: Float32Array }
  | {
      op: 'color_jitter';
      apply: Float32Array;
      brightness: Float32Array;
      contrast: Float32Array;
      saturation: Float32Array;
      hue: Float32Array;
      /** the order the four adjustments run in, for this batch and view (torchvision shuffles it) */
      order: ('brightness' | 'contrast' | 'saturation' | 'hue')[];
    };

export function drawOp(op: ViewPlan['ops'][number], n: number, rand: () => number): OpDraws {
  const coin = (p: number) => Float32Array.from({ length: n }, () => (rand() < p ? 1 : 0));
  switch (op.op) {
    case 'horizontal_flip':
      return { op: op.op, apply: coin(op.p) };
    case 'random_grayscale':
      return { op: op.op, apply: coin(op.p) };
    case 'solarize':
      return { op: op.op, apply: coin(op.p), threshold: op.threshold };
    case 'gaussian_blur': {
      const apply = coin(op.p);
      const sigma = Float32Array.from({ length: n }, () => op.sigma[0] + rand() * (op.sigma[1] - op.sigma[0]));
      return { op: op.op, apply, sigma };
    }
    case 'color_jitter': {
      const apply = coin(op.p);
      const s = op.strength;
      const factor = (amount: number) => {
        const lo = Math.max(0, 1 - amount * s);
        const hi = 1 + amount * s;
        return Float32Array.from({ length: n }, (_, i) => {
          const f = lo + rand() * (hi - lo);
          return apply[i] ? f : 1;
        });
      };
      const brightness = factor(op.brightness);
      const contrast = factor(op.contrast);
      const saturation = factor(op.saturation);
      const h = Math.min(0.5, op.hue * s);
      const hue = Float32Array.from({ length: n }, (_, i) => {
        const v = -h + rand() * 2 * h;
        return apply[i] ? v : 0;
      });
      const order: ('brightness' | 'contrast' | 'saturation' | 'hue')[] = ['brightness', 'contrast', 'saturation', 'hue'];
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      return { op: op.op, apply, brightness, contrast, saturation, hue, order };
    }
  }
}

export interface ViewDraws {
  plan: ViewPlan;
  boxes: Float32Array | null;
  ops: OpDraws[];
}

/** Every random number one augmentBatch call needs, for n images of height×width. */
export function drawBatch(spec: PipelineSpec, n: number, height: number, width: number, seed: number): ViewDraws[] {
  return planViews(spec).map((plan) => {
    const boxes = plan.crop
      ? sampleCropBoxes(n, height, width, plan.crop.scale, plan.crop.ratio, mulberry32(streamSeed(seed, plan.index, 0)))
      : null;
    const ops = plan.ops.map((op, i) => drawOp(op, n, mulberry32(streamSeed(seed, plan.index, i + 1))));
    return { plan, boxes, ops };
  });
}
