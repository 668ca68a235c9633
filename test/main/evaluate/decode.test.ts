import fs from 'node:fs';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CurioError } from '../../../main/common/errors.js';
import { decodeForEncoder, isDecodedAsIs } from '../../../main/evaluate/decode.js';
import { decodeInWorker } from '../../../main/evaluate/decode-worker-pool.js';
import { makeTempDir, removeDir } from '../ingest/fixtures.js';

const SIZE = 32;

/** The decode as it was before the as-is path: one full sharp pipeline per image, read from its path. */
async function reference(paths: readonly string[], size: number): Promise<Float32Array> {
  const per = size * size * 3;
  const out = new Float32Array(paths.length * per);
  await Promise.all(
    paths.map(async (p, i) => {
      const raw = await sharp(p, { failOn: 'none' })
        .rotate()
        .resize(size, size, { fit: 'cover', position: 'centre' })
        .removeAlpha()
        .toColourspace('srgb')
        .raw()
        .toBuffer();
      for (let j = 0; j < per; j++) out[i * per + j] = raw[j]! / 255;
    }),
  );
  return out;
}

/** Seeded noise over a gradient, so that chroma, edges and every channel matter. */
function pixels(w: number, h: number, channels: number, seed: number): Buffer {
  let s = seed >>> 0;
  const b = Buffer.alloc(w * h * channels);
  for (let i = 0; i < b.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const x = (i / channels) % w;
    b[i] = (((x * 255) / w + (s >>> 24)) / 2 + ((i % channels) * 40)) & 255;
  }
  return b;
}
const img = (w: number, h: number, channels: 1 | 3 | 4, seed: number) => sharp(pixels(w, h, channels, seed), { raw: { width: w, height: h, channels } });

let dir: string;
/** file name → whether the as-is path may take it */
const files: Record<string, boolean> = {};

beforeAll(async () => {
  dir = makeTempDir('decode');
  const write = async (name: string, asIs: boolean, s: Sharp) => {
    await s.toFile(path.join(dir, name));
    files[name] = asIs;
  };
  for (let k = 0; k < 5; k++) await write(`plain${k}.jpg`, true, img(SIZE, SIZE, 3, k).jpeg({ quality: 60 + 8 * k }));
  await write('progressive.jpg', true, img(SIZE, SIZE, 3, 11).jpeg({ progressive: true }));
  await write('444.jpg', true, img(SIZE, SIZE, 3, 12).jpeg({ chromaSubsampling: '4:4:4' }));
  await write('large.jpg', false, img(1024, 1024, 3, 13).jpeg());
  await write('wide.jpg', false, img(96, 40, 3, 14).jpeg());
  await write('tall.png', false, img(30, 70, 3, 15).png());
  await write('small.jpg', false, img(20, 20, 3, 16).jpeg());
  await write('alpha.png', false, img(SIZE, SIZE, 4, 17).png());
  await write('gray.jpg', false, img(SIZE, SIZE, 1, 18).toColourspace('b-w').jpeg());
  await write('cmyk.jpg', false, img(SIZE, SIZE, 3, 19).toColourspace('cmyk').jpeg());
  // EXIF orientation 6 (rotate 90°): a square one, which the as-is path must still leave to the full pipeline
  await write('rotated-square.jpg', false, img(SIZE, SIZE, 3, 20).jpeg().withMetadata({ orientation: 6 }));
  await write('rotated.jpg', false, img(48, 32, 3, 21).jpeg().withMetadata({ orientation: 6 }));
  await write('icc.jpg', false, img(SIZE, SIZE, 3, 22).withIccProfile('p3').jpeg());
  await write('other-size.jpg', false, img(SIZE + 1, SIZE + 1, 3, 23).jpeg());
}, 60_000);
afterAll(() => removeDir(dir));

const all = () => Object.keys(files).map((n) => path.join(dir, n));

describe('decodeForEncoder', () => {
  it('tells the files the full pipeline leaves untouched from the others by their header', () => {
    for (const [name, asIs] of Object.entries(files)) expect([name, isDecodedAsIs(fs.readFileSync(path.join(dir, name)), SIZE)]).toEqual([name, asIs]);
    expect(isDecodedAsIs(fs.readFileSync(path.join(dir, 'plain0.jpg')), SIZE + 1)).toBe(false);
    expect(isDecodedAsIs(Buffer.from([0xff, 0xd8, 0xff]), SIZE)).toBe(false);
  });

  it('gives the same bytes as one full pipeline per image, on a mix of sizes, formats, EXIF and ICC', async () => {
    const paths = all();
    // and with the order shuffled, so that joined and single images interleave differently
    const shuffled = [...paths.slice(7), ...paths.slice(0, 7)];
    for (const p of [paths, shuffled]) {
      const got = await decodeForEncoder(p, SIZE);
      const want = await reference(p, SIZE);
      expect(got.length).toBe(p.length * SIZE * SIZE * 3);
      let differing = 0;
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) differing++;
      expect(differing).toBe(0);
    }
  });

  it('gives the same bytes for a batch of as-is images larger than one join', async () => {
    const plain = all().filter((p) => files[path.basename(p)]);
    const many = Array.from({ length: 75 }, (_, i) => plain[i % plain.length]!);
    const got = await decodeForEncoder(many, SIZE);
    expect(Buffer.from(got.buffer).equals(Buffer.from((await reference(many, SIZE)).buffer))).toBe(true);
  });

  it('decodes in a worker thread what the JS decoder takes, and leaves the rest to the caller', async () => {
    const paths = all();
    const reply = await decodeInWorker(paths, SIZE);
    expect(reply, 'the decode worker did not start').not.toBeNull();
    const want = await reference(paths, SIZE);
    const per = SIZE * SIZE * 3;
    paths.forEach((p, i) => {
      // baseline 4:2:0 / 4:4:4 at the size: the plain ones and 444.jpg; progressive.jpg and the others are not
      const baseline = files[path.basename(p)] && !p.endsWith('progressive.jpg');
      expect([path.basename(p), reply!.done[i]]).toEqual([path.basename(p), baseline ? 1 : 0]);
      if (baseline) expect(Buffer.from(reply!.out.buffer, i * per * 4, per * 4).equals(Buffer.from(want.buffer, i * per * 4, per * 4))).toBe(true);
    });
  });

  it('names the file that cannot be decoded, in a batch that would otherwise be joined', async () => {
    const bad = path.join(dir, 'bad.jpg');
    const good = fs.readFileSync(path.join(dir, 'plain0.jpg'));
    // a valid header for a 32×32 RGB JPEG followed by garbage in place of the scan
    fs.writeFileSync(bad, Buffer.concat([good.subarray(0, good.indexOf(Buffer.from([0xff, 0xda]))), Buffer.from([0xff, 0xda, 0, 2, 1, 2, 3])]));
    const paths = [...all().filter((p) => files[path.basename(p)]), bad];
    const err = await decodeForEncoder(paths, SIZE).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CurioError);
    expect((err as Error).message).toContain(`cannot decode ${bad}`);
    const missing = path.join(dir, 'missing.jpg');
    await expect(decodeForEncoder([missing], SIZE)).rejects.toThrow(`cannot decode ${missing}`);
  });
});
