import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Catalog } from '../../../main/catalog/catalog.js';
import { resolveEncoder } from '../../../main/curate/encoders.js';
import { fakeRun, tintedCatalog } from '../evaluate/report-fixtures.js';

// ONNX Runtime as it behaves where its native backend cannot start a session (a missing shared library, an
// unsupported CPU): every session creation fails.
vi.mock('onnxruntime-node', () => {
  const InferenceSession = { create: () => Promise.reject(new Error('libonnxruntime.so.1: cannot open shared object file')) };
  return { default: { InferenceSession }, InferenceSession };
});

let dir: string;
let catalog: Catalog;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-encoders-fallback-'));
  catalog = await tintedCatalog(dir, 2);
}, 120_000);

afterAll(() => {
  catalog?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('curation encoders without ONNX Runtime', () => {
  it('a ResNet run falls back to tfjs and says why; an .onnx file, which only ORT runs, is a clear error', async () => {
    const runId = await fakeRun(catalog, dir, 'small', 16, 5);
    const encoder = await resolveEncoder(catalog, runId);
    try {
      expect(encoder.runtime).toBe('tfjs');
      expect(encoder.fallback).toMatch(/^ONNX Runtime could not run it: .*libonnxruntime/);
      const paths = catalog.datasetImages(catalog.datasetIdByName('tinted')).map((i) => i.path);
      const rows = await encoder.embed(paths);
      expect(rows.every((r) => r !== null && r.length === encoder.dim)).toBe(true);
    } finally {
      await encoder.close();
    }
    const onnx = path.join(dir, 'model.onnx');
    fs.writeFileSync(onnx, 'bytes');
    await expect(resolveEncoder(catalog, onnx)).rejects.toThrow(/libonnxruntime/);
    await expect(resolveEncoder(catalog, runId, { runtime: 'onnxruntime' })).rejects.toThrow(/cannot load ONNX encoder run \d+ .*: libonnxruntime/);
  }, 60_000);
});
