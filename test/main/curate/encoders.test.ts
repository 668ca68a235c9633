import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Catalog } from '../../../main/catalog/catalog.js';
import { embedImages } from '../../../main/curate/embeddings.js';
import { checkEncoderSpec, encoderSpecFromArg, resolveEncoder, type CurateEncoder, type ResolveEncoderOptions } from '../../../main/curate/encoders.js';
import { decodeForEncoder, runEncoder, buildBackbone } from '../../../main/evaluate/extract.js';
import { createHandlers } from '../../../main/rpc/handlers.js';
import { createServices } from '../../../main/services.js';
import type { DedupResult } from '../../../shared/contract/curate.js';
import type { DecontaminateResult } from '../../../shared/contract/curate-versions.js';
import { readCheckpoint, writeCheckpoint } from '../../../main/train/runs/checkpoint.js';
import { exportEncoder } from '../../../main/train/runs/export.js';
import type { CheckpointMeta } from '../../../main/train/runs/protocol.js';
import { RunStore } from '../../../main/train/runs/run-store.js';
import { testJobContext } from '../ingest/fixtures.js';
import { fakeRun, tintedCatalog } from '../evaluate/report-fixtures.js';

const SIZE = 16;
let dir: string;
let catalog: Catalog;
let runId: number;
let paths: string[];
let tfjsDir: string;
let onnxDir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-encoders-'));
  catalog = await tintedCatalog(dir, 3);
  runId = await fakeRun(catalog, dir, 'small', SIZE, 5);
  paths = catalog.datasetImages(catalog.datasetIdByName('tinted')).map((i) => i.path);
  const services = createServices({ dbPath: catalog.path, mode: 'browser' });
  try {
    tfjsDir = path.join(dir, 'export-tfjs');
    onnxDir = path.join(dir, 'export-onnx');
    await exportEncoder(services.runs, runId, 'tfjs', tfjsDir);
    await exportEncoder(services.runs, runId, 'onnx', onnxDir);
  } finally {
    services.close();
  }
}, 120_000);

