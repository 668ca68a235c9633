// A small catalog of structured images (gradients and shapes, so every augmentation visibly changes them).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { importFolders } from '../../../main/ingest/import.js';
import { createServices, type Services } from '../../../main/services.js';

export interface PreviewFixture {
  services: Services;
  dir: string;
  dbPath: string;
  datasetId: number;
  emptyId: number;
  cleanup(): void;
}

export async function writeShapeImage(file: string, i: number, width = 120, height = 90): Promise<void> {
  const hue = (i * 47) % 360;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="hsl(${hue},70%,35%)"/><stop offset="1" stop-color="hsl(${(hue + 120) % 360},80%,70%)"/>
    </linearGradient></defs>
    <rect width="${width}" height="${height}" fill="url(#g)"/>
    <circle cx="${20 + ((i * 13) % 80)}" cy="${25 + ((i * 7) % 40)}" r="${12 + (i % 4) * 4}" fill="hsl(${(hue + 200) % 360},90%,55%)"/>
    <rect x="${60 - (i % 5) * 8}" y="50" width="36" height="24" fill="white" opacity="0.7"/>
  </svg>`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(Buffer.from(svg)).png().toFile(file);
}

/** `count` images in two label folders, imported as dataset "shapes", plus an empty dataset "empty". */
export async function previewFixture(count = 12, size: [number, number] = [120, 90]): Promise<PreviewFixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-preview-'));
  const imagesDir = path.join(dir, 'images');
  for (let i = 0; i < count; i++) await writeShapeImage(path.join(imagesDir, i % 2 ? 'a' : 'b', `${i}.png`), i, size[0], size[1]);
  const dbPath = path.join(dir, 'catalog.sqlite');
  const services = createServices({ dbPath, mode: 'browser' });
  const { promise } = services.jobs.start('import', (ctx) =>
    importFolders(services.catalog, { folders: [imagesDir], dataset: 'shapes', labelsFromFolders: true, thumbnailDir: services.thumbnailDir }, ctx),
  );
  const { datasetId } = await promise;
  const emptyId = services.catalog.createDataset('empty', 'import');
  return {
    services,
    dir,
    dbPath,
    datasetId,
    emptyId,
    cleanup() {
      services.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
