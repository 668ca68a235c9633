import { z } from 'zod';

/**
 * An augmentation pipeline as JSON: an ordered list of ops applied to every view, optional multi-crop, and
 * per-view overrides (BYOL/DINO's asymmetric blur and solarize). main/augment runs it as batched tensor ops;
 * the augmentation designer edits it. Every number is bounded; parse errors name the field (`ops[2].sigma`).
 */

const prob = z.number().min(0, 'must be ≥ 0').max(1, 'must be ≤ 1');
/** A [min, max] pair inside [lo, hi] with min ≤ max. */
function range(lo: number, hi: number, { openLow = false } = {}) {
  const end = openLow
    ? z.number().gt(lo, `must be > ${lo}`).max(hi, `must be ≤ ${hi}`)
    : z.number().min(lo, `must be ≥ ${lo}`).max(hi, `must be ≤ ${hi}`);
  return z.tuple([end, end]).refine(([a, b]) => a <= b, 'min must not exceed max');
}
export const MIN_CROP = 4;
export const MAX_CROP = 1024;
const cropSize = z
  .number()
  .int('must be a whole number of pixels')
  .min(MIN_CROP, `must be ≥ ${MIN_CROP} px`)
  .max(MAX_CROP, `must be ≤ ${MAX_CROP} px`);
/** Area fraction of the source image a crop covers. */
const cropScale = range(0, 1, { openLow: true });
/** Aspect ratio w/h, sampled log-uniformly. */
const cropRatio = range(0.1, 10);

export const RandomResizedCrop = z.strictObject({
  op: z.literal('random_resized_crop'),
  size: cropSize,
  scale: cropScale.default([0.08, 1]),
  ratio: cropRatio.default([3 / 4, 4 / 3]),
});
export const HorizontalFlip = z.strictObject({ op: z.literal('horizontal_flip'), p: prob.default(0.5) });
export const ColorJitter = z.strictObject({
  op: z.literal('color_jitter'),
  /** factor ∈ [max(0, 1 − b·strength), 1 + b·strength], like torchvision */
  brightness: z.number().min(0).max(2).default(0.8),
  contrast: z.number().min(0).max(2).default(0.8),
  saturation: z.number().min(0).max(2).default(0.8),
  /** fraction of the hue circle, shift ∈ [−h·strength, h·strength], capped at 0.5 */
  hue: z.number().min(0).max(0.5).default(0.2),
  /** SimCLR's colour-distortion strength s multiplies all four */
  strength: z.number().min(0).max(2).default(1),
  p: prob.default(0.8),
});
export const RandomGrayscale = z.strictObject({ op: z.literal('random_grayscale'), p: prob.default(0.2) });
export const GaussianBlur = z.strictObject({
  op: z.literal('gaussian_blur'),
  /** standard deviation in pixels of the view, sampled uniformly */
  sigma: range(0.01, 10).default([0.1, 2]),
  p: prob.default(0.5),
});
export const Solarize = z.strictObject({
  op: z.literal('solarize'),
  /** pixels ≥ threshold (in [0,1]) are inverted */
  threshold: z.number().min(0).max(1).default(0.5),
  p: prob.default(0.2),
});

export const AugmentOp = z.discriminatedUnion('op', [
  RandomResizedCrop,
  HorizontalFlip,
  ColorJitter,
  RandomGrayscale,
  GaussianBlur,
  Solarize,
]);
export type AugmentOp = z.infer<typeof AugmentOp>;
export type AugmentOpName = AugmentOp['op'];
export const AUGMENT_OP_NAMES = [
  'random_resized_crop',
  'horizontal_flip',
  'color_jitter',
  'random_grayscale',
  'gaussian_blur',
  'solarize',
] as const satisfies readonly AugmentOpName[];

const CropGroup = z.strictObject({
  count: z.number().int().min(0).max(16),
  size: cropSize,
  scale: cropScale,
});
/** DINO multi-crop: the views are `global.count` global crops, then `local.count` local crops. */
export const MultiCrop = z
  .strictObject({ global: CropGroup, local: CropGroup })
  .refine((m) => m.global.count >= 1, { message: 'needs at least one global crop', path: ['global', 'count'] });
export type MultiCrop = z.infer<typeof MultiCrop>;

/** Which views an override targets: explicit view indices, or all globals / all locals of a multi-crop. */
const ViewTarget = z.union([z.array(z.number().int().min(0).max(31)).min(1), z.enum(['globals', 'locals'])]);

/** The op's fields without their defaults: an override sets only what it names. */
function withoutDefaults<T extends z.ZodRawShape>(shape: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(shape)) {
    out[key] = field instanceof z.ZodDefault ? field.unwrap() : field;
  }
  return out as unknown as T;
}

