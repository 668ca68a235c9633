import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configFromFlags } from '../../../main/cli/commands/train.js';
import { UsageError } from '../../../main/cli/args.js';
import { RunConfig } from '../../../shared/contract/train.js';
import { runCurioInProcess } from './run-cli.js';

const dino = { dataset: 'pets', method: 'dino', backbone: 'vit-tiny' };

function usageMessage(values: Record<string, string>): string {
  try {
    configFromFlags(values);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('curio train --local-crops', () => {
  it('sets DINO\'s local-crop count, 0 to 12, into a config the contract accepts', () => {
    for (const n of [0, 2, 12]) {
      const config = configFromFlags({ ...dino, 'local-crops': String(n) });
      expect(config.localCrops).toBe(n);
      expect(RunConfig.safeParse(config).success).toBe(true);
    }
    expect(configFromFlags(dino)).not.toHaveProperty('localCrops');
  });

  it('refuses a count outside 0..12 or not a whole number, naming the flag on one line', () => {
    for (const bad of ['13', '-1', '2.5', 'many', '']) {
      const message = usageMessage({ ...dino, 'local-crops': bad });
      expect(message).toBe(`--local-crops must be an integer from 0 to 12, got "${bad}"`);
    }
  });

  it('refuses local crops for the methods that train on exactly 2 views, 0 included', () => {
    for (const method of ['simclr', 'mocov2', 'mocov3', 'byol']) {
      for (const n of ['0', '4']) {
        const message = usageMessage({ ...dino, method, 'local-crops': n });
        expect(message).toContain('--local-crops is only for --method dino');
        expect(message).not.toContain('\n');
      }
    }
  });

  describe('through the CLI', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-train-args-'));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('exits non-zero with the one-line error before any run starts', async () => {
      const db = path.join(dir, 'c.sqlite');
      const r = await runCurioInProcess(['train', '--dataset', 'pets', '--method', 'simclr', '--backbone', 'small', '--local-crops', '2', '--db', db]);
      expect(r.code).not.toBe(0);
      const errorLines = r.stderr.split('\n').filter((l) => l.includes('error:'));
      expect(errorLines).toEqual(['curio train: error: --local-crops is only for --method dino (its multi-crop); simclr trains on exactly 2 views']);
      const tooMany = await runCurioInProcess(['train', '--dataset', 'pets', '--method', 'dino', '--backbone', 'vit-tiny', '--local-crops', '20', '--db', db]);
      expect(tooMany.code).not.toBe(0);
      expect(tooMany.stderr).toContain('--local-crops must be an integer from 0 to 12, got "20"');
    });
  });
});
