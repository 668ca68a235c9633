// A tiny end-to-end pretraining run through the real CLI on 512 CIFAR-10 images: import with labels, train, list,
// export the encoder and read it back. Small images (16 px) and a short time budget keep it to tens of seconds.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../main/catalog/catalog.js';
import { createBackbone } from '../../main/train/models/index.js';
import { readEncoder } from '../../main/train/runs/export.js';
import { RunStore } from '../../main/train/runs/run-store.js';
import { CIFAR_TARBALL, makeTempDir, removeDir } from '../main/ingest/fixtures.js';
import { lastJson, lines, runCurio } from '../main/cli/run-cli.js';

const haveTarball = fs.existsSync(CIFAR_TARBALL);
if (!haveTarball) {
  process.stderr.write(`SKIP CIFAR-10 training test: ${CIFAR_TARBALL} is absent (the 50,000 CIFAR-10 training JPEGs)\n`);
}

describe.skipIf(!haveTarball)('curio train end to end on 512 CIFAR-10 images', () => {
  let dir: string;
  let db: string;

  beforeAll(async () => {
    dir = makeTempDir('train-cifar');
    db = path.join(dir, 'catalog.sqlite');
    // 50 per class (0000–0049) plus 12 more: 512 JPEGs of 32×32 in train/<class>/
    execFileSync('tar', ['-xzf', CIFAR_TARBALL, '-C', dir, '--wildcards', 'train/*/00[0-4][0-9].jpg', 'train/airplane/005[0-9].jpg', 'train/automobile/005[01].jpg'], {
      stdio: 'pipe',
    });
    const r = await runCurio(['import', path.join(dir, 'train'), '--dataset', 'c512', '--labels-from-folders', '--db', db, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson(r)).toMatchObject({ imported: 512, failed: 0 });
    // 8 images for the pure-JS cpu backend, which needs seconds per image
    const tiny = path.join(dir, 'tiny');
    fs.mkdirSync(tiny);
    for (const f of fs.readdirSync(path.join(dir, 'train', 'cat')).sort().slice(0, 8)) fs.copyFileSync(path.join(dir, 'train', 'cat', f), path.join(tiny, f));
    const t = await runCurio(['import', tiny, '--dataset', 'tiny', '--db', db, '--json']);
    expect(lastJson(t)).toMatchObject({ imported: 8 });
  });
  afterAll(() => removeDir(dir));

  it('trains SimCLR on wasm, records the run, its metrics and checkpoint, and exports the encoder', async () => {
    const r = await runCurio([
      'train', '--dataset', 'c512', '--method', 'simclr', '--backbone', 'small', '--image-size', '16', '--batch', '16',
      '--minutes', '0.1', '--backend', 'wasm', '--db', db, '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const result = lastJson(r);
    process.stderr.write(`wasm run: ${lines(r.stdout).at(-1)}\n`);
    expect(result).toMatchObject({ status: 'done', backend: 'wasm', backendReason: 'wasm was requested' });
    expect(typeof result['runId']).toBe('number');
    expect(typeof result['loss']).toBe('number');
    expect(Number.isFinite(result['loss'])).toBe(true);
    const steps = result['steps'] as number;
    expect(steps).toBeGreaterThanOrEqual(1);
    // 512 labeled images: 51 held out for the kNN monitor, so kNN is a fraction
    expect(result['knnTop1']).toBeGreaterThanOrEqual(0);
    expect(result['knnTop1']).toBeLessThanOrEqual(1);
    expect(result['embeddingStd']).toBeGreaterThan(0);
    const runId = result['runId'] as number;

    const listed = await runCurio(['runs', '--db', db, '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const runs = lastJson(listed) as unknown as { id: number; status: string; step: number; backend: string; checkpoint: string }[];
    const run = runs.find((x) => x.id === runId)!;
    expect(run).toMatchObject({ status: 'done', step: steps, backend: 'wasm' });
    expect(fs.existsSync(run.checkpoint)).toBe(true);
    expect(run.checkpoint).toBe(result['checkpoint']);

    const catalog = Catalog.open(db, { readonly: true });
    try {
      const metrics = new RunStore(catalog).metrics(runId, 100_000);
      const stepPoints = metrics.filter((m) => m.kind === 'step');
      const epochPoints = metrics.filter((m) => m.kind === 'epoch');
      expect(stepPoints.map((m) => m.step)).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
      for (const m of stepPoints) {
        expect(Number.isFinite(m.loss) && m.lr > 0 && m.imagesPerSecond > 0 && m.numTensors > 0).toBe(true);
        expect(m.dataWait).toBeGreaterThanOrEqual(0);
      }
      // a time budget that ends mid-epoch still closes with one monitor point on the final weights
      expect(epochPoints.length).toBeGreaterThanOrEqual(1);
      expect(epochPoints.at(-1)!.step).toBe(steps);
      expect(epochPoints.at(-1)).toMatchObject({ knnTop1: result['knnTop1'] });
    } finally {
      catalog.close();
    }

    const out = path.join(dir, 'encoder');
    const exported = await runCurio(['export-encoder', '--run', String(runId), '--format', 'tfjs', '--out', out, '--db', db, '--json']);
    expect(exported.code, exported.stderr).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(['model.json', 'weights.bin']);
    const { manifest, tensors } = readEncoder(out);
    expect(manifest).toMatchObject({ backbone: 'small', imageSize: 16, method: 'simclr', runId, step: steps });
    const backbone = createBackbone('small', { imageSize: 16, seed: 0 });
    try {
      const params = backbone.namedParameters();
      const state = await backbone.getState();
      // the encoder holds exactly the backbone's parameters and BN statistics, with their shapes
      expect(Object.keys(tensors).sort()).toEqual(Object.keys(state).sort());
      for (const [name, t] of Object.entries(state)) expect(tensors[name]!.shape, name).toEqual(t.shape);
      const paramCount = params.reduce((s, [name]) => s + tensors[name]!.data.length, 0);
      expect(paramCount).toBe(backbone.numParameters());
      expect(paramCount).toBeGreaterThan(800_000);
      // trained weights, not the initial ones
      const [firstName, first] = params[0]!;
      const init = first.dataSync();
      expect(Array.from(tensors[firstName]!.data)).not.toEqual(Array.from(init));
    } finally {
      backbone.dispose();
    }

    // ONNX export of a ResNet run (main/onnx) writes model.onnx
    const onnx = await runCurio(['export-encoder', '--run', String(runId), '--format', 'onnx', '--out', path.join(dir, 'onnx'), '--db', db, '--json']);
    expect(onnx.code, onnx.stderr).toBe(0);
    expect(fs.readdirSync(path.join(dir, 'onnx'))).toContain('model.onnx');
  });

  it('honours --backend cpu, and an unavailable backend fails with a one-line error naming it', async () => {
    const cpu = await runCurio([
      'train', '--dataset', 'tiny', '--method', 'simclr', '--backbone', 'small', '--image-size', '8', '--batch', '2',
      '--minutes', '0.01', '--backend', 'cpu', '--db', db, '--json',
    ]);
    expect(cpu.code, cpu.stderr).toBe(0);
    process.stderr.write(`cpu run: ${lines(cpu.stdout).at(-1)}\n`);
    // no labeled monitor set: no kNN, but the collapse check (embedding std) still runs on training images
    expect(lastJson(cpu)).toMatchObject({ backend: 'cpu', status: 'done', knnTop1: null });
    expect(lastJson(cpu)['embeddingStd']).toBeGreaterThan(0);
    expect(lastJson(cpu)['steps']).toBeGreaterThanOrEqual(1);

    const tf = await runCurio(['train', '--dataset', 'c512', '--method', 'simclr', '--backbone', 'small', '--image-size', '8', '--batch', '8', '--epochs', '1', '--backend', 'tensorflow', '--db', db, '--json']);
    expect(tf.code).not.toBe(0);
    expect(tf.stdout).toBe('');
    const errorLines = lines(tf.stderr).filter((l) => /error/i.test(l));
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toMatch(/backend "tensorflow" is not available: @tensorflow\/tfjs-node-gpu is not installed/);

    const bad = await runCurio(['train', '--dataset', 'c512', '--method', 'simclr', '--backbone', 'small', '--backend', 'cuda', '--db', db]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--backend must be one of auto, webgpu, tensorflow, native, wasm, webgpu-gl, cpu/);
  });
});
