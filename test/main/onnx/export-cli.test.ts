import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../../main/catalog/catalog.js';
import { createOnnxEmbedder, createRunOnnxEmbedder } from '../../../main/onnx/runtime.js';
import { createServices } from '../../../main/services.js';
import { createBackbone } from '../../../main/train/models/index.js';
import { Rng } from '../../../main/train/nn/index.js';
import { readCheckpoint, writeCheckpoint } from '../../../main/train/runs/checkpoint.js';
import type { CheckpointMeta } from '../../../main/train/runs/protocol.js';
import { RunStore } from '../../../main/train/runs/run-store.js';
import { fakeRun, tintedCatalog } from '../evaluate/report-fixtures.js';
import { lastJson, lines, runCurio } from '../cli/run-cli.js';

let dir: string;
let catalog: Catalog;
let db: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-onnx-cli-'));
  catalog = await tintedCatalog(dir, 4);
  db = catalog.path;
}, 120_000);

afterAll(() => {
  catalog?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function tfjsEmbeddings(backbone: string, imageSize: number, seed: number, x: Float32Array, n: number): Promise<Float32Array> {
  const model = createBackbone(backbone, { imageSize, seed });
  try {
    return tf.tidy(() => model.forward(tf.tensor4d(x, [n, imageSize, imageSize, 3]), { training: false }).dataSync() as Float32Array);
  } finally {
    model.dispose();
  }
}

describe('curio export-encoder --format onnx', () => {
  it('writes a model.onnx that loads and embeds as the run\'s tfjs backbone does; the tfjs export converts too', async () => {
    const imageSize = 16;
    const runId = await fakeRun(catalog, dir, 'small', imageSize, 5);
    const out = path.join(dir, 'onnx-out');
    const r = await runCurio(['export-encoder', '--run', String(runId), '--format', 'onnx', '--out', out, '--db', db, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson(r)).toEqual({ runId, format: 'onnx', files: [path.join(out, 'model.onnx')] });
    expect(fs.readdirSync(out)).toEqual(['model.onnx']);

    const n = 3;
    const rng = new Rng(2);
    const x = Float32Array.from({ length: n * imageSize * imageSize * 3 }, () => rng.normal());
    const ref = await tfjsEmbeddings('small', imageSize, 5, x, n);
    const tfjsOut = path.join(dir, 'tfjs-out');
    const t = await runCurio(['export-encoder', '--run', String(runId), '--format', 'tfjs', '--out', tfjsOut, '--db', db]);
    expect(t.code, t.stderr).toBe(0);
    const services = createServices({ dbPath: db, mode: 'browser' });
    // the exported file, its folder, the tfjs export converted in memory, and the run itself (the curation hook)
    for (const source of [path.join(out, 'model.onnx'), out, tfjsOut, runId]) {
      const embedder =
        typeof source === 'number' ? await createRunOnnxEmbedder(services.runs, source, { threads: 1 }) : await createOnnxEmbedder(source, { threads: 1 });
      try {
        expect([embedder.imageSize, embedder.dim]).toEqual([imageSize, 192]);
        const got = await embedder.embed(x, n);
        const scale = Math.max(...ref.map(Math.abs));
        expect(scale).toBeGreaterThan(0.01);
        const maxDiff = Math.max(...got.map((v, i) => Math.abs(v - ref[i]!)));
        expect(maxDiff, String(source)).toBeLessThanOrEqual(1e-3 * scale);
        await expect(embedder.embed(x.subarray(1), n)).rejects.toThrow(/expected 3×16×16×3/);
      } finally {
        await embedder.close();
      }
    }
    services.close();
  }, 180_000);

  it('writes a ViT run as ONNX that embeds as its tfjs backbone does', async () => {
    const imageSize = 16;
    const runId = await fakeRun(catalog, dir, 'vit-tiny', imageSize, 1, 4);
    const out = path.join(dir, 'vit-out');
    const r = await runCurio(['export-encoder', '--run', String(runId), '--format', 'onnx', '--out', out, '--db', db, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson(r)).toEqual({ runId, format: 'onnx', files: [path.join(out, 'model.onnx')] });
    const n = 2;
    const rng = new Rng(4);
    const x = Float32Array.from({ length: n * imageSize * imageSize * 3 }, () => rng.uniform());
    const ref = await tfjsEmbeddings('vit-tiny', imageSize, 1, x, n);
    const embedder = await createOnnxEmbedder(out, { threads: 1 });
    try {
      expect([embedder.imageSize, embedder.dim]).toEqual([imageSize, 192]);
      const got = await embedder.embed(x, n);
      expect(Math.max(...ref.map(Math.abs))).toBeGreaterThan(0.1);
      expect(Math.max(...got.map((v, i) => Math.abs(v - ref[i]!)))).toBeLessThanOrEqual(1e-4);
    } finally {
      await embedder.close();
    }
  }, 180_000);

  it('refuses a checkpoint whose backbone does not fit its architecture with a one-line error and writes nothing', async () => {
    const runId = await fakeRun(catalog, dir, 'vit-tiny', 16, 1, 4);
    // the run says 32 px, its position embedding holds a 16 px grid
    const file = new RunStore(catalog).get(runId).checkpoint!;
    const ckpt = readCheckpoint<CheckpointMeta>(file);
    ckpt.meta.config = { ...ckpt.meta.config, imageSize: 32 };
    writeCheckpoint(file, ckpt);
    const out = path.join(dir, 'bad-vit-out');
    const r = await runCurio(['export-encoder', '--run', String(runId), '--format', 'onnx', '--out', out, '--db', db]);
    expect(r.code).not.toBe(0);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot write its vit-tiny encoder as ONNX: .*pos_embed/);
    expect(fs.existsSync(out)).toBe(false);
  }, 180_000);
});
