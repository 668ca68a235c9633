import { describe, expect, it } from 'vitest';
import { RunConfig } from '../../../../shared/contract/train.js';
import { buildRunConfig, defaultFields, METHOD_PRESETS, METHODS, takesLocalCrops, withMethod } from '../../../../renderer/src/features/runs/run-form.js';

describe('new-run form → RunConfig', () => {
  it('sends only what the user set; blanks are left to main', () => {
    const { config, errors } = buildRunConfig({ ...defaultFields('pets'), epochs: '2', batchSize: '8', imageSize: '16', backend: 'wasm' });
    expect(errors).toEqual({});
    expect(config).toEqual({ dataset: 'pets', method: 'simclr', backbone: 'small', backend: 'wasm', epochs: 2, batchSize: 8, imageSize: 16, seed: 0 });
    expect(RunConfig.safeParse(config).success).toBe(true);
  });

  it('sends minutes instead of epochs when the length is a time budget', () => {
    const { config } = buildRunConfig({ ...defaultFields('pets'), length: 'minutes', minutes: '1.5', epochs: 'junk' });
    expect(config).toMatchObject({ minutes: 1.5 });
    expect(config).not.toHaveProperty('epochs');
  });

  it('names the field at fault, with the schema’s own limits', () => {
    const { config, errors } = buildRunConfig({ ...defaultFields('pets'), batchSize: '1', imageSize: '7', lr: 'fast', seed: '-1' });
    expect(config).toBeNull();
    expect(errors.batchSize).toBe('must be at least 2');
    expect(errors.imageSize).toBe('must be at least 8');
    expect(errors.lr).toContain('not a number');
    expect(errors.seed).toBeDefined();
    expect(errors.epochs).toBeUndefined();
  });

  it('rejects a fractional epoch count and a missing dataset', () => {
    const { errors } = buildRunConfig({ ...defaultFields(''), epochs: '1.5', lr: '0' });
    expect(errors.epochs).toBe('must be a whole number');
    expect(errors.lr).toBe('must be more than 0');
    expect(errors.dataset).toBeDefined();
  });

  it('passes a pipeline preset by name', () => {
    const { config } = buildRunConfig({ ...defaultFields('pets'), pipeline: 'byol' });
    expect(config).toMatchObject({ pipeline: 'byol' });
  });

  it('a method change suggests its usual backbone', () => {
    expect(withMethod(defaultFields('x'), 'dino').backbone).toBe(METHOD_PRESETS.dino.backbone);
    expect(withMethod(defaultFields('x'), 'mocov3').backbone).toMatch(/^vit-/);
    expect(withMethod({ ...defaultFields('x'), backbone: 'resnet50' }, 'byol').backbone).toBe('small');
  });
});

describe('new-run form: DINO local crops', () => {
  const dinoFields = () => withMethod(defaultFields('pets'), 'dino');

  it('only DINO takes the field', () => {
    expect(METHODS.filter(takesLocalCrops)).toEqual(['dino']);
  });

  it('sends the count for DINO, and nothing when blank (the pipeline keeps its own)', () => {
    const { config, errors } = buildRunConfig({ ...dinoFields(), localCrops: '4' });
    expect(errors).toEqual({});
    expect(config).toMatchObject({ method: 'dino', localCrops: 4 });
    expect(RunConfig.safeParse(config).success).toBe(true);
    expect(buildRunConfig(dinoFields()).config).not.toHaveProperty('localCrops');
  });

  it('names the field with the schema’s limits', () => {
    expect(buildRunConfig({ ...dinoFields(), localCrops: '13' }).errors.localCrops).toBe('must be at most 12');
    expect(buildRunConfig({ ...dinoFields(), localCrops: '-1' }).errors.localCrops).toBe('must be at least 0');
    expect(buildRunConfig({ ...dinoFields(), localCrops: '1.5' }).errors.localCrops).toBe('must be a whole number');
    expect(buildRunConfig({ ...dinoFields(), localCrops: 'lots' }).errors.localCrops).toContain('not a number');
  });

  it('a hidden field left over from DINO is not sent with another method', () => {
    const fields = withMethod({ ...dinoFields(), localCrops: '99' }, 'simclr');
    const { config, errors } = buildRunConfig(fields);
    expect(errors).toEqual({});
    expect(config).not.toHaveProperty('localCrops');
  });
});
