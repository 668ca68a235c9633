import { describe, expect, it } from 'vitest';
import {
  PRESET_METHODS,
  PipelineSpecError,
  localCropSize,
  parsePipelineSpec,
  presetFor,
  type PipelineSpecInput,
} from '../../../shared/contract/augment.js';

function issuesOf(input: unknown): string[] {
  try {
    parsePipelineSpec(input);
  } catch (err) {
    expect(err).toBeInstanceOf(PipelineSpecError);
    return (err as PipelineSpecError).issues;
  }
  throw new Error('expected the spec to be rejected');
}

describe('augmentation pipeline spec', () => {
  it('round-trips every preset through JSON without loss, at 32 and 224 px', () => {
    for (const method of PRESET_METHODS) {
      for (const size of [32, 96, 224]) {
        const spec = presetFor(method, size);
        expect(parsePipelineSpec(JSON.stringify(spec))).toEqual(spec);
        expect(JSON.parse(JSON.stringify(parsePipelineSpec(JSON.parse(JSON.stringify(spec)))))).toEqual(spec);
      }
    }
  });

  it('sizes crops from the image size: DINO globals/locals are 32/16 at 32 px and 224/96 at 224 px', () => {
    expect(presetFor('dino', 32).multiCrop).toMatchObject({ global: { count: 2, size: 32 }, local: { count: 8, size: 16 } });
    expect(presetFor('dino', 224).multiCrop).toMatchObject({ global: { count: 2, size: 224, scale: [0.4, 1] }, local: { count: 8, size: 96, scale: [0.05, 0.4] } });
    expect(localCropSize(224)).toBe(96);
    expect(localCropSize(32)).toBe(16);
    expect(presetFor('simclr', 96).ops[0]).toMatchObject({ op: 'random_resized_crop', size: 96, scale: [0.08, 1] });
    expect(presetFor('mocov2', 224).ops[0]).toMatchObject({ op: 'random_resized_crop', size: 224, scale: [0.2, 1] });
  });

  it('follows the papers: SimCLR jitter 0.8/0.8/0.8/0.2 p 0.8, blur only above CIFAR size; BYOL asymmetric blur/solarize', () => {
    const simclr = presetFor('simclr', 224);
    expect(simclr.ops.find((o) => o.op === 'color_jitter')).toMatchObject({ brightness: 0.8, contrast: 0.8, saturation: 0.8, hue: 0.2, p: 0.8 });
    expect(simclr.ops.some((o) => o.op === 'gaussian_blur')).toBe(true);
    expect(presetFor('simclr', 32).ops.some((o) => o.op === 'gaussian_blur')).toBe(false);
    const byol = presetFor('byol', 224);
    expect(byol.overrides).toEqual(
      expect.arrayContaining([
        { views: [0], op: 'gaussian_blur', set: { p: 1 } },
        { views: [1], op: 'gaussian_blur', set: { p: 0.1 } },
        { views: [0], op: 'solarize', set: { p: 0 } },
        { views: [1], op: 'solarize', set: { p: 0.2 } },
      ]),
    );
    for (const m of PRESET_METHODS) expect(presetFor(m, 32).cites).toMatch(/20\d\d/);
  });

  it('enforces each op parameter bound and names the field', () => {
    const cases: [PipelineSpecInput['ops'][number] | Record<string, unknown>, RegExp][] = [
      [{ op: 'random_resized_crop', size: 2 }, /^ops\[0\]\.size: must be ≥ 4 px/],
      [{ op: 'random_resized_crop', size: 2000 }, /^ops\[0\]\.size: must be ≤ 1024 px/],
      [{ op: 'random_resized_crop', size: 32.5 }, /^ops\[0\]\.size: must be a whole number/],
      [{ op: 'random_resized_crop', size: 32, scale: [0, 1] }, /^ops\[0\]\.scale\[0\]: must be > 0/],
      [{ op: 'random_resized_crop', size: 32, scale: [0.9, 0.2] }, /^ops\[0\]\.scale: min must not exceed max/],
      [{ op: 'random_resized_crop', size: 32, ratio: [0.01, 1] }, /^ops\[0\]\.ratio\[0\]: must be ≥ 0.1/],
      [{ op: 'horizontal_flip', p: 1.5 }, /^ops\[0\]\.p: must be ≤ 1/],
      [{ op: 'horizontal_flip', p: -0.1 }, /^ops\[0\]\.p: must be ≥ 0/],
      [{ op: 'color_jitter', brightness: 3 }, /^ops\[0\]\.brightness:/],
      [{ op: 'color_jitter', contrast: -1 }, /^ops\[0\]\.contrast:/],
      [{ op: 'color_jitter', saturation: 2.5 }, /^ops\[0\]\.saturation:/],
      [{ op: 'color_jitter', hue: 0.6 }, /^ops\[0\]\.hue:/],
      [{ op: 'color_jitter', strength: 5 }, /^ops\[0\]\.strength:/],
      [{ op: 'random_grayscale', p: 2 }, /^ops\[0\]\.p:/],
      [{ op: 'gaussian_blur', sigma: [0, 1] }, /^ops\[0\]\.sigma\[0\]: must be ≥ 0.01/],
      [{ op: 'gaussian_blur', sigma: [2, 1] }, /^ops\[0\]\.sigma: min must not exceed max/],
      [{ op: 'gaussian_blur', sigma: [1, 20] }, /^ops\[0\]\.sigma\[1\]: must be ≤ 10/],
      [{ op: 'solarize', threshold: 1.2 }, /^ops\[0\]\.threshold:/],
      [{ op: 'twirl' }, /^ops\[0\]\.op:/],
      [{ op: 'solarize', thresh: 0.5 }, /^ops\[0\].*thresh/],
    ];
    for (const [op, message] of cases) {
      const issues = issuesOf({ ops: [op] });
      expect(issues.some((i) => message.test(i)), `${JSON.stringify(op)} → ${issues.join(' | ')}`).toBe(true);
    }
  });

  it('checks the pipeline as a whole: crop first, overrides that exist, multi-crop bounds, JSON syntax', () => {
    expect(issuesOf({ ops: [{ op: 'horizontal_flip' }, { op: 'random_resized_crop', size: 32 }] })).toContain(
      'ops[1].op: random_resized_crop must be the first op (it sets the view size)',
    );
    expect(issuesOf({ ops: [{ op: 'horizontal_flip' }], overrides: [{ views: [2], op: 'horizontal_flip', set: { p: 1 } }] })).toContain(
      'overrides[0].views[0]: view 2 does not exist (the pipeline makes 2 views)',
    );
    expect(issuesOf({ ops: [{ op: 'horizontal_flip' }], overrides: [{ views: [0], op: 'solarize', set: { p: 1 } }] })).toContain(
      'overrides[0].op: the pipeline has no solarize op to override',
    );
    expect(issuesOf({ ops: [{ op: 'solarize' }], overrides: [{ views: [0], op: 'solarize', set: { p: 7 } }] })[0]).toMatch(/^overrides\[0\]\.set\.p: must be ≤ 1/);
    expect(issuesOf({ ops: [{ op: 'solarize' }], overrides: [{ views: 'locals', op: 'solarize', set: {} }] })).toContain('overrides[0].views: "locals" needs multiCrop');
    const mc = { global: { count: 0, size: 32, scale: [0.4, 1] }, local: { count: 2, size: 16, scale: [0.05, 0.4] } };
    expect(issuesOf({ ops: [], multiCrop: mc })).toContain('multiCrop.global.count: needs at least one global crop');
    expect(issuesOf('{"ops": [')[0]).toMatch(/^not valid JSON/);
    expect(issuesOf({ ops: [], views: 0 })[0]).toMatch(/^views:/);
    expect(() => presetFor('dino', 3)).toThrow(/imageSize: must be a whole number from 4 to 1024/);
  });

  it('fills defaults, and an override sets only the fields it names', () => {
    const spec = parsePipelineSpec({ ops: [{ op: 'solarize', threshold: 0.7 }], overrides: [{ views: [1], op: 'solarize', set: { p: 1 } }] });
    expect(spec).toMatchObject({ version: 1, views: 2, ops: [{ op: 'solarize', threshold: 0.7, p: 0.2 }] });
    expect(spec.overrides[0]!.set).toEqual({ p: 1 });
  });
});
