import { AUGMENT_OP_NAMES, type AugmentOp } from '../../../../shared/contract/index.js';

export type OpName = (typeof AUGMENT_OP_NAMES)[number];
export const OP_NAMES = AUGMENT_OP_NAMES;

/** One editable parameter: a number, or a [min, max] pair. Bounds are the contract's; the schema has the last word. */
export interface FieldDef {
  key: string;
  label: string;
  kind: 'number' | 'range';
  step: number;
  min: number;
  max: number;
  hint?: string;
}

export const OP_LABELS: Record<OpName, string> = {
  random_resized_crop: 'Random resized crop',
  horizontal_flip: 'Horizontal flip',
  color_jitter: 'Colour jitter',
  random_grayscale: 'Random grayscale',
  gaussian_blur: 'Gaussian blur',
  solarize: 'Solarize',
};

const p: FieldDef = { key: 'p', label: 'probability', kind: 'number', step: 0.05, min: 0, max: 1 };

export const OP_FIELDS: Record<OpName, FieldDef[]> = {
  random_resized_crop: [
    { key: 'size', label: 'size px', kind: 'number', step: 1, min: 4, max: 1024, hint: 'output size; follows the image size' },
    { key: 'scale', label: 'scale (area)', kind: 'range', step: 0.01, min: 0, max: 1 },
    { key: 'ratio', label: 'aspect ratio', kind: 'range', step: 0.01, min: 0.1, max: 10 },
  ],
  horizontal_flip: [p],
  color_jitter: [
    { key: 'strength', label: 'strength s', kind: 'number', step: 0.1, min: 0, max: 2, hint: 'SimCLR’s colour-distortion strength; scales all four' },
    { key: 'brightness', label: 'brightness', kind: 'number', step: 0.05, min: 0, max: 2 },
    { key: 'contrast', label: 'contrast', kind: 'number', step: 0.05, min: 0, max: 2 },
    { key: 'saturation', label: 'saturation', kind: 'number', step: 0.05, min: 0, max: 2 },
    { key: 'hue', label: 'hue', kind: 'number', step: 0.01, min: 0, max: 0.5 },
    p,
  ],
  random_grayscale: [p],
  gaussian_blur: [{ key: 'sigma', label: 'sigma px', kind: 'range', step: 0.1, min: 0.01, max: 10 }, p],
  solarize: [{ key: 'threshold', label: 'threshold', kind: 'number', step: 0.05, min: 0, max: 1 }, p],
};

/** A new op with the papers' usual values (SimCLR's where it has them). */
export function newOp(op: OpName, imageSize: number): AugmentOp {
  switch (op) {
    case 'random_resized_crop':
      return { op, size: imageSize, scale: [0.08, 1], ratio: [3 / 4, 4 / 3] };
    case 'horizontal_flip':
      return { op, p: 0.5 };
    case 'color_jitter':
      return { op, brightness: 0.8, contrast: 0.8, saturation: 0.8, hue: 0.2, strength: 1, p: 0.8 };
    case 'random_grayscale':
      return { op, p: 0.2 };
    case 'gaussian_blur':
      return { op, sigma: [0.1, 2], p: 0.5 };
    case 'solarize':
      return { op, threshold: 0.5, p: 0.2 };
  }
}
