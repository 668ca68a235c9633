import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../../main/common/event-bus.js';
import { JobManager } from '../../../main/common/jobs.js';
import { mulberry32 } from '../../../main/common/random.js';
import { foregroundCorrelation, FOREGROUND_TOLERANCE, gradientAgreement, loadThumb, loadThumbs, THUMB, Target, verifyEdges, verifyPair, VerifyGrid, VERIFY_THRESHOLD } from '../../../main/curate/verify.js';

/** A random "photo": overlapping soft ellipses of random colours over a gradient, seeded. */
async function scene(seed: number, size = 96): Promise<Buffer> {
  const rand = mulberry32(seed);
  const shapes = Array.from({ length: 14 }, () => {
    const c = () => Math.floor(rand() * 256);
    return `<ellipse cx="${rand() * size}" cy="${rand() * size}" rx="${4 + rand() * size * 0.25}" ry="${4 + rand() * size * 0.25}" fill="rgb(${c()},${c()},${c()})" opacity="${0.5 + rand() * 0.5}"/>`;
  }).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><defs><linearGradient id="g"><stop offset="0" stop-color="rgb(${Math.floor(rand() * 256)},90,40)"/><stop offset="1" stop-color="rgb(40,90,${Math.floor(rand() * 256)})"/></linearGradient></defs><rect width="${size}" height="${size}" fill="url(#g)"/>${shapes}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** The robust gradient correlation written the slow, obvious way: per-block sums, sort, drop, pool. */
function naiveAgreement(p: Float32Array, q: Float32Array, drop: number): number {
  const r = THUMB;
  const blocks = 4;
  const side = r / blocks;
  const stats = Array.from({ length: blocks * blocks }, () => ({ c: 0, ep: 0, eq: 0 }));
  for (let y = 1; y < r - 1; y++) {
    for (let x = 1; x < r - 1; x++) {
      const g = (img: Float32Array) => [img[y * r + x + 1]! - img[y * r + x - 1]!, img[(y + 1) * r + x]! - img[(y - 1) * r + x]!] as const;
      const [px, py] = g(p);
      const [qx, qy] = g(q);
      const s = stats[Math.floor(y / side) * blocks + Math.floor(x / side)]!;
      s.c += px * qx + py * qy;
      s.ep += px * px + py * py;
      s.eq += qx * qx + qy * qy;
    }
  }
  const meanP = stats.reduce((a, s) => a + s.ep, 0) / stats.length;
  const meanQ = stats.reduce((a, s) => a + s.eq, 0) / stats.length;
  const ranked = [...stats].sort(
    (a, b) => a.c / Math.sqrt(Math.max(a.ep, meanP * 0.05) * Math.max(a.eq, meanQ * 0.05)) - b.c / Math.sqrt(Math.max(b.ep, meanP * 0.05) * Math.max(b.eq, meanQ * 0.05)),
  );
  const kept = ranked.slice(Math.round(stats.length * drop));
  const c = kept.reduce((a, s) => a + s.c, 0);
  return c / Math.sqrt(kept.reduce((a, s) => a + s.ep, 0) * kept.reduce((a, s) => a + s.eq, 0));
}

/** Pearson correlation over the pixels either image has away from its own most common grey (64 bins), the slow way. */
function naiveForeground(p: Float32Array, q: Float32Array): number {
  const mode = (img: Float32Array) => {
    const counts = new Map<number, number>();
    for (const v of img) counts.set(Math.min(63, Math.floor(v * 64)), (counts.get(Math.min(63, Math.floor(v * 64))) ?? 0) + 1);
    const best = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
    return (best + 0.5) / 64;
  };
  const bp = mode(p);
  const bq = mode(q);
  const idx = [...p.keys()].filter((i) => Math.abs(p[i]! - bp) > FOREGROUND_TOLERANCE || Math.abs(q[i]! - bq) > FOREGROUND_TOLERANCE);
  const mean = (img: Float32Array) => idx.reduce((a, i) => a + img[i]!, 0) / idx.length;
  const mp = mean(p);
  const mq = mean(q);
  const c = idx.reduce((a, i) => a + (p[i]! - mp) * (q[i]! - mq), 0);
  const vp = idx.reduce((a, i) => a + (p[i]! - mp) ** 2, 0);
  const vq = idx.reduce((a, i) => a + (q[i]! - mq) ** 2, 0);
  return c / Math.sqrt(vp * vq);
}

/** A white stroke on black, 28×28 like an MNIST digit. */
function stroke(d: string): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"><rect width="28" height="28" fill="black"/><path d="${d}" stroke="white" stroke-width="2.5" fill="none" stroke-linecap="round"/></svg>`;
  return sharp(Buffer.from(svg)).greyscale().png().toBuffer();
}

