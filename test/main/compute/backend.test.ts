import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  AUTO_ORDER,
  BackendUnavailableError,
  conv2dBackpropFilterIm2col,
  initBackend,
  parseBackendPreference,
} from '../../../main/compute/index.js';
import { mulberry32 } from '../../../main/common/random.js';

const require = createRequire(import.meta.url);
function installed(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

describe('initBackend', () => {
  it('auto picks the first backend in speed order that trains, and says why the faster ones were skipped', async () => {
    const choice = await initBackend();
    expect(tf.getBackend()).toBe(choice.tfBackend);
    const last = choice.tried.at(-1)!;
    expect(last).toMatchObject({ name: choice.backend, ok: true });
    const skipped = choice.tried.slice(0, -1);
    // Tried strictly in AUTO_ORDER, each failure with a reason, nothing tried after the winner.
    expect(choice.tried.map((t) => t.name)).toEqual(AUTO_ORDER.slice(0, choice.tried.length));
    for (const t of skipped) {
      expect(t.ok).toBe(false);
      expect(t.reason.length).toBeGreaterThan(5);
      expect(choice.reason).toContain(`${t.name}: ${t.reason}`);
    }
    expect(choice.reason).toContain(choice.backend);
    if (!installed('@tensorflow/tfjs-node') && !installed('@tensorflow/tfjs-node-gpu') && choice.backend !== 'webgpu') {
      expect(choice.tried.find((t) => t.name === 'tensorflow')?.reason).toMatch(/tfjs-node is not installed/);
    }
  });

  it('a forced backend that cannot load is a clear error naming it and the reason', async () => {
    const forced = installed('@tensorflow/tfjs-node') || installed('@tensorflow/tfjs-node-gpu') ? null : 'tensorflow';
    if (!forced) return; // tfjs-node is installed here; nothing unavailable to force
    const err = await initBackend({ prefer: forced }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toMatch(/^backend "tensorflow" is not available: .*not installed/);
    expect((err as BackendUnavailableError).tried).toEqual([{ name: 'tensorflow', ok: false, reason: expect.any(String) }]);
  });

  it('a forced backend is used as asked and reported as requested', async () => {
    const c = await initBackend({ prefer: 'cpu' });
    expect(c).toMatchObject({ backend: 'cpu', tfBackend: 'cpu', reason: 'cpu was requested' });
    const w = await initBackend({ prefer: 'wasm' });
    expect(w).toMatchObject({ backend: 'wasm', tfBackend: 'wasm' });
  });

  it('parses --backend values and rejects unknown ones with the list', () => {
    expect(parseBackendPreference('webgpu-gl')).toBe('webgpu-gl');
    expect(() => parseBackendPreference('cuda')).toThrow(/unknown backend "cuda": expected one of auto, webgpu, tensorflow, native, wasm, webgpu-gl, cpu/);
  });

  it('initialising leaves no tensors behind', async () => {
    await initBackend({ prefer: 'wasm' });
    const before = tf.memory().numTensors;
    await initBackend({ prefer: 'wasm' });
    await initBackend({ prefer: 'cpu' });
    expect(tf.memory().numTensors).toBe(before);
  });
});

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  x: number[];
  dy: number[];
  xShape: [number, number, number, number];
  dyShape: [number, number, number, number];
  filterShape: [number, number, number, number];
  strides: [number, number];
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
}

function randomCase(seed: number): Case {
  const r = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  for (;;) {
    const n = int(1, 3);
    const h = int(3, 11);
    const w = int(3, 11);
    const cin = int(1, 5);
    const cout = int(1, 4);
    const kh = int(1, 5);
    const kw = int(1, 5);
    const strides: [number, number] = [int(1, 3), int(1, 3)];
    const padKind = int(0, 2);
    const dataFormat = r() < 0.2 ? 'NCHW' : 'NHWC';
    const ph: [number, number] = [int(0, 2), int(0, 2)];
    const pw: [number, number] = [int(0, 2), int(0, 2)];
    const pad: Pad =
      padKind === 0 ? 'same' : padKind === 1 ? 'valid' : dataFormat === 'NHWC' ? [[0, 0], ph, pw, [0, 0]] : [[0, 0], [0, 0], ph, pw];
    const xShape: [number, number, number, number] = dataFormat === 'NHWC' ? [n, h, w, cin] : [n, cin, h, w];
    let info: tf.backend_util.Conv2DInfo;
    try {
      info = tf.backend_util.computeConv2DInfo(xShape, [kh, kw, cin, cout], strides, 1, pad, undefined, false, dataFormat === 'NHWC' ? 'channelsLast' : 'channelsFirst');
    } catch {
      continue;
    }
    if (info.outHeight < 1 || info.outWidth < 1) continue;
    const dyShape: [number, number, number, number] =
      dataFormat === 'NHWC' ? [n, info.outHeight, info.outWidth, cout] : [n, cout, info.outHeight, info.outWidth];
    const fill = (len: number) => Array.from({ length: len }, () => r() * 2 - 1);
    return {
      x: fill(xShape.reduce((a, b) => a * b)),
      dy: fill(dyShape.reduce((a, b) => a * b)),
      xShape,
      dyShape,
      filterShape: [kh, kw, cin, cout],
      strides,
      pad,
      dataFormat,
    };
  }
}

async function backpropFilter(backend: 'cpu' | 'wasm', c: Case): Promise<Float32Array> {
  await tf.setBackend(backend);
  const x = tf.tensor4d(c.x, c.xShape);
  const dy = tf.tensor4d(c.dy, c.dyShape);
  const out = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
    strides: c.strides,
    pad: c.pad,
    dataFormat: c.dataFormat,
    dimRoundingMode: undefined,
    filterShape: c.filterShape,
  } as unknown as tf.NamedAttrMap) as tf.Tensor;
  expect(out.shape).toEqual(c.filterShape);
  const data = (await out.data()) as Float32Array;
  tf.dispose([x, dy, out]);
  return data;
}

