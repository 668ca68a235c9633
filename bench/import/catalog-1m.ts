// The catalog at 1,000,000 image rows: time to open it, and one 200-row page with a label filter, cold and warm.
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Catalog } from '../../main/catalog/catalog.js';
import { atMost, type Figure, repoRoot } from '../lib.js';

export const ROWS = 1_000_000;
export const LABELS = Array.from({ length: 10 }, (_, i) => `class-${i}`);

export interface PageTimes {
  openMs: number;
  firstPageMs: number;
  warmPageMs: number;
  deepPageMs: number;
  statusPageMs: number;
  total: number;
  items: number;
}

export async function benchCatalog(work: string): Promise<Figure[]> {
  const dbPath = path.join(work, 'catalog-1m.db');
  process.stderr.write(`[catalog] writing ${ROWS.toLocaleString('en')} synthetic image rows…\n`);
  const t0 = performance.now();
  buildCatalog(dbPath, ROWS);
  const buildSeconds = (performance.now() - t0) / 1000;
  process.stderr.write(`[catalog] built in ${buildSeconds.toFixed(1)} s; opening it in a fresh process…\n`);
  // Cold: a fresh process whose SQLite page cache is empty (the OS file cache is not dropped: that needs root
  // and would slow everyone else on the machine).
  const cold = await pageTimesInChild(dbPath);
  const warm = await pageTimesInChild(dbPath);
  if (cold.items !== 200 || cold.total !== ROWS / LABELS.length) throw new Error(`unexpected page: ${JSON.stringify(cold)}`);
  return [
    { bench: 'catalog', figure: 'rows written per second (1M, one transaction)', value: Math.round(ROWS / buildSeconds), unit: 'rows/s' },
    { bench: 'catalog', figure: 'Catalog.open, 1M rows, new process', value: r2(cold.openMs), unit: 'ms', ...atMost(cold.openMs, 2000) },
    { bench: 'catalog', figure: 'label page 200 rows, cold (first query)', value: r2(cold.firstPageMs), unit: 'ms', ...atMost(cold.firstPageMs, 20) },
    { bench: 'catalog', figure: 'label page 200 rows, warm (median)', value: r2(cold.warmPageMs), unit: 'ms', ...atMost(cold.warmPageMs, 20) },
    { bench: 'catalog', figure: 'label page 200 rows at offset 99,800', value: r2(cold.deepPageMs), unit: 'ms' },
    { bench: 'catalog', figure: 'label+status page 200 rows (median)', value: r2(cold.statusPageMs), unit: 'ms' },
    { bench: 'catalog', figure: 'Catalog.open, second new process', value: r2(warm.openMs), unit: 'ms' },
  ];
}

/** 1M rows through one prepared statement in one transaction: 10 labels, 1% failed, realistic path/hash widths. */
export function buildCatalog(dbPath: string, rows: number): void {
  const catalog = Catalog.open(dbPath);
  try {
    const datasetId = catalog.createDataset('big', 'import');
    const folderId = catalog.upsertFolder(datasetId, '/data/big', true);
    const insert = catalog.db.prepare(`
      INSERT INTO images (dataset_id, folder_id, path, bytes, mtime_ms, width, height, format, sha256, phash, label, status, error, thumbnail)
      VALUES (?, ?, ?, ?, ?, 32, 32, 'jpeg', ?, ?, ?, ?, ?, 1)
    `);
    catalog.db.transaction(() => {
      for (let i = 0; i < rows; i++) {
        const label = LABELS[i % LABELS.length]!;
        const sha = createHash('sha256').update(String(i)).digest('hex');
        const failed = i % 100 === 99;
        insert.run(
          datasetId,
          folderId,
          `/data/big/${label}/${String(i).padStart(7, '0')}.jpg`,
          2000 + (i % 1000),
          1_700_000_000_000 + i,
          failed ? null : sha,
          failed ? null : sha.slice(0, 16),
          label,
          failed ? 'failed' : 'ok',
          failed ? 'not a decodable image: corrupt header' : null,
        );
      }
    })();
    catalog.db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    catalog.close();
  }
}

function pageTimesInChild(dbPath: string): Promise<PageTimes> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'bench', 'import', 'catalog-child.ts'), dbPath], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`catalog child exited ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!) as PageTimes);
    });
  });
}

function r2(v: number): number {
  return Math.round(v * 100) / 100;
}
