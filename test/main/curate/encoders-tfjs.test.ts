import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Catalog } from '../../../main/catalog/catalog.js';
import { resolveEncoder, type CurateEncoder } from '../../../main/curate/encoders.js';
import { decodeForEncoder, ensureBackend } from '../../../main/evaluate/extract.js';
import { tintedCatalog } from '../evaluate/report-fixtures.js';

// Plain tfjs models, as other tools save them: tf.LayersModel.save output and tfjs-converter graph-model output.

let dir: string;
let catalog: Catalog;
let paths: string[];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-encoders-tfjs-'));
  catalog = await tintedCatalog(dir, 2);
  paths = catalog.datasetImages(catalog.datasetIdByName('tinted')).map((i) => i.path);
  await ensureBackend();
}, 120_000);

afterAll(() => {
  catalog?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function bytesOf(data: tf.io.WeightData): Uint8Array {
  const parts = Array.isArray(data) ? data : [data];
  const out = new Uint8Array(parts.reduce((s, b) => s + b.byteLength, 0));
  let o = 0;
  for (const b of parts) {
    out.set(new Uint8Array(b), o);
    o += b.byteLength;
  }
  return out;
}

/** Saves a LayersModel as tf.io's file layout does (model.json + shards), the weights split over two shards. */
async function saveLayers(model: tf.LayersModel, folder: string): Promise<string> {
  fs.mkdirSync(folder, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const bytes = bytesOf(artifacts.weightData!);
      const cut = Math.floor(bytes.length / 2);
      const shards = ['group1-shard1of2.bin', 'group1-shard2of2.bin'];
      fs.writeFileSync(path.join(folder, shards[0]!), bytes.subarray(0, cut));
      fs.writeFileSync(path.join(folder, shards[1]!), bytes.subarray(cut));
      const json = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: shards, weights: artifacts.weightSpecs }],
      };
      fs.writeFileSync(path.join(folder, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return path.join(folder, 'model.json');
}

async function embed(spec: string): Promise<{ encoder: CurateEncoder; rows: Float32Array[] }> {
  const encoder = await resolveEncoder(catalog, spec);
  try {
    const rows = await encoder.embed(paths);
    expect(rows.every((r) => r !== null)).toBe(true);
    return { encoder, rows: rows as Float32Array[] };
  } finally {
    await encoder.close();
  }
}

/** Naive reference: forward on the decoded images, 4-D outputs averaged over H and W by hand, rows scaled to unit length by hand. */
async function reference(size: number, forward: (x: tf.Tensor4D) => tf.Tensor): Promise<Float32Array[]> {
  const x = tf.tensor4d(await decodeForEncoder(paths, size), [paths.length, size, size, 3]);
  const y = forward(x);
  const data = (await y.data()) as Float32Array;
  const shape = y.shape;
  tf.dispose([x, y]);
  const n = shape[0]!;
  const per = data.length / n;
  const channels = shape.length === 4 ? shape[3]! : per;
  return Array.from({ length: n }, (_, i) => {
    const row = new Float32Array(channels);
    if (shape.length === 4) {
      const pixels = per / channels;
      for (let p = 0; p < pixels; p++) for (let c = 0; c < channels; c++) row[c]! += data[i * per + p * channels + c]! / pixels;
    } else row.set(data.subarray(i * per, (i + 1) * per));
    const norm = Math.hypot(...row);
    return row.map((v) => v / norm);
  });
}

function maxAbsDiff(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let m = 0;
  a.forEach((row, i) => row.forEach((v, d) => (m = Math.max(m, Math.abs(v - b[i]![d]!)))));
  return m;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A converter-style graph model written by hand: images [-1, 10, 10, 3] → Conv2D (1×1, 4 filters, VALID) → Relu. */
function writeGraphModel(folder: string, filter: Float32Array, inputShape = [-1, 10, 10, 3]): string {
  fs.mkdirSync(folder, { recursive: true });
  const f32 = { type: 'DT_FLOAT' };
  const dims = (d: number[]) => ({ dim: d.map((size) => ({ size: String(size) })) });
  const json = {
    format: 'graph-model',
    generatedBy: 'hand-written for a test',
    convertedBy: null,
    modelTopology: {
      node: [
        { name: 'images', op: 'Placeholder', attr: { dtype: f32, shape: { shape: dims(inputShape) } } },
        { name: 'filter', op: 'Const', attr: { dtype: f32, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dims([1, 1, 3, 4]) } } } },
        {
          name: 'conv',
          op: 'Conv2D',
          input: ['images', 'filter'],
          attr: {
            T: f32,
            strides: { list: { i: ['1', '1', '1', '1'] } },
            dilations: { list: { i: ['1', '1', '1', '1'] } },
            padding: { s: b64('VALID') },
            data_format: { s: b64('NHWC') },
          },
        },
        { name: 'features', op: 'Relu', input: ['conv'], attr: { T: f32 } },
      ],
      library: {},
      versions: { producer: 1 },
    },
    weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'filter', shape: [1, 1, 3, 4], dtype: 'float32' }] }],
  };
  fs.writeFileSync(path.join(folder, 'weights.bin'), new Uint8Array(filter.buffer));
  fs.writeFileSync(path.join(folder, 'model.json'), JSON.stringify(json));
  return path.join(folder, 'model.json');
}

