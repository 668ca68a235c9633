// Services with a small real catalog for the transport tests, and the checks that it came through intact.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import sharp from 'sharp';
import { importFolders } from '../../../main/ingest/import.js';
import { mulberry32 } from '../../../main/common/random.js';
import { createServices, type Services } from '../../../main/services.js';

export interface SeededServices {
  services: Services;
  dir: string;
  dbPath: string;
  imagesDir: string;
  datasetId: number;
  /** empty datasets made before the seeded one, so it does not sit at the small ids a fuzzer hits most */
  fillerIds: number[];
  cleanup(): void;
}

export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `curio-${prefix}-`));
}

async function writeNoisePng(file: string, seed: number, width = 24, height = 16): Promise<void> {
  const rand = mulberry32(seed);
  const px = Buffer.alloc(width * height * 3);
  for (let i = 0; i < px.length; i++) px[i] = Math.floor(rand() * 256);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(px, { raw: { width, height, channels: 3 } }).png().toFile(file);
}

/** A catalog on a temp file holding one dataset of `count` small images in two label folders (plus one broken file). */
export async function seededServices(prefix: string, count = 6, fillers = 0): Promise<SeededServices> {
  const dir = makeTempDir(prefix);
  const imagesDir = path.join(dir, 'images');
  for (let i = 0; i < count; i++) await writeNoisePng(path.join(imagesDir, i % 2 ? 'cat' : 'dog', `${i}.png`), i + 1);
  fs.writeFileSync(path.join(imagesDir, 'dog', 'broken.png'), 'not a png');
  const dbPath = path.join(dir, 'catalog.sqlite');
  const services = createServices({ dbPath, mode: 'browser' });
  const fillerIds = Array.from({ length: fillers }, (_, k) => services.catalog.createDataset(`filler-${k + 1}`, 'import'));
  const { promise } = services.jobs.start('import', (ctx) =>
    importFolders(services.catalog, { folders: [imagesDir], dataset: 'seed', labelsFromFolders: true, thumbnailDir: services.thumbnailDir }, ctx),
  );
  const summary = await promise;
  return {
    services,
    dir,
    dbPath,
    imagesDir,
    datasetId: summary.datasetId,
    fillerIds,
    cleanup() {
      services.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What a reader sees of one dataset: its counts and every row, for before/after comparisons. */
export function snapshotDataset(services: Services, datasetId: number) {
  const dataset = services.catalog.getDataset(datasetId);
  const images = services.catalog.listImages({ datasetId, offset: 0, limit: 1000 });
  return { dataset, images, labels: services.catalog.labels(datasetId), failures: services.catalog.failures(datasetId, 100) };
}

/** SQLite's own integrity and foreign-key checks, through a second connection as another process would see it. */
export function integrityProblems(dbPath: string): string[] {
  const db = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
  try {
    const integrity = (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
    const fk = db.pragma('foreign_key_check') as unknown[];
    return [...integrity.filter((r) => r !== 'ok'), ...fk.map((r) => `foreign key: ${JSON.stringify(r)}`)];
  } finally {
    db.close();
  }
}

/** Waits until no job is running (cancelling the ones a fuzz run started), so the catalog is quiet before checks. */
export async function settleJobs(services: Services, timeoutMs = 30_000): Promise<void> {
  services.jobs.cancelAll();
  const deadline = Date.now() + timeoutMs;
  while (services.jobs.list().some((j) => j.state === 'running')) {
    if (Date.now() > deadline) throw new Error(`jobs still running after ${timeoutMs} ms: ${JSON.stringify(services.jobs.list().filter((j) => j.state === 'running'))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
