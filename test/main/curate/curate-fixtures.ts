import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { mulberry32 } from '../../../main/common/random.js';

/** A distinct 64×64 picture per seed: a two-colour gradient with a few random shapes. */
export async function picture(seed: number): Promise<Buffer> {
  const r = mulberry32(seed * 7919 + 1);
  const c = () => `rgb(${Math.floor(r() * 256)},${Math.floor(r() * 256)},${Math.floor(r() * 256)})`;
  const shapes = Array.from({ length: 5 }, () =>
    r() < 0.5
      ? `<rect x="${Math.floor(r() * 48)}" y="${Math.floor(r() * 48)}" width="${8 + Math.floor(r() * 24)}" height="${8 + Math.floor(r() * 24)}" fill="${c()}"/>`
      : `<circle cx="${Math.floor(r() * 64)}" cy="${Math.floor(r() * 64)}" r="${4 + Math.floor(r() * 14)}" fill="${c()}"/>`,
  ).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><defs><linearGradient id="g" x1="0" y1="0" x2="${r().toFixed(2)}" y2="1"><stop offset="0" stop-color="${c()}"/><stop offset="1" stop-color="${c()}"/></linearGradient></defs><rect width="64" height="64" fill="url(#g)"/>${shapes}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** A near-copy: resized, slightly brightened and re-encoded as a low-quality JPEG. */
export async function nearCopy(png: Buffer): Promise<Buffer> {
  return sharp(png).resize(56, 56).modulate({ brightness: 1.05 }).jpeg({ quality: 55 }).toBuffer();
}

export function write(dir: string, name: string, data: Buffer): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, data);
  return file;
}
