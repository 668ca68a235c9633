import { describe, expect, it } from 'vitest';
import { MAX_LOCAL_CROPS, RunConfig } from '../../../shared/contract/train.js';

const base = { dataset: 'pets', backbone: 'vit-tiny' } as const;

describe('RunConfig.localCrops', () => {
  it('takes DINO\'s local-crop count from 0 to MAX_LOCAL_CROPS (12), and leaves it out by default', () => {
    expect(MAX_LOCAL_CROPS).toBe(12);
    for (const localCrops of [0, 1, 8, 12]) expect(RunConfig.safeParse({ ...base, method: 'dino', localCrops }).success).toBe(true);
    const parsed = RunConfig.parse({ ...base, method: 'dino' });
    expect(parsed).not.toHaveProperty('localCrops');
  });

  it('refuses counts out of range or fractional, at the localCrops path', () => {
    for (const localCrops of [-1, 13, 2.5]) {
      const r = RunConfig.safeParse({ ...base, method: 'dino', localCrops });
      expect(r.success).toBe(false);
      expect(r.error!.issues[0]!.path).toEqual(['localCrops']);
    }
  });

  it('refuses local crops for the 2-view methods, but lets 0 through (it changes nothing)', () => {
    for (const method of ['simclr', 'mocov2', 'mocov3', 'byol'] as const) {
      const r = RunConfig.safeParse({ ...base, method, localCrops: 2 });
      expect(r.success).toBe(false);
      expect(r.error!.issues.map((i) => i.path)).toEqual([['localCrops']]);
      expect(r.error!.issues[0]!.message).toMatch(/DINO's multi-crop/);
      expect(RunConfig.safeParse({ ...base, method, localCrops: 0 }).success).toBe(true);
    }
  });
});