type GraphNode = { name: string; op: string; input?: string[]; attr?: Record<string, unknown> };

const f32 = { type: 'DT_FLOAT' };
const dims = (d: number[]) => ({ dim: d.map((size) => ({ size: String(size) })) });
const frame = { s: b64('loop') };

/** The shared stem of the control-flow graphs: images [-1, 10, 10, 3] → Conv2D (1×1, 4 filters) → Relu, named `features`. */
const stem: GraphNode[] = [
  { name: 'images', op: 'Placeholder', attr: { dtype: f32, shape: { shape: dims([-1, 10, 10, 3]) } } },
  { name: 'filter', op: 'Const', attr: { dtype: f32, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dims([1, 1, 3, 4]) } } } },
  {
    name: 'conv',
    op: 'Conv2D',
    input: ['images', 'filter'],
    attr: { T: f32, strides: { list: { i: ['1', '1', '1', '1'] } }, dilations: { list: { i: ['1', '1', '1', '1'] } }, padding: { s: b64('VALID') }, data_format: { s: b64('NHWC') } },
  },
  { name: 'features', op: 'Relu', input: ['conv'], attr: { T: f32 } },
];

const scalarConst = (name: string): GraphNode => ({ name, op: 'Const', attr: { dtype: f32, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dims([]) } } } });
const binary = (name: string, op: string, a: string, b: string): GraphNode => ({ name, op, input: [a, b], attr: { T: f32 } });
const unary = (name: string, op: string, a: string, extra: Record<string, unknown> = {}): GraphNode => ({ name, op, input: [a], attr: { T: f32, ...extra } });

/** Writes a converter-style graph model: `nodes` after the stem, the filter and the scalar constants in one shard, in manifest order. */
function writeControlFlowGraph(folder: string, nodes: GraphNode[], filter: Float32Array, scalars: Record<string, number>): string {
  fs.mkdirSync(folder, { recursive: true });
  const weights = [{ name: 'filter', shape: [1, 1, 3, 4], dtype: 'float32' }, ...Object.keys(scalars).map((name) => ({ name, shape: [], dtype: 'float32' }))];
  const values = Float32Array.from([...filter, ...Object.values(scalars)]);
  const json = {
    format: 'graph-model',
    generatedBy: 'hand-written for a test',
    convertedBy: null,
    modelTopology: { node: [...stem, ...nodes], library: {}, versions: { producer: 1 } },
    weightsManifest: [{ paths: ['weights.bin'], weights }],
  };
  fs.writeFileSync(path.join(folder, 'weights.bin'), new Uint8Array(values.buffer));
  fs.writeFileSync(path.join(folder, 'model.json'), JSON.stringify(json));
  return path.join(folder, 'model.json');
}

