import type { AugmentOp, PipelineSpec, PresetMethod } from './augment.js';
import { PRESET_METHODS } from './augment.js';

/**
 * The designer's checks, shared by the Augmentations page and `curio augment preview`: a strength readout per
 * op and warnings for pipelines the papers' ablations show to hurt. Pure functions of a parsed spec.
 *
 * Strength formulas (each a number where 0 means "does nothing"):
 * - random_resized_crop / multi-crop: 1 − E[area], E[area] = (scale₀ + scale₁)/2, the mean of the uniformly drawn
 *   area fraction (torchvision's sampling; the rare centre-crop fallback is ignored).
 * - horizontal_flip, random_grayscale: p.
 * - color_jitter: p · s · (b + c + sat + 4·hue)/3.2. At SimCLR's amounts (0.8, 0.8, 0.8, 0.2) this is p·s, SimCLR's
 *   colour-distortion strength s times how often it applies.
 * - gaussian_blur: p · E[σ] / view size, E[σ] = (σ₀ + σ₁)/2, the expected blur radius as a share of the view
 *   (shown with p·E[σ] in pixels).
 * - solarize: p · (1 − threshold), the expected share of a uniform intensity range that gets inverted.
 * Per-view overrides (BYOL/DINO) enter through the mean of the op's p over the views.
 */

export interface OpStrength {
  /** index in spec.ops, or -1 for the multi-crop block */
  index: number;
  op: AugmentOp['op'] | 'multi_crop';
  value: number;
  /** what the number means, for a tooltip or the CLI */
  detail: string;
}

export interface PipelineWarning {
  code: 'no-crop' | 'no-color-jitter' | 'no-local-crops' | 'no-views';
  message: string;
  /** the paper's ablation, in one line */
  cites: string;
}

const PRESET_NAMES: Record<PresetMethod, string> = { simclr: 'SimCLR', mocov2: 'MoCo v2', mocov3: 'MoCo v3', byol: 'BYOL', dino: 'DINO' };

/** The preset a spec's name refers to ("SimCLR" → simclr), or null. */
export function methodFromName(name: string | undefined): PresetMethod | null {
  if (!name) return null;
  const key = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  for (const m of PRESET_METHODS) if (key === m || key === PRESET_NAMES[m].toLowerCase().replace(/[^a-z0-9]/g, '')) return m;
  return null;
}

export function presetDisplayName(method: PresetMethod): string {
  return PRESET_NAMES[method];
}

function viewCount(spec: PipelineSpec): number {
  return spec.multiCrop ? spec.multiCrop.global.count + spec.multiCrop.local.count : spec.views;
}

/** The kind of each view, as main/augment's planViews numbers them: globals first, then locals. */
function viewKinds(spec: PipelineSpec): ('view' | 'global' | 'local')[] {
  if (!spec.multiCrop) return Array.from({ length: spec.views }, () => 'view');
  return [
    ...Array.from({ length: spec.multiCrop.global.count }, () => 'global' as const),
    ...Array.from({ length: spec.multiCrop.local.count }, () => 'local' as const),
  ];
}