function expectClose(actual: Float32Array, expected: Float32Array, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const tol = 1e-4 * (1 + Math.abs(expected[i]!));
    if (!(Math.abs(actual[i]! - expected[i]!) <= tol)) {
      throw new Error(`${label}: element ${i} is ${actual[i]}, cpu gives ${expected[i]}`);
    }
  }
}

describe('wasm Conv2DBackpropFilter', () => {
  it('matches the cpu backend on random shapes, strides, paddings and odd sizes', async () => {
    await initBackend({ prefer: 'wasm', skipTrainCheck: true });
    for (let seed = 1; seed <= 40; seed++) {
      const c = randomCase(seed);
      const label = `seed ${seed}: x ${c.xShape} filter ${c.filterShape} strides ${c.strides} pad ${JSON.stringify(c.pad)} ${c.dataFormat}`;
      const expected = await backpropFilter('cpu', c);
      const actual = await backpropFilter('wasm', c);
      expectClose(actual, expected, label);
    }
  });

  it('gives the same answer when the batch is split into im2col chunks', async () => {
    await initBackend({ prefer: 'wasm', skipTrainCheck: true });
    const c = randomCase(7);
    const x = tf.tensor4d(c.x, c.xShape);
    const dy = tf.tensor4d(c.dy, c.dyShape);
    const attrs = { strides: c.strides, pad: c.pad, dataFormat: c.dataFormat, filterShape: c.filterShape };
    const whole = conv2dBackpropFilterIm2col(x, dy, attrs);
    const chunked = conv2dBackpropFilterIm2col(x, dy, attrs, 1);
    expectClose((await chunked.data()) as Float32Array, (await whole.data()) as Float32Array, 'chunked');
    tf.dispose([x, dy, whole, chunked]);
  });

  it('lets tf.grad train a conv layer on wasm with the same gradient as cpu and no leaked tensors', async () => {
    const r = mulberry32(99);
    const xs = Array.from({ length: 4 * 9 * 9 * 3 }, () => r());
    const ws = Array.from({ length: 3 * 3 * 3 * 8 }, () => r() - 0.5);
    const gradOn = async (backend: 'cpu' | 'wasm') => {
      await tf.setBackend(backend);
      const x = tf.tensor4d(xs, [4, 9, 9, 3]);
      const w = tf.tensor4d(ws, [3, 3, 3, 8]);
      const before = tf.memory().numTensors;
      const g = tf.grad((wt: tf.Tensor) => tf.conv2d(x, wt as tf.Tensor4D, 2, 'same').relu().square().mean())(w);
      const data = (await g.data()) as Float32Array;
      g.dispose();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, w]);
      return data;
    };
    const expected = await gradOn('cpu');
    await initBackend({ prefer: 'wasm', skipTrainCheck: true });
    expectClose(await gradOn('wasm'), expected, 'tf.grad');
  });
});

describe('webgpu-gl (Dawn on OpenGL ES / llvmpipe)', () => {
  it('either trains with the same conv gradient as cpu or says why it cannot start', async () => {
    const r = mulberry32(5);
    const xs = Array.from({ length: 2 * 7 * 7 * 3 }, () => r());
    const ws = Array.from({ length: 3 * 3 * 3 * 4 }, () => r() - 0.5);
    const grad = async () => {
      const x = tf.tensor4d(xs, [2, 7, 7, 3]);
      const w = tf.tensor4d(ws, [3, 3, 3, 4]);
      const g = tf.grad((wt: tf.Tensor) => tf.conv2d(x, wt as tf.Tensor4D, 1, 'same').relu().mean())(w);
      const data = (await g.data()) as Float32Array;
      tf.dispose([x, w, g]);
      return data;
    };
    await initBackend({ prefer: 'cpu' });
    const expected = await grad();
    let choice;
    try {
      choice = await initBackend({ prefer: 'webgpu-gl' });
    } catch (err) {
      expect((err as Error).message).toMatch(/^backend "webgpu-gl" is not available: \S/);
      return;
    }
    expect(choice).toMatchObject({ backend: 'webgpu-gl', tfBackend: 'webgpu' });
    expectClose(await grad(), expected, 'webgpu-gl');
    await initBackend({ prefer: 'cpu' });
  });
});
