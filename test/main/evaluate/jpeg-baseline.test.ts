import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeBaselineJpeg } from '../../../main/evaluate/jpeg-baseline.js';
import { CIFAR_SKIP_REASON, haveCifar, readCifar } from './cifar-fixture.js';

/** What sharp (libvips on libjpeg-turbo) decodes the file to, as floats v / 255. */
async function viaSharp(file: Buffer): Promise<{ pixels: Float32Array; size: number }> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3);
  return { pixels: Float32Array.from(data, (v) => v / 255), size: info.width };
}

/** Decodes with the JS decoder; null when it refuses the file. */
function viaJs(file: Buffer, size: number): Float32Array | null {
  // one image's worth of margin on each side, to show that only its own span is written
  const out = new Float32Array(size * size * 3 * 3).fill(-1);
  if (!decodeBaselineJpeg(file, size, out, size * size * 3)) return null;
  const per = size * size * 3;
  expect(out.subarray(0, per).every((v) => v === -1)).toBe(true);
  expect(out.subarray(2 * per).every((v) => v === -1)).toBe(true);
  return out.slice(per, 2 * per);
}

function differing(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

/** Seeded noise over gradients and hard edges: saturated colours push the IDCT and the colour conversion past 0 and 255. */
function pixels(w: number, h: number, seed: number, noise: number): Buffer {
  let s = seed >>> 0;
  const b = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        const edge = ((x >> 2) + (y >> 3) + c) % 3 === 0 ? 255 : 0;
        const grad = ((x * 255) / w + (y * 128) / h + c * 70) % 256;
        b[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, Math.round((edge + grad) / 2 + ((s >>> 24) - 128) * noise)));
      }
  return b;
}

describe('decodeBaselineJpeg', () => {
  it('gives the bytes sharp gives, over qualities 1–100, 4:2:0 and 4:4:4, sizes 16–64, noisy and smooth', async () => {
    let checked = 0;
    for (const size of [16, 32, 48, 64]) {
      for (const chroma of ['4:2:0', '4:4:4'] as const) {
        if (chroma === '4:2:0' && size % 16 !== 0) continue;
        for (const quality of [1, 5, 12, 25, 40, 55, 70, 85, 92, 97, 100]) {
          for (const noise of [0, 0.3, 1]) {
            const file = await sharp(pixels(size, size, size * 1000 + quality * 7 + noise * 3, noise), { raw: { width: size, height: size, channels: 3 } })
              .jpeg({ quality, chromaSubsampling: chroma })
              .toBuffer();
            const got = viaJs(file, size);
            expect(got, `${size} px ${chroma} q${quality} noise ${noise} refused`).not.toBeNull();
            expect(differing(got!, (await viaSharp(file)).pixels), `${size} px ${chroma} q${quality} noise ${noise}`).toBe(0);
            checked++;
          }
        }
      }
    }
    expect(checked).toBe(4 * 11 * 3 + 4 * 11 * 3);
  }, 60_000);

  it.skipIf(!haveCifar)('gives the bytes sharp gives on 2,000 real CIFAR-10 JPEGs', async () => {
    const { byClass } = readCifar();
    let bad = 0;
    for (const files of byClass)
      for (const file of files.slice(0, 200)) {
        const got = viaJs(file, 32);
        expect(got).not.toBeNull();
        if (differing(got!, (await viaSharp(file)).pixels) > 0) bad++;
      }
    expect(bad).toBe(0);
  }, 120_000);
  if (!haveCifar) it.skip(CIFAR_SKIP_REASON, () => undefined);

  it('refuses what it does not take, so that sharp decodes it: progressive, 4:2:2, other sizes, restart intervals, PNG, gray, cut short, bad codes', async () => {
    const raw = (w: number, h: number) => sharp(pixels(w, h, 5, 0.5), { raw: { width: w, height: h, channels: 3 } });
    const good = await raw(32, 32).jpeg({ quality: 80 }).toBuffer();
    expect(viaJs(good, 32)).not.toBeNull();
    expect(viaJs(good, 16)).toBeNull();
    expect(viaJs(await raw(32, 32).jpeg({ progressive: true }).toBuffer(), 32)).toBeNull();
    // sharp writes no 4:2:2: the frame header of a 4:2:0 file edited to say 2×1 for luma
    const sof = good.indexOf(Buffer.from([0xff, 0xc0]));
    expect(good[sof + 11]).toBe(0x22);
    const h2v1 = Buffer.from(good);
    h2v1[sof + 11] = 0x21;
    expect(viaJs(h2v1, 32)).toBeNull();
    // 40 px is not a whole number of 16-px MCUs at 4:2:0
    expect(viaJs(await raw(40, 40).jpeg().toBuffer(), 40)).toBeNull();
    expect(viaJs(await raw(32, 32).png().toBuffer(), 32)).toBeNull();
    expect(viaJs(await raw(32, 32).toColourspace('b-w').jpeg().toBuffer(), 32)).toBeNull();
    // a DRI segment with a non-zero interval, spliced in before the scan
    const sos = good.indexOf(Buffer.from([0xff, 0xda]));
    expect(viaJs(Buffer.concat([good.subarray(0, sos), Buffer.from([0xff, 0xdd, 0, 4, 0, 1]), good.subarray(sos)]), 32)).toBeNull();
    // the scan cut short: the decoder would have to read bits past the data
    expect(viaJs(Buffer.concat([good.subarray(0, sos + 40), Buffer.from([0xff, 0xd9])]), 32)).toBeNull();
    expect(viaJs(good.subarray(0, sos - 3), 32)).toBeNull();
    // scan data of all ones: no Huffman code of sharp's tables is all ones
    const ones = Buffer.from(good);
    for (let i = sos + 14; i < ones.length - 2; i++) ones[i] = 0xfe;
    expect(viaJs(ones, 32)).toBeNull();
  });
});