/** tf.cond as a TF1 frozen graph holds it: Switch on a predicate computed from two constants, one op per branch, Merge. */
function writeCondGraph(folder: string, filter: Float32Array, take: boolean): string {
  const nodes: GraphNode[] = [
    scalarConst('a'),
    scalarConst('b'),
    binary('cond/pred', 'Greater', 'a', 'b'),
    { name: 'cond/Switch', op: 'Switch', input: ['features', 'cond/pred'], attr: { T: f32 } },
    unary('cond/then', 'Square', 'cond/Switch:1'),
    unary('cond/else', 'Neg', 'cond/Switch'),
    { name: 'cond/Merge', op: 'Merge', input: ['cond/else', 'cond/then'], attr: { T: f32, N: { i: '2' } } },
  ];
  return writeControlFlowGraph(folder, nodes, filter, take ? { a: 1, b: 0 } : { a: 0, b: 1 });
}

/**
 * tf.while_loop as a TF1 frozen graph holds it (Enter, Merge, LoopCond, Switch, NextIteration, Exit):
 * i = 0, x = features; while i < 2: x = x·x + features, i = i + 1.
 */
function writeWhileGraph(folder: string, filter: Float32Array): string {
  const nodes: GraphNode[] = [
    scalarConst('i0'),
    scalarConst('limit'),
    scalarConst('one'),
    unary('loop/Enter_i', 'Enter', 'i0', { frame_name: frame }),
    unary('loop/Enter_x', 'Enter', 'features', { frame_name: frame }),
    { name: 'loop/Merge_i', op: 'Merge', input: ['loop/Enter_i', 'loop/NextIteration_i'], attr: { T: f32, N: { i: '2' } } },
    { name: 'loop/Merge_x', op: 'Merge', input: ['loop/Enter_x', 'loop/NextIteration_x'], attr: { T: f32, N: { i: '2' } } },
    binary('loop/Less', 'Less', 'loop/Merge_i', 'limit'),
    { name: 'loop/LoopCond', op: 'LoopCond', input: ['loop/Less'] },
    { name: 'loop/Switch_i', op: 'Switch', input: ['loop/Merge_i', 'loop/LoopCond'], attr: { T: f32 } },
    { name: 'loop/Switch_x', op: 'Switch', input: ['loop/Merge_x', 'loop/LoopCond'], attr: { T: f32 } },
    unary('loop/Identity_i', 'Identity', 'loop/Switch_i:1'),
    unary('loop/Identity_x', 'Identity', 'loop/Switch_x:1'),
    binary('loop/add_i', 'AddV2', 'loop/Identity_i', 'one'),
    binary('loop/square', 'Mul', 'loop/Identity_x', 'loop/Identity_x'),
    binary('loop/add_x', 'AddV2', 'loop/square', 'features'),
    unary('loop/NextIteration_i', 'NextIteration', 'loop/add_i'),
    unary('loop/NextIteration_x', 'NextIteration', 'loop/add_x'),
    unary('loop/Exit_x', 'Exit', 'loop/Switch_x'),
  ];
  return writeControlFlowGraph(folder, nodes, filter, { i0: 0, limit: 2, one: 1 });
}

