import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { BatchNorm, Conv2d, LayerNorm, Linear, Rng, Sequential, ReLU, gelu } from '../../../../main/train/nn/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function arr(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

describe('Module', () => {
  it('names parameters and buffers by dotted path', () => {
    const rng = new Rng(1);
    const net = new Sequential([new Linear(rng, 4, 3), new BatchNorm(3), new ReLU(), new Linear(rng, 3, 2, { bias: false })]);
    expect(net.namedParameters().map(([n]) => n)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '3.weight']);
    expect(net.namedBuffers().map(([n]) => n)).toEqual(['1.running_mean', '1.running_var']);
    expect(net.numParameters()).toBe(4 * 3 + 3 + 3 + 3 + 3 * 2);
    net.dispose();
  });

  it('reproduces weights from a seed and differs across seeds', () => {
    const a = new Conv2d(new Rng(7), 3, 8, 3);
    const b = new Conv2d(new Rng(7), 3, 8, 3);
    const c = new Conv2d(new Rng(8), 3, 8, 3);
    expect(arr(a.weight)).toEqual(arr(b.weight));
    expect(arr(a.weight)).not.toEqual(arr(c.weight));
    // He fan-out: std = sqrt(2 / (3·3·8))
    const w = arr(a.weight);
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(0.6 * Math.sqrt(2 / 72));
    expect(std).toBeLessThan(1.4 * Math.sqrt(2 / 72));
    for (const m of [a, b, c]) m.dispose();
  });

  it('round-trips getState/setState exactly and rejects mismatched states', async () => {
    const rng = new Rng(3);
    const src = new Sequential([new Conv2d(rng, 3, 4, 3, { padding: 1 }), new BatchNorm(4)]);
    const dst = new Sequential([new Conv2d(new Rng(99), 3, 4, 3, { padding: 1 }), new BatchNorm(4)]);
    tf.tidy(() => src.forward(tf.randomNormal([2, 5, 5, 3], 0, 1, 'float32', 1), { training: true }));
    const state = await src.getState();
    dst.setState(state);
    expect(await dst.getState()).toEqual(state);
    expect(arr((dst.namedBuffers()[0]![1]))).toEqual(arr(src.namedBuffers()[0]![1]));
    const copy = { ...state, '0.weight': { shape: [1, 1, 3, 4], data: new Float32Array(12) } };
    expect(() => dst.setState(copy)).toThrow(/shape/);
    const { ['1.bias']: _, ...missing } = state;
    expect(() => dst.setState(missing)).toThrow(/missing "1.bias"/);
    expect(() => dst.setState({ ...state, extra: state['1.bias']! })).toThrow(/unknown/);
    src.dispose();
    dst.dispose();
  });

  it('getState copies, so later training does not change a snapshot', async () => {
    const lin = new Linear(new Rng(1), 2, 2);
    const before = await lin.getState();
    const saved = Array.from(before['weight']!.data);
    tf.tidy(() => lin.weight.assign(tf.add(lin.weight, 1)));
    expect(Array.from(before['weight']!.data)).toEqual(saved);
    lin.dispose();
  });

  it('dispose frees every variable', () => {
    const start = tf.memory().numTensors;
    const net = new Sequential([new Conv2d(new Rng(1), 3, 4, 3), new BatchNorm(4), new Linear(new Rng(2), 4, 2)]);
    expect(tf.memory().numTensors).toBeGreaterThan(start);
    net.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('layers', () => {
  it('Conv2d with padding matches a naive convolution (stride 2)', () => {
    const conv = new Conv2d(new Rng(5), 2, 3, 3, { stride: 2, padding: 1, bias: true });
    tf.tidy(() => conv.bias!.assign(tf.tensor1d([0.1, -0.2, 0.3])));
    const x = tf.randomNormal([1, 5, 5, 2], 0, 1, 'float32', 2);
    const y = conv.forward(x);
    expect(y.shape).toEqual([1, 3, 3, 3]);
    const xv = arr(x);
    const wv = arr(conv.weight);
    const bv = [0.1, -0.2, 0.3];
    const got = arr(y);
    for (let oy = 0; oy < 3; oy++)
      for (let ox = 0; ox < 3; ox++)
        for (let o = 0; o < 3; o++) {
          let s = bv[o]!;
          for (let ky = 0; ky < 3; ky++)
            for (let kx = 0; kx < 3; kx++) {
              const iy = oy * 2 - 1 + ky;
              const ix = ox * 2 - 1 + kx;
              if (iy < 0 || ix < 0 || iy >= 5 || ix >= 5) continue;
              for (let c = 0; c < 2; c++) s += xv[(iy * 5 + ix) * 2 + c]! * wv[((ky * 3 + kx) * 2 + c) * 3 + o]!;
            }
          expect(got[(oy * 3 + ox) * 3 + o]).toBeCloseTo(s, 4);
        }
    tf.dispose([x, y]);
    conv.dispose();
  });

  it('BatchNorm normalises with batch stats in training, updates running stats PyTorch-style, uses them in eval', async () => {
    const bn = new BatchNorm(2, { momentum: 0.1 });
    const xs = [1, 10, 3, 20, 5, 30, 7, 40];
    const x = tf.tensor2d(xs, [4, 2]);
    const y = bn.forward(x, { training: true });
    const col0 = [1, 3, 5, 7];
    const mean0 = 4;
    const varBiased0 = col0.reduce((s, v) => s + (v - mean0) ** 2, 0) / 4;
    expect(arr(y)[0]).toBeCloseTo((1 - mean0) / Math.sqrt(varBiased0 + 1e-5), 4);
    expect(arr(bn.runningMean)[0]).toBeCloseTo(0.1 * mean0, 5);
    expect(arr(bn.runningVar)[0]).toBeCloseTo(0.9 + 0.1 * ((varBiased0 * 4) / 3), 5);
    const frozen = await bn.getState();
    const y2 = bn.forward(x, { training: true, updateStats: false });
    expect(await bn.getState()).toEqual(frozen);
    const e = bn.forward(x, { training: false });
    expect(arr(e)[0]).toBeCloseTo((1 - arr(bn.runningMean)[0]!) / Math.sqrt(arr(bn.runningVar)[0]! + 1e-5), 4);
    tf.dispose([x, y, y2, e]);
    bn.dispose();
  });

  it('LayerNorm and GELU match their formulas', () => {
    const ln = new LayerNorm(4);
    const x = tf.tensor2d([[1, 2, 3, 6]]);
    const v = arr(ln.forward(x));
    const variance = (4 + 1 + 0 + 9) / 4; // mean 3
    expect(v[3]).toBeCloseTo(3 / Math.sqrt(variance + 1e-6), 4);
    const g = arr(gelu(tf.tensor1d([-1, 0, 1.5])));
    expect(g[0]).toBeCloseTo(-0.158655, 4);
    expect(g[1]).toBeCloseTo(0, 6);
    expect(g[2]).toBeCloseTo(1.399789, 4);
    ln.dispose();
  });
});
