import { describe, expect, it } from 'vitest';
import { parsePipelineSpec, presetFor, PRESET_METHODS, type PipelineSpec } from '../../../shared/contract/augment.js';
import { methodFromName, opStrengths, pipelineWarnings } from '../../../shared/contract/pipeline-checks.js';

const codes = (spec: PipelineSpec, method: Parameters<typeof pipelineWarnings>[1]) => pipelineWarnings(spec, method).map((w) => w.code);
const strengthOf = (spec: PipelineSpec, op: string) => opStrengths(spec).find((s) => s.op === op)!.value;

describe('designer checks: strength readouts', () => {
  it('crop strength is 1 − mean area: SimCLR scale 0.08–1 → 0.46, MoCo v2 0.2–1 → 0.4', () => {
    expect(strengthOf(presetFor('simclr', 32), 'random_resized_crop')).toBeCloseTo(0.46, 10);
    expect(strengthOf(presetFor('mocov2', 32), 'random_resized_crop')).toBeCloseTo(0.4, 10);
  });

  it('colour-jitter strength is p·s at SimCLR amounts and grows linearly with s', () => {
    const simclr = presetFor('simclr', 32);
    expect(strengthOf(simclr, 'color_jitter')).toBeCloseTo(0.8, 10);
    const s2 = parsePipelineSpec({ ...simclr, ops: simclr.ops.map((o) => (o.op === 'color_jitter' ? { ...o, strength: 2 } : o)) });
    expect(strengthOf(s2, 'color_jitter')).toBeCloseTo(1.6, 10);
    // MoCo v2's jitter (0.4, 0.4, 0.4, 0.1) is half SimCLR's
    expect(strengthOf(presetFor('mocov2', 32), 'color_jitter')).toBeCloseTo(0.4, 10);
  });

  it('per-view overrides count through the mean p: BYOL blur p 1.0 / 0.1 → 0.55 × E[σ] / size', () => {
    const byol = presetFor('byol', 224);
    expect(strengthOf(byol, 'gaussian_blur')).toBeCloseTo((0.55 * 1.05) / 224, 10);
    // solarize 0.0 / 0.2 over threshold 0.5
    expect(strengthOf(byol, 'solarize')).toBeCloseTo(0.1 * 0.5, 10);
    const dino = presetFor('dino', 32);
    const multi = opStrengths(dino).find((s) => s.op === 'multi_crop')!;
    // 2 globals at mean area 0.7, 8 locals at 0.225
    expect(multi.value).toBeCloseTo(1 - (2 * 0.7 + 8 * 0.225) / 10, 10);
  });
});

describe('designer checks: warnings that cite the ablations', () => {
  it('the presets raise no warning for their own method', () => {
    for (const m of PRESET_METHODS) for (const size of [32, 224]) expect(codes(presetFor(m, size), m)).toEqual([]);
  });

  it('no crop warns for any method, citing SimCLR Fig. 5', () => {
    const simclr = presetFor('simclr', 32);
    const noCrop = parsePipelineSpec({ ...simclr, ops: simclr.ops.filter((o) => o.op !== 'random_resized_crop') });
    expect(codes(noCrop, 'byol')).toEqual(['no-crop']);
    expect(pipelineWarnings(noCrop, null)[0]!.cites).toMatch(/SimCLR .*Fig\. 5/);
    const wholeImage = parsePipelineSpec({ ...simclr, ops: simclr.ops.map((o) => (o.op === 'random_resized_crop' ? { ...o, scale: [1, 1] } : o)) });
    expect(codes(wholeImage, 'simclr')).toEqual(['no-crop']);
  });

  it('colour jitter off (removed, p 0 or strength 0) warns for SimCLR only', () => {
    const simclr = presetFor('simclr', 32);
    const removed = parsePipelineSpec({ ...simclr, ops: simclr.ops.filter((o) => o.op !== 'color_jitter') });
    const p0 = parsePipelineSpec({ ...simclr, ops: simclr.ops.map((o) => (o.op === 'color_jitter' ? { ...o, p: 0 } : o)) });
    const s0 = parsePipelineSpec({ ...simclr, ops: simclr.ops.map((o) => (o.op === 'color_jitter' ? { ...o, strength: 0 } : o)) });
    for (const spec of [removed, p0, s0]) expect(codes(spec, 'simclr')).toEqual(['no-color-jitter']);
    expect(codes(removed, 'byol')).toEqual([]);
    expect(pipelineWarnings(removed, 'simclr')[0]!.cites).toMatch(/SimCLR/);
  });

  it('DINO without local crops warns, citing the DINO multi-crop ablation', () => {
    const dino = presetFor('dino', 32);
    const noLocals = parsePipelineSpec({ ...dino, multiCrop: { ...dino.multiCrop!, local: { ...dino.multiCrop!.local, count: 0 } } });
    expect(codes(noLocals, 'dino')).toEqual(['no-local-crops']);
    expect(pipelineWarnings(noLocals, 'dino')[0]!.cites).toMatch(/DINO .*multi-crop/);
    expect(codes(presetFor('simclr', 32), 'dino')).toEqual(['no-local-crops']);
  });

  it('reads the method from a spec name', () => {
    expect(methodFromName('MoCo v2')).toBe('mocov2');
    expect(methodFromName('mocov3')).toBe('mocov3');
    expect(methodFromName('my pipeline')).toBeNull();
  });
});
