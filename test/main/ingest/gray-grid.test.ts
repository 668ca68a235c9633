import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../main/common/random.js';
import { grayGrid } from '../../../main/ingest/gray-grid.js';
import { dhashFromGray9x8, hammingDistance } from '../../../main/ingest/phash.js';

/** Naive reference: for each cell, sum every pixel's luma times the area of the pixel inside the cell. */
function naiveGrid(data: Uint8Array, width: number, height: number, channels: number, cols: number, rows: number): number[] {
  const out: number[] = [];
  const cw = width / cols;
  const ch = height / rows;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let sum = 0;
      for (let y = 0; y < height; y++) {
        const oy = Math.max(0, Math.min(y + 1, (r + 1) * ch) - Math.max(y, r * ch));
        for (let x = 0; x < width; x++) {
          const ox = Math.max(0, Math.min(x + 1, (c + 1) * cw) - Math.max(x, c * cw));
          const i = (y * width + x) * channels;
          const luma = channels >= 3 ? 0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]! : data[i]!;
          sum += luma * ox * oy;
        }
      }
      out.push(Math.min(255, Math.max(0, Math.round(sum / (cw * ch)))));
    }
  }
  return out;
}

function randomPixels(n: number, seed: number): Uint8Array {
  const rand = mulberry32(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
}

describe('grayGrid', () => {
  it('matches the naive area-weighted reference over sizes, channel counts and grids', () => {
    let seed = 1;
    for (const [w, h] of [[1, 1], [3, 2], [9, 8], [32, 32], [128, 85], [7, 128]] as const) {
      for (const channels of [1, 3, 4]) {
        for (const [cols, rows] of [[9, 8], [4, 4]] as const) {
          const data = randomPixels(w * h * channels, seed++);
          const got = Array.from(grayGrid(data, w, h, channels, cols, rows));
          const want = naiveGrid(data, w, h, channels, cols, rows);
          // Float summation order differs; allow a rounding step either way.
          for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1);
        }
      }
    }
  });

  it('keeps a uniform image uniform and a left-to-right ramp ordered', () => {
    const flat = new Uint8Array(20 * 10 * 3).fill(77);
    expect(new Set(grayGrid(flat, 20, 10, 3, 9, 8))).toEqual(new Set([77]));
    const ramp = new Uint8Array(90 * 8);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 90; x++) ramp[y * 90 + x] = x * 2;
    const grid = grayGrid(ramp, 90, 8, 1, 9, 8);
    for (let x = 1; x < 9; x++) expect(grid[x]!).toBeGreaterThan(grid[x - 1]!);
  });

  it('gives a dHash that survives re-encoding and resizing but separates different images', async () => {
    const w = 96;
    const h = 64;
    // A smooth scene (blobs), so the hash has structure to keep; noise would not survive any re-encoding.
    const scene = (seed: number) => {
      const rand = mulberry32(seed);
      const blobs = Array.from({ length: 6 }, () => [rand() * w, rand() * h, 8 + rand() * 20, rand() * 255] as const);
      const px = Buffer.alloc(w * h * 3);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          let v = 40;
          for (const [bx, by, r, c] of blobs) v += c * Math.exp(-((x - bx) ** 2 + (y - by) ** 2) / (r * r));
          px.fill(Math.min(255, Math.round(v)), (y * w + x) * 3, (y * w + x) * 3 + 3);
        }
      }
      return sharp(px, { raw: { width: w, height: h, channels: 3 } });
    };
    const hashOf = async (img: Sharp) => {
      const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
      return dhashFromGray9x8(grayGrid(data, info.width, info.height, info.channels, 9, 8));
    };
    const a = await hashOf(scene(1));
    const reencoded = await hashOf(sharp(await scene(1).jpeg({ quality: 60 }).toBuffer()).resize(48));
    const other = await hashOf(scene(2));
    expect(hammingDistance(a, reencoded)).toBeLessThanOrEqual(6);
    expect(hammingDistance(a, other)).toBeGreaterThan(12);
  });
});
