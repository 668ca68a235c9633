import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataLoader, type Batch } from '../../../main/data/index.js';

const COUNT = 23;
const SIZE = 8;
let dir: string;
let paths: string[];

/** Image i is a solid colour that encodes i, so a decoded pixel says which file it came from. */
const colourOf = (i: number) => ({ r: (i * 10) % 256, g: 255 - ((i * 10) % 256), b: 128 });

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'curio-loader-'));
  paths = [];
  for (let i = 0; i < COUNT; i++) {
    const file = path.join(dir, `img${i}.${i % 2 ? 'png' : 'jpg'}`);
    const img = sharp({ create: { width: 10 + (i % 5), height: 14 - (i % 3), channels: 3, background: colourOf(i) } });
    await (i % 2 ? img.png() : img.jpeg({ quality: 100 })).toFile(file);
    paths.push(file);
  }
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function collect(loader: DataLoader, epoch: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of loader.epoch(epoch)) out.push(b);
  return out;
}

describe('DataLoader', () => {
  it('yields every image exactly once per epoch, decoded and resized, with its label', async () => {
    const labels = paths.map((_, i) => i % 3);
    const loader = new DataLoader({ paths, labels, imageSize: SIZE, batchSize: 5, seed: 1, prefetch: 2 });
    try {
      const batches = await collect(loader, 0);
      expect(batches.map((b) => b.n)).toEqual([5, 5, 5, 5, 3]);
      const seen = batches.flatMap((b) => b.indices);
      expect([...seen].sort((a, b) => a - b)).toEqual(paths.map((_, i) => i));
      for (const b of batches) {
        expect(b.x).toBeInstanceOf(Float32Array);
        expect(b.x.length).toBe(b.n * SIZE * SIZE * 3);
        expect(b.failed).toEqual([]);
        expect(b.labels).toEqual(b.indices.map((i) => i % 3));
        b.indices.forEach((img, k) => {
          const c = colourOf(img);
          const base = k * SIZE * SIZE * 3 + (3 * SIZE + 4) * 3; // a pixel in the middle
          expect(Math.abs(b.x[base]! * 255 - c.r)).toBeLessThan(4);
          expect(Math.abs(b.x[base + 1]! * 255 - c.g)).toBeLessThan(4);
          expect(Math.abs(b.x[base + 2]! * 255 - c.b)).toBeLessThan(4);
        });
      }
      const stats = loader.stats();
      expect(stats.batches).toBe(5);
      expect(stats.waitShare).toBeGreaterThanOrEqual(0);
      expect(stats.waitShare).toBeLessThanOrEqual(1);
      expect(stats.waitMs).toBeLessThanOrEqual(stats.totalMs);
    } finally {
      await loader.close();
    }
  });

  it('orders by seed: same seed same order, another seed or epoch another order; dropLast keeps batches equal', async () => {
    const a = new DataLoader({ paths, imageSize: 4, batchSize: 6, seed: 7 });
    const b = new DataLoader({ paths, imageSize: 4, batchSize: 6, seed: 7, workers: 2, prefetch: 1 });
    const c = new DataLoader({ paths, imageSize: 4, batchSize: 6, seed: 8, dropLast: true });
    try {
      const ia = (await collect(a, 0)).map((x) => x.indices);
      const ib = (await collect(b, 0)).map((x) => x.indices);
      expect(ib).toEqual(ia);
      expect((await collect(a, 1)).map((x) => x.indices)).not.toEqual(ia);
      const ic = (await collect(c, 0)).map((x) => x.indices);
      expect(ic.flat()).not.toEqual(ia.flat().slice(0, 18));
      expect(ic.map((x) => x.length)).toEqual([6, 6, 6]);
      expect(a.order(3)).toEqual(b.order(3));
      expect(new DataLoader({ paths, imageSize: 4, batchSize: 6, seed: 7, shuffle: false }).order(0)).toEqual(paths.map((_, i) => i));
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it('reports an undecodable file by index and reason and keeps going', async () => {
    const bad = path.join(dir, 'broken.jpg');
    await fs.writeFile(bad, 'not a jpeg');
    const missing = path.join(dir, 'missing.png');
    const loader = new DataLoader({ paths: [paths[0]!, bad, paths[1]!, missing], imageSize: 4, batchSize: 4, seed: 0, shuffle: false });
    try {
      const [batch] = await collect(loader, 0);
      expect(batch!.failed.map((f) => f.index)).toEqual([1, 3]);
      for (const f of batch!.failed) expect(f.reason.length).toBeGreaterThan(3);
      const per = 4 * 4 * 3;
      expect(batch!.x.subarray(per, 2 * per).every((v) => v === 0)).toBe(true);
      expect(batch!.x.subarray(0, per).some((v) => v > 0)).toBe(true);
    } finally {
      await loader.close();
    }
  });

  it('shuts down cleanly, also after a consumer stops mid-epoch', async () => {
    const loader = new DataLoader({ paths, imageSize: SIZE, batchSize: 2, seed: 3, prefetch: 4 });
    for await (const b of loader.epoch(0)) {
      expect(b.n).toBe(2);
      break;
    }
    // the loader is still usable after an early stop
    expect((await collect(loader, 1)).flatMap((b) => b.indices)).toHaveLength(COUNT);
    await loader.close();
    await loader.close();
    await expect(collect(loader, 2)).rejects.toThrow(/DataLoader is closed/);
  });

  it('rejects bad options with a clear message', () => {
    expect(() => new DataLoader({ paths: [], imageSize: 8, batchSize: 2, seed: 0 })).toThrow(/at least one image path/);
    expect(() => new DataLoader({ paths, labels: [1], imageSize: 8, batchSize: 2, seed: 0 })).toThrow(/1 labels for 23 paths/);
    expect(() => new DataLoader({ paths, imageSize: 0, batchSize: 2, seed: 0 })).toThrow(/imageSize/);
    expect(() => new DataLoader({ paths, imageSize: 8, batchSize: 0, seed: 0 })).toThrow(/batchSize/);
    expect(() => new DataLoader({ paths, imageSize: 8, batchSize: 2, seed: 0, prefetch: 0 })).toThrow(/prefetch/);
  });
});
