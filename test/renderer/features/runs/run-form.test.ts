import { describe, expect, it } from 'vitest';
import { RunConfig } from '../../../../shared/contract/train.js';
import { buildRunConfig, defaultFields, METHOD_PRESETS, withMethod } from '../../../../renderer/src/features/runs/run-form.js';

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