afterAll(() => {
  catalog?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function embedWith(spec: Parameters<typeof resolveEncoder>[1], options: ResolveEncoderOptions): Promise<{ encoder: CurateEncoder; rows: Float32Array[] }> {
  const encoder = await resolveEncoder(catalog, spec, { threads: 1, ...options });
  try {
    const rows = await encoder.embed(paths);
    expect(rows.every((r) => r !== null)).toBe(true);
    return { encoder, rows: rows as Float32Array[] };
  } finally {
    await encoder.close();
  }
}

function maxAbsDiff(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let m = 0;
  a.forEach((row, i) => row.forEach((v, d) => (m = Math.max(m, Math.abs(v - b[i]![d]!)))));
  return m;
}

/** Naive reference: the run's backbone straight from its checkpoint, forward on the decoded images, rows scaled to unit length by hand. */
async function reference(): Promise<Float32Array[]> {
  const source = runEncoder(new RunStore(catalog), runId);
  const backbone = buildBackbone(source);
  try {
    const x = await decodeForEncoder(paths, SIZE);
    const y = tf.tidy(() => backbone.forward(tf.tensor4d(x, [paths.length, SIZE, SIZE, 3]), { training: false }));
    const data = (await y.data()) as Float32Array;
    y.dispose();
    const dim = backbone.outputDim;
    return paths.map((_, i) => {
      const row = data.slice(i * dim, (i + 1) * dim);
      const norm = Math.hypot(...row);
      return row.map((v) => v / norm);
    });
  } finally {
    backbone.dispose();
  }
}

describe('curation encoders', () => {
  it('a run encoder embeds through ONNX Runtime and through tfjs alike (within 1e-3), as unit rows', async () => {
    const ort = await embedWith(runId, {});
    const tfjs = await embedWith(runId, { runtime: 'tfjs' });
    expect(ort.encoder.runtime).toBe('onnxruntime');
    expect(ort.encoder.fallback).toBeNull();
    expect(tfjs.encoder.runtime).toBe('tfjs');
    // the key names the weights, not the runtime
    expect(ort.encoder.id).toBe(tfjs.encoder.id);
    expect(ort.encoder.id).toMatch(new RegExp(`^run:${runId}:step40:[0-9a-f]{16}$`));
    expect(ort.encoder.dim).toBe(192);
    for (const r of ort.rows) expect(Math.hypot(...r)).toBeCloseTo(1, 4);
    expect(maxAbsDiff(ort.rows, tfjs.rows)).toBeLessThan(1e-3);
    expect(maxAbsDiff(tfjs.rows, await reference())).toBeLessThan(1e-5);
    // different images get different embeddings (the comparison above is not between constants)
    expect(maxAbsDiff([ort.rows[0]!], [ort.rows[paths.length - 1]!])).toBeGreaterThan(1e-3);
  }, 60_000);

  it('exported files embed as the run does: the tfjs folder (ORT and tfjs), its model.json, model.onnx and its folder', async () => {
    const run = await embedWith(runId, {});
    const cases: [string, ResolveEncoderOptions, string][] = [
      [tfjsDir, {}, 'onnxruntime'],
      [tfjsDir, { runtime: 'tfjs' }, 'tfjs'],
      [path.join(tfjsDir, 'model.json'), {}, 'onnxruntime'],
      [path.join(onnxDir, 'model.onnx'), {}, 'onnxruntime'],
      [onnxDir, {}, 'onnxruntime'],
    ];
    for (const [source, options, runtime] of cases) {
      const got = await embedWith(source, options);
      expect(got.encoder.runtime, source).toBe(runtime);
      expect(got.encoder.id, source).toMatch(/^(tfjs|onnx):sha256:[0-9a-f]{64}$/);
      expect(maxAbsDiff(got.rows, run.rows), source).toBeLessThan(1e-3);
    }
  }, 60_000);

  it('a ViT run embeds through ONNX Runtime as through tfjs (within 1e-4)', async () => {
    const vit = await fakeRun(catalog, dir, 'vit-tiny', SIZE, 3, 8);
    const ort = await embedWith(vit, {});
    const tfjs = await embedWith(vit, { runtime: 'tfjs' });
    expect(ort.encoder).toMatchObject({ runtime: 'onnxruntime', fallback: null, dim: 192 });
    expect(tfjs.encoder.runtime).toBe('tfjs');
    expect(maxAbsDiff(ort.rows, tfjs.rows)).toBeLessThan(1e-4);
    expect(maxAbsDiff([ort.rows[0]!], [ort.rows[paths.length - 1]!])).toBeGreaterThan(1e-3);
  }, 60_000);

  it('refuses a missing, malformed or unknown encoder with a clear message', async () => {
    const bad = path.join(dir, 'bad');
    fs.mkdirSync(bad);
    const write = (name: string, data: string | Buffer) => {
      const f = path.join(bad, name);
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, data);
      return f;
    };
    const garbageOnnx = write('garbage.onnx', Buffer.from('this is not a protobuf model'));
    const notJson = write('notjson/model.json', '{ nope');
    const otherFormat = write('layers/model.json', JSON.stringify({ modelTopology: {}, weightsManifest: [] }));
    // a Curio export with its weights cut short
    const shortDir = path.join(bad, 'short');
    fs.cpSync(tfjsDir, shortDir, { recursive: true });
    fs.truncateSync(path.join(shortDir, 'weights.bin'), 100);
    // a Curio export without its weights file
    const noWeights = path.join(bad, 'noweights');
    fs.cpSync(tfjsDir, noWeights, { recursive: true });
    fs.rmSync(path.join(noWeights, 'weights.bin'));
    // the right number of weights, but a convolution's kernel in the wrong shape
    const wrongShape = path.join(bad, 'wrongshape');
    fs.cpSync(tfjsDir, wrongShape, { recursive: true });
    const manifest = JSON.parse(fs.readFileSync(path.join(wrongShape, 'model.json'), 'utf8')) as { weightsManifest: { weights: { name: string; shape: number[] }[] }[] };
    const kernel = manifest.weightsManifest[0]!.weights.find((w) => w.shape.length === 4)!;
    kernel.shape = [...kernel.shape].reverse();
    fs.writeFileSync(path.join(wrongShape, 'model.json'), JSON.stringify(manifest));
    // an unknown architecture
    const unknownArch = path.join(bad, 'unknownarch');
    fs.cpSync(tfjsDir, unknownArch, { recursive: true });
    fs.writeFileSync(path.join(unknownArch, 'model.json'), JSON.stringify({ ...manifest, format: 'curio-encoder/v1', backbone: 'resnet9000', imageSize: 16 }));
    const txt = write('notes.txt', 'hello');
    const empty = path.join(bad, 'empty');
    fs.mkdirSync(empty);

    const cases: [string | number, RegExp][] = [
      [path.join(dir, 'missing.onnx'), /encoder .*missing\.onnx does not exist/],
      [garbageOnnx, /cannot load ONNX encoder .*garbage\.onnx/],
      [notJson, /cannot read encoder .*model\.json/],
      [otherFormat, /neither a tfjs Layers model nor a tfjs Graph model/],
      [shortDir, /weights file is shorter than the manifest/],
      [noWeights, /cannot read encoder .*noweights.*ENOENT/],
      [wrongShape, /does not fit a small backbone/],
      [unknownArch, /unknown backbone "resnet9000"/],
      [txt, /notes\.txt is not a model: give a \.onnx file/],
      [empty, /holds neither model\.onnx nor a model\.json/],
      [9999, /no run with id 9999/],
    ];
    for (const [spec, message] of cases) {
      await expect(resolveEncoder(catalog, spec), String(spec)).rejects.toThrow(message);
    }
    expect(() => checkEncoderSpec(catalog, 9999)).toThrow(/no run with id 9999/);
    expect(() => checkEncoderSpec(catalog, path.join(dir, 'missing'))).toThrow(/does not exist/);
    expect(() => checkEncoderSpec(catalog, 'relative/model.onnx', { absolute: true })).toThrow(/must be absolute/);
    expect(encoderSpecFromArg('12')).toBe(12);
    expect(encoderSpecFromArg('builtin')).toBe('builtin');
    expect(encoderSpecFromArg('x/model.onnx')).toBe(path.resolve('x/model.onnx'));
  }, 60_000);

  it('stored embeddings are keyed by encoder: reused while the weights stay, recomputed when they change', async () => {
    const images = catalog.datasetImages(catalog.datasetIdByName('tinted'));
    const embed = async () => {
      const encoder = await resolveEncoder(catalog, runId, { threads: 1 });
      try {
        return await embedImages(catalog, images, testJobContext(), { encoder });
      } finally {
        await encoder.close();
      }
    };
    const first = await embed();
    expect(first.computed + first.reused).toBe(images.length);
    const again = await embed();
    expect(again).toMatchObject({ reused: images.length, computed: 0, failed: [] });
    expect(Array.from(again.vectors)).toEqual(Array.from(first.vectors));
    // the built-in descriptor has its own rows: nothing of the run's is read for it
    const builtin = await embedImages(catalog, images, testJobContext());
    expect(builtin.dim).not.toBe(first.dim);
    expect(builtin.encoder.id).toBe('builtin:descriptor-v1');

    // The same run, the same step, other weights (a run resumed from an earlier checkpoint and trained again).
    const file = new RunStore(catalog).get(runId).checkpoint!;
    const ckpt = readCheckpoint<CheckpointMeta>(file);
    const name = Object.keys(ckpt.tensors).find((n) => n.startsWith('modules/backbone.') && n.endsWith('conv.weight')) ?? Object.keys(ckpt.tensors)[0]!;
    const t = ckpt.tensors[name]!;
    ckpt.tensors[name] = { shape: t.shape, data: t.data.map((v) => v * 1.5 + 0.01) };
    writeCheckpoint(file, ckpt);
    const changed = await embed();
    expect(changed.encoder.id).not.toBe(first.encoder.id);
    expect(changed).toMatchObject({ reused: 0, computed: images.length });

    // A re-exported (changed) weights file changes a file encoder's key too.
    const idOf = async (spec: string) => {
      const e = await resolveEncoder(catalog, spec, { threads: 1 });
      await e.close();
      return e.id;
    };
    const before = await idOf(tfjsDir);
    const weights = path.join(tfjsDir, 'weights.bin');
    const bytes = fs.readFileSync(weights);
    bytes.writeFloatLE(bytes.readFloatLE(0) + 0.5, 0);
    fs.writeFileSync(weights, bytes);
    const after = await idOf(tfjsDir);
    expect(after).not.toBe(before);
  }, 60_000);

  it('an image that cannot be decoded fails alone; the others of its batch embed', async () => {
    const broken = path.join(dir, 'broken.png');
    fs.writeFileSync(broken, 'not an image');
    const encoder = await resolveEncoder(catalog, path.join(onnxDir, 'model.onnx'), { threads: 1 });
    try {
      const rows = await encoder.embed([paths[0]!, broken, paths[1]!]);
      expect(rows[1]).toBeNull();
      expect(rows[0]).not.toBeNull();
      expect(rows[2]).not.toBeNull();
    } finally {
      await encoder.close();
    }
  }, 30_000);

  it('over RPC: a bad encoder is refused before a job starts; dedup and decontamination run with a run encoder', async () => {
    const services = createServices({ dbPath: catalog.path, mode: 'browser' });
    try {
      // the payload as a client sends it (defaults unfilled); the handler parses it
      const h = createHandlers(services) as unknown as Record<string, (input: unknown) => { jobId: string }>;
      expect(() => h['curate.dedup']!({ dataset: 'tinted', encoder: 'relative/model.onnx' })).toThrow(/must be absolute/);
      expect(() => h['curate.dedup']!({ dataset: 'tinted', encoder: 4242 })).toThrow(/no run with id 4242/);
      expect(() => h['curate.dedup']!({ dataset: 'tinted', encoder: -1 })).toThrow(/encoder: a run id is a positive whole number/);
      expect(() => h['curate.balance']!({ dataset: 'tinted', encoder: path.join(dir, 'nope') })).toThrow(/does not exist/);
      const done = async (jobId: string) => {
        await vi.waitFor(() => expect(services.jobs.list().find((j) => j.jobId === jobId)?.state).toBe('done'), { timeout: 30_000 });
        return services.jobs.list().find((j) => j.jobId === jobId)!.result;
      };
      const dedup = (await done((await h['curate.dedup']!({ dataset: 'tinted', strategies: ['embedding'], encoder: runId })).jobId)) as DedupResult;
      expect(dedup.encoder).toMatchObject({ runtime: 'onnxruntime', fallback: null, id: expect.stringMatching(new RegExp(`^run:${runId}:`)) });
      const decon = (await done((await h['curate.decontaminate']!({ dataset: 'train', against: 'test', encoder: runId, cosine: 1 })).jobId)) as DecontaminateResult;
      expect(decon.imageCount + decon.evalCount).toBe(paths.length);
      expect(decon.embeddingFailures).toBe(0);
      expect(decon.encoder).toEqual(dedup.encoder);
    } finally {
      services.close();
    }
  }, 60_000);
});
