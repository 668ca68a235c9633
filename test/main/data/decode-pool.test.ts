import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeRgb } from '../../../main/data/decode.js';
import { decodeAllInto } from '../../../main/data/decode-pool.js';

let dir: string;
let paths: string[];

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'curio-decode-pool-'));
  paths = [];
  for (let i = 0; i < 11; i++) {
    const file = path.join(dir, `img${i}.${i % 3 ? 'jpg' : 'png'}`);
    const img = sharp({ create: { width: 9 + i, height: 14 - (i % 4), channels: i % 2 ? 4 : 3, background: { r: 20 * i, g: 200 - 10 * i, b: 90, alpha: 1 } } });
    await (i % 3 ? img.jpeg({ quality: 95 }) : img.png()).toFile(file);
    paths.push(file);
  }
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('decodeAllInto', () => {
  it('writes each file\'s bytes into its slot of the shared buffer, exactly as the in-thread decode', async () => {
    const size = 6;
    const per = size * size * 3;
    const into = new SharedArrayBuffer(paths.length * per);
    const progress: number[] = [];
    await decodeAllInto(paths, size, into, { workers: 2, chunk: 3, onProgress: (d) => progress.push(d) });
    for (let i = 0; i < paths.length; i++) {
      expect(new Uint8Array(into, i * per, per), paths[i]).toEqual(new Uint8Array(await decodeRgb(paths[i]!, size)));
    }
    expect(progress.at(-1)).toBe(paths.length);
  }, 60_000);

  it('names the file it cannot decode, and refuses a buffer too small', async () => {
    const bad = path.join(dir, 'broken.jpg');
    await fs.writeFile(bad, 'not an image');
    const list = [paths[0]!, bad, paths[1]!];
    await expect(decodeAllInto(list, 4, new SharedArrayBuffer(3 * 48), { workers: 1 })).rejects.toThrow(/cannot decode .*broken\.jpg/);
    await expect(decodeAllInto(list, 4, new SharedArrayBuffer(2 * 48))).rejects.toThrow(/holds 2 images, 3 were given/);
  }, 60_000);
});