function overrideFor<T extends z.ZodObject>(schema: T) {
  const { op, ...params } = schema.shape;
  return z.strictObject({
    views: ViewTarget,
    op: op as z.ZodLiteral<string>,
    /** the op's parameters to replace for those views; unspecified ones keep the pipeline's value */
    set: z.strictObject(withoutDefaults(params)).partial(),
  });
}
export const ViewOverride = z.discriminatedUnion('op', [
  overrideFor(RandomResizedCrop),
  overrideFor(HorizontalFlip),
  overrideFor(ColorJitter),
  overrideFor(RandomGrayscale),
  overrideFor(GaussianBlur),
  overrideFor(Solarize),
]);
export type ViewOverride = z.infer<typeof ViewOverride>;

export const PipelineSpec = z
  .strictObject({
    version: z.literal(1).default(1),
    name: z.string().max(200).optional(),
    /** the paper the preset follows, shown in the designer */
    cites: z.string().max(500).optional(),
    /** number of views when there is no multi-crop */
    views: z.number().int().min(1).max(8).default(2),
    ops: z.array(AugmentOp).max(32),
    multiCrop: MultiCrop.optional(),
    overrides: z.array(ViewOverride).max(64).default([]),
  })
  .superRefine((spec, ctx) => {
    spec.ops.forEach((op, i) => {
      if (op.op === 'random_resized_crop' && i !== 0) {
        ctx.addIssue({ code: 'custom', path: ['ops', i, 'op'], message: 'random_resized_crop must be the first op (it sets the view size)' });
      }
    });
    const viewCount = spec.multiCrop ? spec.multiCrop.global.count + spec.multiCrop.local.count : spec.views;
    spec.overrides.forEach((o, i) => {
      if (!spec.ops.some((op) => op.op === o.op)) {
        ctx.addIssue({ code: 'custom', path: ['overrides', i, 'op'], message: `the pipeline has no ${o.op} op to override` });
      }
      if (Array.isArray(o.views)) {
        o.views.forEach((v, j) => {
          if (v >= viewCount) {
            ctx.addIssue({ code: 'custom', path: ['overrides', i, 'views', j], message: `view ${v} does not exist (the pipeline makes ${viewCount} views)` });
          }
        });
      } else if (!spec.multiCrop) {
        ctx.addIssue({ code: 'custom', path: ['overrides', i, 'views'], message: `"${o.views}" needs multiCrop` });
      }
    });
  });
export type PipelineSpec = z.infer<typeof PipelineSpec>;
export type PipelineSpecInput = z.input<typeof PipelineSpec>;

/** `ops[2].sigma[0]`: the field an issue is about, as a user would write it. */
export function issuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out ? `.${String(key)}` : String(key);
  return out || '(root)';
}

