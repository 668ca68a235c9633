import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { PRESET_METHODS, parsePipelineSpec, presetFor, type PipelineSpecInput } from '../../../shared/contract/augment.js';
import { augmentBatch, describeViews, drawBatch } from '../../../main/augment/index.js';
import { initBackend } from '../../../main/compute/index.js';
import { mulberry32 } from '../../../main/common/random.js';

const N = 4;
const S = 12;

function randomImages(seed: number, n = N, h = S, w = S): { t: tf.Tensor4D; px: Float32Array } {
  const r = mulberry32(seed);
  const px = Float32Array.from({ length: n * h * w * 3 }, () => r());
  return { t: tf.tensor4d(px, [n, h, w, 3]), px };
}

async function read(views: tf.Tensor4D[]): Promise<Float32Array[]> {
  const out = await Promise.all(views.map((v) => v.data() as Promise<Float32Array>));
  tf.dispose(views);
  return out;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const only = (ops: PipelineSpecInput['ops'], views = 1): PipelineSpecInput => ({ ops, views });

beforeAll(async () => {
  await initBackend({ prefer: 'wasm', skipTrainCheck: true });
});

describe('augmentBatch: determinism, shapes, memory', () => {
  it('the same seed gives identical pixels and a different seed different ones, for every preset', async () => {
    const { t } = randomImages(1, 2, 32, 32);
    for (const method of PRESET_METHODS) {
      const spec = presetFor(method, 32);
      const a = await read(augmentBatch(t, spec, 42));
      const b = await read(augmentBatch(t, spec, 42));
      const c = await read(augmentBatch(t, spec, 43));
      a.forEach((v, i) => expect(maxDiff(v, b[i]!), `${method} view ${i}`).toBe(0));
      expect(a.some((v, i) => maxDiff(v, c[i]!) > 0.01), method).toBe(true);
    }
    t.dispose();
  });

  it('makes 2 views at the crop size, or DINO 2 globals + 8 locals at 32 and 16 px', () => {
    const { t } = randomImages(2, 2, 32, 32);
    const simclr = augmentBatch(t, presetFor('simclr', 32), 1);
    expect(simclr.map((v) => v.shape)).toEqual([[2, 32, 32, 3], [2, 32, 32, 3]]);
    const dino = augmentBatch(t, presetFor('dino', 32), 1);
    expect(dino.map((v) => v.shape[1])).toEqual([32, 32, 16, 16, 16, 16, 16, 16, 16, 16]);
    expect(describeViews(presetFor('dino', 32), 32).map((v) => v.kind)).toEqual(['global', 'global', ...Array(8).fill('local')]);
    tf.dispose([t, ...simclr, ...dino]);
  });

  it('leaves no tensors behind and does not touch its input', async () => {
    const { t, px } = randomImages(3);
    augmentBatch(t, presetFor('byol', 224 > S ? S : 224), 0).forEach((v) => v.dispose()); // warm-up
    const before = tf.memory().numTensors;
    for (const method of PRESET_METHODS) tf.dispose(augmentBatch(t, presetFor(method, S), 5));
    tf.dispose(augmentBatch(t, only([{ op: 'gaussian_blur', sigma: [1, 2], p: 1 }]), 5));
    tf.dispose(augmentBatch(t, only([]), 5));
    expect(tf.memory().numTensors).toBe(before);
    expect(maxDiff(await t.data(), px)).toBe(0);
    t.dispose();
  });

  it('an empty pipeline or p = 0 everywhere returns the images unchanged', async () => {
    const { t, px } = randomImages(4);
    const [v] = await read(augmentBatch(t, only([
      { op: 'horizontal_flip', p: 0 },
      { op: 'color_jitter', p: 0 },
      { op: 'random_grayscale', p: 0 },
      { op: 'gaussian_blur', p: 0 },
      { op: 'solarize', p: 0 },
    ]), 9));
    expect(maxDiff(v!, px)).toBe(0);
    t.dispose();
  });

  it('gives the same pixels on the wasm and cpu backends (preview and training agree; catches the wasm edge-box crop bug)', async () => {
    const { px } = randomImages(5, 2, 32, 32);
    const run = async (backend: 'wasm' | 'cpu') => {
      await tf.setBackend(backend);
      const t = tf.tensor4d(px, [2, 32, 32, 3]);
      const out = await read(augmentBatch(t, { ...presetFor('simclr', 32), ops: [...presetFor('simclr', 32).ops, { op: 'gaussian_blur', p: 1 }, { op: 'solarize', p: 0.5 }] }, 11));
      t.dispose();
      return out;
    };
    const cpu = await run('cpu');
    const wasm = await run('wasm');
    cpu.forEach((v, i) => expect(maxDiff(wasm[i]!, v)).toBeLessThan(1e-4));
  });
});

/** Pixel (n, y, x, c) of an NHWC buffer. */
const at = (px: ArrayLike<number>, h: number, w: number) => (n: number, y: number, x: number, c: number) => px[((n * h + y) * w + x) * 3 + c]!;

describe('augmentBatch: each op against a naive per-pixel reference', () => {
  it('horizontal_flip mirrors exactly the images it draws', async () => {
    const { t, px } = randomImages(6, 8);
    const spec = only([{ op: 'horizontal_flip', p: 0.5 }]);
    const [v] = await read(augmentBatch(t, spec, 3));
    const apply = drawBatch(parsePipelineSpec(spec), 8, S, S, 3)[0]!.ops[0]!.apply;
    expect(apply.includes(0) && apply.includes(1)).toBe(true);
    const src = at(px, S, S);
    const out = at(v!, S, S);
    for (let n = 0; n < 8; n++) for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) for (let c = 0; c < 3; c++) {
      expect(out(n, y, x, c)).toBe(src(n, y, apply[n] ? S - 1 - x : x, c));
    }
    t.dispose();
  });

  it('a flip after a crop (done inside the crop) mirrors the unflipped view, on wasm and cpu, with the other ops between', async () => {
    const cases: { ops: PipelineSpecInput['ops']; tol: number; s?: number }[] = [
      // the whole 16-px image at 14 px: the mirrored box's last sample, 15 − 13·(15/13), rounds to −2e-15 (outside);
      // the 1e-6 pull-in that avoids it moves samples by 1.5e-5 px
      { ops: [{ op: 'random_resized_crop', size: 14, scale: [1, 1], ratio: [1, 1] }, { op: 'horizontal_flip', p: 0.5 }], tol: 1e-4, s: 16 },
      {
        ops: [
          { op: 'random_resized_crop', size: 10, scale: [0.2, 1] },
          { op: 'color_jitter', p: 1 },
          { op: 'horizontal_flip', p: 0.5 },
          { op: 'gaussian_blur', sigma: [0.5, 1.5], p: 1 },
          { op: 'random_grayscale', p: 0.5 },
        ],
        tol: 1e-4,
      },
    ];
    for (const backend of ['wasm', 'cpu'] as const) {
      await tf.setBackend(backend);
      for (const { ops, tol, s = S } of cases) {
        const { t } = randomImages(13, 8, s, s);
        const flipped = only(ops);
        const plain = only(ops.map((o) => (o.op === 'horizontal_flip' ? { ...o, p: 0 } : o)));
        const [v] = await read(augmentBatch(t, flipped, 5));
        const [u] = await read(augmentBatch(t, plain, 5));
        const apply = drawBatch(parsePipelineSpec(flipped), 8, s, s, 5)[0]!.ops.find((d) => d.op === 'horizontal_flip')!.apply;
        expect(apply.includes(0) && apply.includes(1)).toBe(true);
        const size = ops[0]!.op === 'random_resized_crop' ? ops[0]!.size : s;
        const out = at(v!, size, size);
        const ref = at(u!, size, size);
        let worst = 0;
        for (let n = 0; n < 8; n++) for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) for (let c = 0; c < 3; c++) {
          worst = Math.max(worst, Math.abs(out(n, y, x, c) - ref(n, y, apply[n] ? size - 1 - x : x, c)));
        }
        expect(worst, `${backend} ${ops.map((o) => o.op).join(',')}`).toBeLessThan(tol);
        t.dispose();
      }
    }
    await tf.setBackend('wasm');
  });

  it('random_grayscale sets all channels to BT.601 luma', async () => {
    const { t, px } = randomImages(7);
    const [v] = await read(augmentBatch(t, only([{ op: 'random_grayscale', p: 1 }]), 1));
    for (let i = 0; i < px.length; i += 3) {
      const y = 0.299 * px[i]! + 0.587 * px[i + 1]! + 0.114 * px[i + 2]!;
      for (let c = 0; c < 3; c++) expect(Math.abs(v![i + c]! - y)).toBeLessThan(1e-6);
    }
    t.dispose();
  });

  it('solarize inverts pixels at or above the threshold', async () => {
    const { t, px } = randomImages(8);
    const [v] = await read(augmentBatch(t, only([{ op: 'solarize', threshold: 0.3, p: 1 }]), 1));
    for (let i = 0; i < px.length; i++) expect(v![i]).toBeCloseTo(px[i]! >= 0.3 ? 1 - px[i]! : px[i]!, 6);
    t.dispose();
  });

  /** tf.image.cropAndResize semantics written out: box edges are the centres of the edge pixels. */
  function expectBilinearCrops(v: Float32Array, px: Float32Array, boxes: Float32Array, size: number, tol: number): void {
    const src = at(px, S, S);
    for (let n = 0; n < N; n++) {
      const [y1, x1, y2, x2] = boxes.subarray(n * 4, n * 4 + 4);
      for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) for (let c = 0; c < 3; c++) {
        const sy = (y1! + (i * (y2! - y1!)) / (size - 1)) * (S - 1);
        const sx = (x1! + (j * (x2! - x1!)) / (size - 1)) * (S - 1);
        const y0 = Math.floor(sy), x0 = Math.floor(sx);
        const yb = Math.min(y0 + 1, S - 1), xb = Math.min(x0 + 1, S - 1);
        const fy = sy - y0, fx = sx - x0;
        const ref = (1 - fy) * ((1 - fx) * src(n, y0, x0, c) + fx * src(n, y0, xb, c)) + fy * ((1 - fx) * src(n, yb, x0, c) + fx * src(n, yb, xb, c));
        const got = v[((n * size + i) * size + j) * 3 + c]!;
        if (!(Math.abs(got - ref) < tol)) throw new Error(`image ${n} (${i}, ${j}, ${c}): ${got}, reference ${ref}`);
      }
    }
  }

  it('random_resized_crop equals bilinear sampling of the drawn boxes, and scale 1 ratio 1 is the identity', async () => {
    const { t, px } = randomImages(9);
    const spec = only([{ op: 'random_resized_crop', size: 7, scale: [0.2, 0.9], ratio: [0.5, 2] }]);
    const [v] = await read(augmentBatch(t, spec, 4));
    const boxes = drawBatch(parsePipelineSpec(spec), N, S, S, 4)[0]!.boxes!;
    for (let n = 0; n < N; n++) {
      const [y1, x1, y2, x2] = boxes.subarray(n * 4, n * 4 + 4);
      const fracArea = (((y2! - y1!) * (S - 1) + 1) * ((x2! - x1!) * (S - 1) + 1)) / (S * S);
      expect(fracArea).toBeGreaterThan(0.2 - 0.15);
      expect(fracArea).toBeLessThan(0.9 + 0.15);
    }
    expectBilinearCrops(v!, px, boxes, 7, 1e-4);
    const [same] = await read(augmentBatch(t, only([{ op: 'random_resized_crop', size: S, scale: [1, 1], ratio: [1, 1] }]), 4));
    expect(maxDiff(same!, px)).toBeLessThan(1e-5);
    t.dispose();
  });

  it('gaussian_blur equals a naive 2-D Gaussian with reflected borders, per image sigma', async () => {
    const { t, px } = randomImages(10);
    const spec = only([{ op: 'gaussian_blur', sigma: [0.3, 1.5], p: 0.7 }]);
    const [v] = await read(augmentBatch(t, spec, 8));
    const d = drawBatch(parsePipelineSpec(spec), N, S, S, 8)[0]!.ops[0]! as { apply: Float32Array; sigma: Float32Array };
    let maxSigma = 0;
    for (let n = 0; n < N; n++) if (d.apply[n]) maxSigma = Math.max(maxSigma, d.sigma[n]!);
    const r = Math.ceil(3 * maxSigma);
    const refl = (i: number) => (i < 0 ? -i : i >= S ? 2 * (S - 1) - i : i);
    const src = at(px, S, S);
    for (let n = 0; n < N; n++) {
      const s = d.sigma[n]!;
      const g = Array.from({ length: 2 * r + 1 }, (_, k) => Math.exp(-((k - r) ** 2) / (2 * s * s)));
      const tot = g.reduce((a, b) => a + b);
      for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) for (let c = 0; c < 3; c++) {
        let ref = src(n, y, x, c);
        if (d.apply[n]) {
          ref = 0;
          for (let a = -r; a <= r; a++) for (let b = -r; b <= r; b++) ref += (g[a + r]! * g[b + r]! / (tot * tot)) * src(n, refl(y + a), refl(x + b), c);
        }
        expect(Math.abs(v![((n * S + y) * S + x) * 3 + c]! - ref)).toBeLessThan(1e-5);
      }
    }
    t.dispose();
  });

  it('color_jitter equals a naive per-pixel brightness/contrast/saturation/hue in the drawn order', async () => {
    const { t, px } = randomImages(11, 6);
    const spec = only([{ op: 'color_jitter', brightness: 0.6, contrast: 0.6, saturation: 0.6, hue: 0.3, strength: 1, p: 0.8 }]);
    const [v] = await read(augmentBatch(t, spec, 21));
    const d = drawBatch(parsePipelineSpec(spec), 6, S, S, 21)[0]!.ops[0]! as Extract<ReturnType<typeof drawBatch>[number]['ops'][number], { op: 'color_jitter' }>;
    const clip = (z: number) => Math.min(1, Math.max(0, z));
    const lum = (p: number[]) => 0.299 * p[0]! + 0.587 * p[1]! + 0.114 * p[2]!;
    for (let n = 0; n < 6; n++) {
      let img = Array.from({ length: S * S }, (_, i) => [0, 1, 2].map((c) => px[(n * S * S + i) * 3 + c]!));
      for (const step of d.order) {
        if (step === 'brightness') img = img.map((p) => p.map((z) => clip(z * d.brightness[n]!)));
        if (step === 'contrast') {
          const m = img.reduce((a, p) => a + lum(p), 0) / img.length;
          img = img.map((p) => p.map((z) => clip((z - m) * d.contrast[n]! + m)));
        }
        if (step === 'saturation') img = img.map((p) => { const g = lum(p); return p.map((z) => clip((z - g) * d.saturation[n]! + g)); });
        if (step === 'hue' && d.hue[n] !== 0) {
          // Reference hue shift through HSV-free YIQ written out by hand.
          const th = d.hue[n]! * 2 * Math.PI;
          img = img.map(([r, g, b]) => {
            const Y = 0.299 * r! + 0.587 * g! + 0.114 * b!;
            const I = 0.595716 * r! - 0.274453 * g! - 0.321263 * b!;
            const Q = 0.211456 * r! - 0.522591 * g! + 0.311135 * b!;
            const I2 = I * Math.cos(th) - Q * Math.sin(th);
            const Q2 = I * Math.sin(th) + Q * Math.cos(th);
            return [Y + 0.9563 * I2 + 0.621 * Q2, Y - 0.2721 * I2 - 0.6474 * Q2, Y - 1.107 * I2 + 1.7046 * Q2].map(clip);
          });
        }
      }
      for (let i = 0; i < S * S; i++) for (let c = 0; c < 3; c++) {
        expect(Math.abs(v![(n * S * S + i) * 3 + c]! - img[i]![c]!)).toBeLessThan(2e-3);
      }
    }
    expect(d.apply.includes(1)).toBe(true);
    t.dispose();
  });
});

