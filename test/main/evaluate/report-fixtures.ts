// Small labelled datasets for the evaluation tests: colour-tinted noise images, so a linear probe on pixels or on a
// random encoder separates the classes and the numbers mean something, imported and split like a user would.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { Catalog } from '../../../main/catalog/catalog.js';
import { splitDataset } from '../../../main/catalog/split.js';
import { mulberry32 } from '../../../main/common/random.js';
import { ensureBackend } from '../../../main/evaluate/extract.js';
import { importFolders } from '../../../main/ingest/import.js';
import { createBackbone } from '../../../main/train/models/index.js';
import { writeCheckpoint } from '../../../main/train/runs/checkpoint.js';
import type { CheckpointMeta } from '../../../main/train/runs/protocol.js';
import { RunStore } from '../../../main/train/runs/run-store.js';
import { testJobContext } from '../ingest/fixtures.js';

export const TINTS: Record<string, [number, number, number]> = {
  blue: [40, 60, 200],
  green: [40, 180, 60],
  red: [200, 40, 40],
};

/** <dir>/<class>/<i>.png, size × size, each pixel the class tint plus seeded noise (every file distinct). */
export async function writeTintedImages(dir: string, perClass: number, size = 16, seed = 1): Promise<void> {
  const rand = mulberry32(seed);
  for (const [name, tint] of Object.entries(TINTS)) {
    fs.mkdirSync(path.join(dir, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const px = Buffer.alloc(size * size * 3);
      for (let j = 0; j < px.length; j++) px[j] = Math.max(0, Math.min(255, Math.round(tint[j % 3]! + (rand() - 0.5) * 160)));
      await sharp(px, { raw: { width: size, height: size, channels: 3 } }).png().toFile(path.join(dir, name, `${String(i).padStart(3, '0')}.png`));
    }
  }
}

export async function importFolder(catalog: Catalog, folder: string, dataset: string, labelsFromFolders = true): Promise<number> {
  const summary = await importFolders(
    catalog,
    { folders: [folder], dataset, labelsFromFolders, thumbnailDir: path.join(path.dirname(catalog.path), 'thumbnails'), useWorkers: false },
    testJobContext(),
  );
  return summary.datasetId;
}

/** A catalog in `dir` with `tinted` imported and split class-balanced into `train` (70%) and `test` (30%). */
export async function tintedCatalog(dir: string, perClass = 20): Promise<Catalog> {
  const images = path.join(dir, 'tinted');
  await writeTintedImages(images, perClass);
  const catalog = Catalog.open(path.join(dir, 'catalog.sqlite'));
  await importFolder(catalog, images, 'tinted');
  splitDataset(catalog, 'tinted', [{ name: 'train', fraction: 0.7 }, { name: 'test', fraction: 0.3 }], 0);
  return catalog;
}

/**
 * A run row with a checkpoint holding a backbone initialised with `seed`, as a finished run would leave it: what
 * evaluation reads from a run, without spending minutes training one.
 */
export async function fakeRun(catalog: Catalog, dir: string, backbone: string, imageSize: number, seed: number, patchSize?: number): Promise<number> {
  await ensureBackend();
  const store = new RunStore(catalog);
  const datasetId = catalog.datasetIdByName('tinted');
  const config = { dataset: 'tinted', method: 'simclr', backbone, imageSize, batchSize: 8, seed: 0, backend: 'auto', checkpointMinutes: 5, monitorSize: 0, pipeline: {}, ...(patchSize ? { patchSize } : {}) };
  const runId = store.create(`simclr-${backbone}`, datasetId, config as never);
  const model = createBackbone(backbone, { imageSize, seed, ...(patchSize ? { patchSize } : {}) });
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, t] of Object.entries(await model.getState())) tensors[`modules/backbone.${name}`] = t;
  model.dispose();
  // a projection head in the checkpoint, as a real run has: evaluation must ignore it
  tensors['modules/projector.0.weight'] = { shape: [2, 2], data: new Float32Array(4) };
  const meta: CheckpointMeta = {
    runId,
    step: 40,
    epoch: 2,
    batchInEpoch: 0,
    totalSteps: 40,
    config: config as unknown as CheckpointMeta['config'],
    optimizer: {},
    savedAt: new Date().toISOString(),
  };
  const file = path.join(dir, 'runs', String(runId), 'checkpoint.ckpt');
  writeCheckpoint(file, { meta, tensors });
  store.setCheckpoint(runId, file);
  store.setStatus(runId, 'done');
  return runId;
}