describe('pixel verification of flat images', () => {
  const grid = new VerifyGrid();
  const prepFlat = async (b: Buffer) => {
    const { trimmed, frame } = await loadThumbs(b);
    return grid.searchable(new Target(trimmed, frame));
  };

  it('foregroundCorrelation matches the naive computation', () => {
    const rand = mulberry32(3);
    for (let trial = 0; trial < 6; trial++) {
      // Mostly background with a few bright strokes, as a drawing is.
      const p = Float32Array.from({ length: THUMB * THUMB }, () => (rand() < 0.2 ? 0.3 + 0.7 * rand() : 0.01));
      const q = Float32Array.from(p, (v) => (rand() < 0.1 ? rand() : v));
      expect(foregroundCorrelation(p, q)).toBeCloseTo(naiveForeground(p, q), 5);
    }
  });

  it('confirms a re-encoded copy of a drawing but not a different drawing of the same shape', async () => {
    const one = await stroke('M14 4 L14 24');
    const copy = await sharp(one).resize(34, 34).jpeg({ quality: 70 }).toBuffer();
    const slanted = await stroke('M17 4 L11 24');
    const curved = await stroke('M14 4 Q10 14 14 24');
    const a = await prepFlat(one);
    expect(a.target.flat).toBe(true);
    expect(verifyPair(a, await prepFlat(copy))).toBeGreaterThanOrEqual(VERIFY_THRESHOLD);
    expect(verifyPair(a, await prepFlat(slanted))).toBeLessThan(VERIFY_THRESHOLD);
    expect(verifyPair(a, await prepFlat(curved))).toBeLessThan(VERIFY_THRESHOLD);
  });

  it('leaves photos on the ordinary check', async () => {
    expect((await prepFlat(await scene(1))).target.flat).toBe(false);
  });
});

describe('pixel verification', () => {
  const grid = new VerifyGrid();
  const variants: Record<string, Buffer> = {};
  const others: Buffer[] = [];
  let tmp: string;

  beforeAll(async () => {
    const original = await scene(1);
    const caption = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96"><text x="2" y="90" font-family="DejaVu Sans" font-size="20" fill="white" stroke="black">SAMPLE</text></svg>',
    );
    variants.original = original;
    variants.crop = await sharp(original).extract({ left: 9, top: 4, width: 80, height: 84 }).png().toBuffer();
    variants.mirror = await sharp(original).flop().png().toBuffer();
    variants.caption = await sharp(original).composite([{ input: caption }]).png().toBuffer();
    variants.jpeg = await sharp(original).resize(60, 60).jpeg({ quality: 15 }).toBuffer();
    variants.border = await sharp(original).extend({ top: 10, bottom: 10, left: 10, right: 10, background: '#000' }).png().toBuffer();
    for (let s = 2; s < 12; s++) others.push(await scene(s));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-verify-'));
  });
  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const prep = async (b: Buffer) => grid.searchable(await loadThumb(b));

  it('matches the naive robust gradient correlation', () => {
    const rand = mulberry32(7);
    for (const drop of [0, 0.25, 0.5]) {
      for (let trial = 0; trial < 5; trial++) {
        const p = Float32Array.from({ length: THUMB * THUMB }, () => rand());
        const q = Float32Array.from(p, (v) => (trial % 2 ? v * 0.7 + 0.2 * rand() : rand()));
        expect(gradientAgreement(p, q, drop)).toBeCloseTo(naiveAgreement(p, q, drop), 5);
      }
    }
    const flat = new Float32Array(THUMB * THUMB).fill(0.5);
    expect(gradientAgreement(flat, flat, 0.25)).toBe(0);
  });

  it('confirms crops, mirrors, captions, re-encodes and borders of an image', async () => {
    const original = await prep(variants.original!);
    for (const [name, buf] of Object.entries(variants)) {
      const score = verifyPair(original, await prep(buf));
      expect(score, name).toBeGreaterThanOrEqual(VERIFY_THRESHOLD);
    }
  });

  it('is symmetric in its two images', async () => {
    const a = await prep(variants.original!);
    const b = await prep(variants.crop!);
    expect(verifyPair(a, b)).toBe(verifyPair(b, a));
  });

  it('rejects different images', async () => {
    const original = await prep(variants.original!);
    for (const other of others) expect(verifyPair(original, await prep(other))).toBeLessThan(VERIFY_THRESHOLD);
  });

  it('rejects a thumbnail of the wrong size', () => {
    expect(() => new Target(new Float32Array(10))).toThrow(/32×32/);
  });

  it('verifyEdges keeps confirmed pairs, drops the rest and pairs with an unreadable image', async () => {
    const files = ['original', 'crop', 'other', 'broken'].map((name) => path.join(tmp, `${name}.png`));
    fs.writeFileSync(files[0]!, variants.original!);
    fs.writeFileSync(files[1]!, variants.crop!);
    fs.writeFileSync(files[2]!, others[0]!);
    fs.writeFileSync(files[3]!, 'not an image');
    const edges = [
      { i: 0, j: 1, similarity: 0.7 },
      { i: 0, j: 2, similarity: 0.9 },
      { i: 1, j: 3, similarity: 0.95 },
    ];
    const jobs = new JobManager(new EventBus());
    const r = await jobs.start('dedup', (ctx) => verifyEdges(files, edges, ctx)).promise;
    expect(r.kept.map((e) => [e.i, e.j])).toEqual([[0, 1]]);
    expect(r.kept[0]!.agreement).toBeGreaterThanOrEqual(VERIFY_THRESHOLD);
    expect(r.undecodable).toBe(1);
  });

  it('verifyEdges stops when cancelled', async () => {
    const file = path.join(tmp, 'one.png');
    fs.writeFileSync(file, variants.original!);
    const jobs = new JobManager(new EventBus());
    const edges = Array.from({ length: 2000 }, (_, t) => ({ i: 0, j: 1 + (t % 3), similarity: 0.9 }));
    const { jobId, promise } = jobs.start('dedup', (ctx) => verifyEdges([file, file, file, file], edges, ctx));
    jobs.cancel(jobId);
    await expect(promise).rejects.toThrow(/cancel/);
  });
});