describe('augmentBatch: views and streams', () => {
  it('per-view overrides apply only to their views (BYOL-style asymmetric solarize)', async () => {
    const { t, px } = randomImages(12);
    const spec: PipelineSpecInput = {
      views: 2,
      ops: [{ op: 'solarize', threshold: 0, p: 0.5 }],
      overrides: [
        { views: [0], op: 'solarize', set: { p: 0 } },
        { views: [1], op: 'solarize', set: { p: 1 } },
      ],
    };
    const [v0, v1] = await read(augmentBatch(t, spec, 1));
    expect(maxDiff(v0!, px)).toBe(0);
    for (let i = 0; i < px.length; i++) expect(v1![i]).toBeCloseTo(1 - px[i]!, 6);
    t.dispose();
  });

  it('changing one op leaves the random draws of the other ops unchanged', () => {
    const base = presetFor('simclr', 32);
    const stronger = { ...base, ops: base.ops.map((o) => (o.op === 'color_jitter' ? { ...o, strength: 1.5 } : o)) };
    const a = drawBatch(base, 8, 32, 32, 77);
    const b = drawBatch(parsePipelineSpec(stronger), 8, 32, 32, 77);
    for (let view = 0; view < 2; view++) {
      expect(b[view]!.boxes).toEqual(a[view]!.boxes);
      a[view]!.ops.forEach((d, i) => {
        if (d.op === 'color_jitter') expect(b[view]!.ops[i]).not.toEqual(d);
        else expect(b[view]!.ops[i]).toEqual(d);
      });
    }
  });

  it('computing only some views gives exactly those views of the full call (DINO: a global and two locals)', async () => {
    const { t } = randomImages(14, 3, 32, 32);
    const spec = presetFor('dino', 32);
    const all = await read(augmentBatch(t, spec, 31));
    const some = await read(augmentBatch(t, spec, 31, { only: [5, 0, 9] }));
    expect(some.map((v) => v.length)).toEqual([all[5]!.length, all[0]!.length, all[9]!.length]);
    expect(maxDiff(some[0]!, all[5]!)).toBe(0);
    expect(maxDiff(some[1]!, all[0]!)).toBe(0);
    expect(maxDiff(some[2]!, all[9]!)).toBe(0);
    expect(() => augmentBatch(t, spec, 31, { only: [10] })).toThrow(/view 10 does not exist \(the pipeline makes 10 views\)/);
    t.dispose();
  });

  it('rejects a bad image tensor or seed with a clear error', () => {
    const gray = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
    expect(() => augmentBatch(gray, presetFor('simclr', 32), 1)).toThrow(/expects NHWC RGB images \[n, h, w, 3\], got shape \[1, 4, 4, 1\]/);
    const rgb = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
    expect(() => augmentBatch(rgb, presetFor('simclr', 32), 1.5)).toThrow(/seed must be an integer/);
    expect(() => augmentBatch(rgb, { ops: [{ op: 'solarize', threshold: 3 }] }, 1)).toThrow(/ops\[0\]\.threshold/);
    tf.dispose([gray, rgb]);
  });
});