export class PipelineSpecError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid augmentation pipeline: ${issues.join('; ')}`);
    this.name = 'PipelineSpecError';
  }
}

/** Parses a spec (already-parsed JSON or a JSON string); throws PipelineSpecError naming each bad field. */
export function parsePipelineSpec(input: unknown): PipelineSpec {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (err) {
      throw new PipelineSpecError([`not valid JSON: ${err instanceof Error ? err.message : String(err)}`]);
    }
  }
  const result = PipelineSpec.safeParse(value);
  if (!result.success) throw new PipelineSpecError(result.error.issues.map((i) => `${issuePath(i.path)}: ${i.message}`));
  return result.data;
}

export const PRESET_METHODS = ['simclr', 'mocov2', 'mocov3', 'byol', 'dino'] as const;
export type PresetMethod = (typeof PRESET_METHODS)[number];

/** Images at most this size are CIFAR-like: the papers' CIFAR recipes leave Gaussian blur out (SimCLR App. B.9). */
export const SMALL_IMAGE_MAX = 64;

/**
 * DINO's local crop for a given global size: 96/224 of it, rounded up to a multiple of the ViT patch
 * (4 px up to 64 px images, 16 above) so locals tile into whole patches: 224 → 96, 32 → 16.
 */
export function localCropSize(imageSize: number): number {
  const patch = imageSize <= SMALL_IMAGE_MAX ? 4 : 16;
  return Math.max(MIN_CROP, Math.ceil((imageSize * 96) / 224 / patch) * patch);
}

/**
 * The augmentation recipe of each method's paper, at the dataset's image size. Crops follow imageSize; at
 * ≤ 64 px the blur is left out, as the papers' CIFAR experiments do.
 */
export function presetFor(method: PresetMethod, imageSize: number): PipelineSpec {
  if (!Number.isInteger(imageSize) || imageSize < MIN_CROP || imageSize > MAX_CROP) {
    throw new PipelineSpecError([`imageSize: must be a whole number from ${MIN_CROP} to ${MAX_CROP}, got ${imageSize}`]);
  }
  const small = imageSize <= SMALL_IMAGE_MAX;
  const crop = (scale: [number, number]): AugmentOp => ({ op: 'random_resized_crop', size: imageSize, scale, ratio: [3 / 4, 4 / 3] });
  const flip: AugmentOp = { op: 'horizontal_flip', p: 0.5 };
  const jitter = (b: number, c: number, s: number, h: number): AugmentOp => ({
    op: 'color_jitter', brightness: b, contrast: c, saturation: s, hue: h, strength: 1, p: 0.8,
  });
  const gray: AugmentOp = { op: 'random_grayscale', p: 0.2 };
  const blur = (p: number): AugmentOp[] => (small ? [] : [{ op: 'gaussian_blur', sigma: [0.1, 2], p }]);
  const solarize = (p: number): AugmentOp => ({ op: 'solarize', threshold: 0.5, p });
  // BYOL Table 6: blur 1.0 / 0.1 and solarize 0.0 / 0.2 on the two views.
  const byolViews = (ops: AugmentOp[]): ViewOverride[] => [
    ...(small ? [] : ([{ views: [0], op: 'gaussian_blur', set: { p: 1 } }, { views: [1], op: 'gaussian_blur', set: { p: 0.1 } }] as ViewOverride[])),
    { views: [0], op: 'solarize', set: { p: 0 } },
    { views: [1], op: 'solarize', set: { p: 0.2 } },
  ].filter((o) => ops.some((op) => op.op === o.op));

  let spec: PipelineSpecInput;
  switch (method) {
    case 'simclr':
      spec = {
        name: 'SimCLR',
        cites: 'Chen et al. 2020, SimCLR, App. A: crop 0.08–1, flip, colour jitter 0.8·s (hue 0.2·s) p 0.8, grayscale 0.2, blur p 0.5 (none on CIFAR)',
        ops: [crop([0.08, 1]), flip, jitter(0.8, 0.8, 0.8, 0.2), gray, ...blur(0.5)],
      };
      break;
    case 'mocov2':
      spec = {
        name: 'MoCo v2',
        cites: 'Chen et al. 2020, Improved Baselines with Momentum Contrastive Learning: crop 0.2–1, jitter (0.4, 0.4, 0.4, 0.1) p 0.8, grayscale 0.2, blur p 0.5, flip',
        ops: [crop([0.2, 1]), jitter(0.4, 0.4, 0.4, 0.1), gray, ...blur(0.5), flip],
      };
      break;
    case 'mocov3':
    case 'byol': {
      const ops = [crop([0.08, 1]), flip, jitter(0.4, 0.4, 0.2, 0.1), gray, ...blur(1), solarize(0.2)];
      spec = {
        name: method === 'byol' ? 'BYOL' : 'MoCo v3',
        cites:
          method === 'byol'
            ? 'Grill et al. 2020, BYOL, Table 6: crop 0.08–1, flip, jitter (0.4, 0.4, 0.2, 0.1) p 0.8, grayscale 0.2, blur p 1.0/0.1, solarize p 0.0/0.2 per view'
            : 'Chen, Xie, He 2021, MoCo v3, §4: BYOL’s augmentations (blur 1.0/0.1, solarize 0/0.2 per view), crop 0.08–1',
        ops,
        overrides: byolViews(ops),
      };
      break;
    }
    case 'dino': {
      const local = localCropSize(imageSize);
      const ops = [crop([0.4, 1]), flip, jitter(0.4, 0.4, 0.2, 0.1), gray, ...blur(1), solarize(0.2)];
      spec = {
        name: 'DINO',
        cites: `Caron et al. 2021, DINO, §3.1/App. D: 2 global crops (0.4–1) + 8 local crops (0.05–0.4) at ${imageSize}/${local} px (224/96 in the paper); blur 1.0 / 0.1 / 0.5 (locals), solarize 0.2 on the second global`,
        ops,
        multiCrop: { global: { count: 2, size: imageSize, scale: [0.4, 1] }, local: { count: 8, size: local, scale: [0.05, 0.4] } },
        overrides: [
          ...(small
            ? []
            : ([
                { views: [0], op: 'gaussian_blur', set: { p: 1 } },
                { views: [1], op: 'gaussian_blur', set: { p: 0.1 } },
                { views: 'locals', op: 'gaussian_blur', set: { p: 0.5 } },
              ] as ViewOverride[])),
          { views: [0], op: 'solarize', set: { p: 0 } },
          { views: [1], op: 'solarize', set: { p: 0.2 } },
          { views: 'locals', op: 'solarize', set: { p: 0 } },
        ],
      };
      break;
    }
  }
  return PipelineSpec.parse(spec);
}