/** The op's p on each view after overrides. */
function pPerView(spec: PipelineSpec, op: AugmentOp & { p: number }): number[] {
  return viewKinds(spec).map((kind, v) => {
    let p = op.p;
    for (const o of spec.overrides) {
      if (o.op !== op.op) continue;
      const hit = Array.isArray(o.views) ? o.views.includes(v) : kind !== 'view' && (o.views === 'globals') === (kind === 'global');
      const set = o.set as { p?: number };
      if (hit && set.p !== undefined) p = set.p;
    }
    return p;
  });
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const pct = (x: number) => `${Math.round(100 * x)}%`;
const fixed = (x: number) => (Math.round(x * 100) / 100).toString();

export function opStrengths(spec: PipelineSpec): OpStrength[] {
  const out: OpStrength[] = [];
  if (spec.multiCrop) {
    const { global, local } = spec.multiCrop;
    const g = (global.scale[0] + global.scale[1]) / 2;
    const l = (local.scale[0] + local.scale[1]) / 2;
    const n = global.count + local.count;
    const area = n > 0 ? (global.count * g + local.count * l) / n : 1;
    out.push({
      index: -1,
      op: 'multi_crop',
      value: 1 - area,
      detail: `${global.count} global ${global.size} px keep ~${pct(g)} of the image, ${local.count} local ${local.size} px keep ~${pct(l)} (1 − mean area)`,
    });
  }
  spec.ops.forEach((op, index) => {
    switch (op.op) {
      case 'random_resized_crop': {
        const area = (op.scale[0] + op.scale[1]) / 2;
        out.push({
          index,
          op: op.op,
          value: spec.multiCrop ? 0 : 1 - area,
          detail: spec.multiCrop
            ? 'multi-crop sets the crops; only its aspect ratio range is used'
            : `keeps ~${pct(area)} of the image on average (scale ${op.scale[0]}–${op.scale[1]}), 1 − E[area]`,
        });
        break;
      }
      case 'horizontal_flip':
      case 'random_grayscale': {
        const p = mean(pPerView(spec, op));
        out.push({ index, op: op.op, value: p, detail: `applied to ${pct(p)} of views (p)` });
        break;
      }
      case 'color_jitter': {
        const p = mean(pPerView(spec, op));
        const amount = (op.brightness + op.contrast + op.saturation + 4 * op.hue) / 3.2;
        const value = p * op.strength * amount;
        out.push({
          index,
          op: op.op,
          value,
          detail: `p·s·(b+c+sat+4h)/3.2 = ${fixed(p)}·${fixed(op.strength)}·${fixed(amount)}; brightness ×[${fixed(Math.max(0, 1 - op.brightness * op.strength))}, ${fixed(1 + op.brightness * op.strength)}], hue ±${fixed(Math.min(0.5, op.hue * op.strength))}`,
        });
        break;
      }
      case 'gaussian_blur': {
        const p = mean(pPerView(spec, op));
        const sigma = (op.sigma[0] + op.sigma[1]) / 2;
        const size = spec.multiCrop?.global.size ?? (spec.ops[0]?.op === 'random_resized_crop' ? spec.ops[0].size : null);
        out.push({
          index,
          op: op.op,
          value: size ? (p * sigma) / size : p * sigma,
          detail: `p·E[σ] = ${fixed(p)}·${fixed(sigma)} = ${fixed(p * sigma)} px${size ? ` (${(100 * (p * sigma) / size).toFixed(1)}% of a ${size} px view)` : ''}`,
        });
        break;
      }
      case 'solarize': {
        const p = mean(pPerView(spec, op));
        out.push({ index, op: op.op, value: p * (1 - op.threshold), detail: `p·(1 − threshold) = ${fixed(p)}·${fixed(1 - op.threshold)}` });
        break;
      }
    }
  });
  return out;
}

function colourJitterOff(spec: PipelineSpec): boolean {
  const jitter = spec.ops.find((o) => o.op === 'color_jitter');
  if (!jitter) return true;
  const amount = jitter.brightness + jitter.contrast + jitter.saturation + jitter.hue;
  return jitter.strength === 0 || amount === 0 || pPerView(spec, jitter).every((p) => p === 0);
}

/** Warnings for pipelines the papers' ablations show to hurt; `method` is what the pipeline is meant for. */
export function pipelineWarnings(spec: PipelineSpec, method: PresetMethod | null): PipelineWarning[] {
  const out: PipelineWarning[] = [];
  const crop = spec.ops.find((o) => o.op === 'random_resized_crop');
  const cropsNothing = crop !== undefined && crop.scale[0] >= 1;
  if (!spec.multiCrop && (!crop || cropsNothing)) {
    out.push({
      code: 'no-crop',
      message: crop ? 'the crop keeps the whole image (scale min 1): views differ only in colour and flips' : 'no random crop: views differ only in colour and flips',
      cites: 'SimCLR (Chen et al. 2020) Fig. 5: random crop is the most important single transform; no composition without it comes close',
    });
  }
  if (method === 'simclr' && colourJitterOff(spec)) {
    out.push({
      code: 'no-color-jitter',
      message: 'colour jitter is off: the two crops share a colour histogram the network can match instead of content',
      cites: 'SimCLR (Chen et al. 2020) Fig. 5/6, Table 1: crop + colour distortion is the key composition; crop alone lets colour histograms solve the task',
    });
  }
  if (method === 'dino' && (!spec.multiCrop || spec.multiCrop.local.count === 0)) {
    out.push({
      code: 'no-local-crops',
      message: 'no local crops: DINO\'s local-to-global correspondence is gone',
      cites: 'DINO (Caron et al. 2021) §5.3 Table 7: removing multi-crop costs several points of k-NN and linear accuracy',
    });
  }
  if (viewCount(spec) < 2) {
    out.push({
      code: 'no-views',
      message: `the pipeline makes ${viewCount(spec)} view; every method here compares at least two`,
      cites: 'SimCLR, MoCo, BYOL and DINO all train on pairs (or sets) of views of the same image',
    });
  }
  return out;
}