describe('plain tfjs models as curation encoders', () => {
  it('a saved LayersModel with a 4-D output embeds as its global-average-pooled output, L2-normalised', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [12, 12, 3], filters: 5, kernelSize: 3, activation: 'relu' }),
        tf.layers.conv2d({ filters: 6, kernelSize: 3, biasInitializer: 'randomNormal' }),
      ],
    });
    const file = await saveLayers(model, path.join(dir, 'layers-conv'));
    const ref = await reference(12, (x) => model.predict(x) as tf.Tensor);
    model.dispose();
    const before = tf.memory().numTensors;
    // the folder and its model.json alike
    for (const spec of [file, path.dirname(file)]) {
      const { encoder, rows } = await embed(spec);
      expect(encoder).toMatchObject({ runtime: 'tfjs', dim: 6, label: file });
      expect(encoder.fallback).toMatch(/plain tfjs layers-model/);
      expect(encoder.id).toMatch(/^tfjs:sha256:[0-9a-f]{64}$/);
      for (const r of rows) expect(Math.hypot(...r)).toBeCloseTo(1, 5);
      expect(maxAbsDiff(rows, ref)).toBeLessThan(1e-5);
      expect(maxAbsDiff([rows[0]!], [rows[rows.length - 1]!])).toBeGreaterThan(1e-3);
    }
    // closing the encoder frees the model's weights
    expect(tf.memory().numTensors).toBe(before);
  }, 60_000);

  it('a LayersModel with a flat output embeds as that output, and its key changes with its weights', async () => {
    const model = tf.sequential({
      layers: [tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 3, kernelSize: 2, strides: 2 }), tf.layers.flatten(), tf.layers.dense({ units: 7 })],
    });
    const file = await saveLayers(model, path.join(dir, 'layers-dense'));
    const ref = await reference(8, (x) => model.predict(x) as tf.Tensor);
    model.dispose();
    const first = await embed(file);
    expect(first.encoder.dim).toBe(7);
    expect(maxAbsDiff(first.rows, ref)).toBeLessThan(1e-5);
    const shard = path.join(path.dirname(file), 'group1-shard2of2.bin');
    const bytes = fs.readFileSync(shard);
    bytes.writeFloatLE(bytes.readFloatLE(0) + 0.5, 0);
    fs.writeFileSync(shard, bytes);
    const second = await embed(file);
    expect(second.encoder.id).not.toBe(first.encoder.id);
  }, 60_000);

  it('a converter-style GraphModel embeds as its pooled output', async () => {
    const filter = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i + 1));
    const file = writeGraphModel(path.join(dir, 'graph'), filter);
    const w = tf.tensor4d(filter, [1, 1, 3, 4]);
    const ref = await reference(10, (x) => tf.relu(tf.conv2d(x, w, 1, 'valid')));
    w.dispose();
    const { encoder, rows } = await embed(file);
    expect(encoder).toMatchObject({ runtime: 'tfjs', dim: 4 });
    expect(encoder.fallback).toMatch(/plain tfjs graph-model/);
    expect(maxAbsDiff(rows, ref)).toBeLessThan(1e-5);
  }, 60_000);

  it('graphs with control flow (a TF1 cond and a TF1 while loop) run through executeAsync and match a hand-computed reference', async () => {
    const filter = Float32Array.from({ length: 12 }, (_, i) => Math.cos(i + 0.5));
    const w = tf.tensor4d(filter, [1, 1, 3, 4]);
    const features = (x: tf.Tensor4D) => tf.relu(tf.conv2d(x, w, 1, 'valid'));
    const cases: [string, string, (x: tf.Tensor4D) => tf.Tensor][] = [
      ['cond, then branch', writeCondGraph(path.join(dir, 'graph-cond-then'), filter, true), (x) => tf.square(features(x))],
      ['cond, else branch', writeCondGraph(path.join(dir, 'graph-cond-else'), filter, false), (x) => tf.neg(features(x))],
      [
        'while loop, two iterations',
        writeWhileGraph(path.join(dir, 'graph-while'), filter),
        (x) => {
          const f = features(x);
          const once = tf.add(tf.mul(f, f), f);
          return tf.add(tf.mul(once, once), f);
        },
      ],
    ];
    const executeAsync = vi.spyOn(tf.GraphModel.prototype, 'executeAsync');
    try {
      for (const [name, file, forward] of cases) {
        const ref = await reference(10, (x) => tf.tidy(() => forward(x)));
        const before = tf.memory().numTensors;
        executeAsync.mockClear();
        const { encoder, rows } = await embed(file);
        expect(encoder, name).toMatchObject({ runtime: 'tfjs', dim: 4 });
        // the probe image and the embedding batch both took the async path
        expect(executeAsync.mock.calls.length, name).toBeGreaterThanOrEqual(2);
        expect(maxAbsDiff(rows, ref), name).toBeLessThan(1e-5);
        expect(tf.memory().numTensors, name).toBe(before);
      }
    } finally {
      executeAsync.mockRestore();
      w.dispose();
    }
  }, 60_000);

  it('refuses wrong input shapes, missing or short shards, malformed JSON and ORT with a clear one-line error', async () => {
    const gray = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [12, 12, 1], filters: 2, kernelSize: 3 })] });
    const grayFile = await saveLayers(gray, path.join(dir, 'gray'));
    gray.dispose();
    const wide = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [12, 16, 3], filters: 2, kernelSize: 3 })] });
    const wideFile = await saveLayers(wide, path.join(dir, 'wide'));
    wide.dispose();
    const ok = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [12, 12, 3], filters: 2, kernelSize: 3 })] });
    const missing = await saveLayers(ok, path.join(dir, 'missing-shard'));
    const short = await saveLayers(ok, path.join(dir, 'short-shard'));
    const outside = await saveLayers(ok, path.join(dir, 'outside'));
    ok.dispose();
    fs.rmSync(path.join(path.dirname(missing), 'group1-shard2of2.bin'));
    fs.truncateSync(path.join(path.dirname(short), 'group1-shard2of2.bin'), 3);
    const outsideJson = JSON.parse(fs.readFileSync(outside, 'utf8')) as { weightsManifest: { paths: string[] }[] };
    outsideJson.weightsManifest[0]!.paths[1] = '../missing-shard/group1-shard1of2.bin';
    fs.writeFileSync(outside, JSON.stringify(outsideJson));
    const broken = path.join(dir, 'broken', 'model.json');
    fs.mkdirSync(path.dirname(broken));
    fs.writeFileSync(broken, '{"modelTopology": ');

    // a converter graph of free size, and one with a fixed batch
    const anySize = writeGraphModel(path.join(dir, 'graph-any-size'), new Float32Array(12), [-1, -1, -1, 3]);
    const fixedBatch = writeGraphModel(path.join(dir, 'graph-batch-1'), new Float32Array(12), [1, 10, 10, 3]);
    // two outputs
    const input = tf.input({ shape: [8, 8, 3] });
    const twoHeads = tf.model({ inputs: input, outputs: [tf.layers.conv2d({ filters: 2, kernelSize: 3 }).apply(input) as tf.SymbolicTensor, tf.layers.flatten().apply(input) as tf.SymbolicTensor] });
    const twoHeadsFile = await saveLayers(twoHeads, path.join(dir, 'two-heads'));
    twoHeads.dispose();

    const cases: [string, RegExp, { runtime?: 'onnxruntime' }?][] = [
      [anySize, /takes input \[null, null, null, 3\]; Curio needs/],
      [fixedBatch, /takes input \[1, 10, 10, 3\]; Curio needs/],
      [twoHeadsFile, /has 2 outputs; an image encoder has one/],
      [grayFile, /takes input \[null, 12, 12, 1\]; Curio needs \[null, S, S, 3\]/],
      [wideFile, /takes input \[null, 12, 16, 3\]; Curio needs \[null, S, S, 3\]/],
      [missing, /weight shard group1-shard2of2\.bin is missing/],
      [short, /the weight shards hold \d+ bytes, the manifest needs \d+/],
      [outside, /weight shard "\.\.\/missing-shard\/group1-shard1of2\.bin" lies outside the model's folder/],
      [broken, /cannot read encoder .*broken.*model\.json: /],
      [grayFile, /is a plain tfjs model; it runs on tfjs only/, { runtime: 'onnxruntime' }],
    ];
    for (const [spec, message, options] of cases) {
      const err = await resolveEncoder(catalog, spec, options ?? {}).then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message, spec).toMatch(message);
      expect(err?.message.includes('\n'), spec).toBe(false);
    }
  }, 60_000);
});
