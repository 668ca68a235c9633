import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ImportSummary } from '../../shared/contract/datasets.js';
import type { Catalog, ImageRecord } from '../catalog/catalog.js';
import { CurioError, notFound } from '../common/errors.js';
import type { JobContext } from '../common/jobs.js';
import { DecodeError, type Decoded, type DecodeOptions, decodeImage } from './decode.js';
import { sharedDecodePool } from './pool.js';
import { type ScanEntry, scanFolder } from './scan.js';

export interface ImportOptions {
  folders: string[];
  dataset: string;
  labelsFromFolders: boolean;
  thumbnailDir: string;
  maxPixels?: number;
  /** files decoded at once; defaults to twice the cores */
  concurrency?: number;
  /**
   * Decode on the worker-thread pool (one thread per core). Defaults to true for imports of at least
   * POOL_MIN_FILES files; a handful of files is decoded faster in-process than threads start.
   */
  useWorkers?: boolean;
  /** rows written per transaction */
  batchSize?: number;
}

/** Imports smaller than this decode in-process: starting the worker threads would cost more than it saves. */
export const POOL_MIN_FILES = 64;

/** Checks the folders before any job starts, so a typo fails at once with a clear message. */
export function resolveImportFolders(folders: readonly string[]): string[] {
  return folders.map((f) => {
    const abs = path.resolve(f);
    let st: fs.Stats;
    try {
      st = fs.statSync(abs);
    } catch {
      throw notFound(`folder does not exist: ${abs}`);
    }
    if (!st.isDirectory()) throw new CurioError('invalid-input', `not a folder: ${abs}`);
    return abs;
  });
}

export function labelFor(filePath: string, labelsFromFolders: boolean): string | null {
  if (!labelsFromFolders) return null;
  return path.basename(path.dirname(filePath)) || null;
}

/**
 * Imports folders into an import dataset. Unchanged files (same size and mtime, imported fine before) are
 * skipped; files that vanished are marked missing. Results are written in batches, each in one transaction, so
 * a cancel or a kill -9 keeps every finished batch and a re-import carries on from there.
 */
export async function importFolders(catalog: Catalog, opts: ImportOptions, ctx: JobContext): Promise<ImportSummary> {
  const started = performance.now();
  const folders = resolveImportFolders(opts.folders);
  const datasetId = catalog.ensureImportDataset(opts.dataset);
  const concurrency = Math.max(1, opts.concurrency ?? Math.max(2, os.availableParallelism() * 2));
  const batchSize = opts.batchSize ?? 256;
  let decode: (file: string, options: DecodeOptions) => Promise<Decoded> = decodeImage;

  ctx.setPhase('scanning');
  const work: { entry: ScanEntry; folderId: number }[] = [];
  const seen = new Set<string>();
  for (const folder of folders) {
    const folderId = catalog.upsertFolder(datasetId, folder, opts.labelsFromFolders);
    const entries = await scanFolder(folder, { signal: ctx.signal, onEntry: (n) => ctx.progress(work.length + n) });
    for (const entry of entries) {
      if (seen.has(entry.path)) continue;
      seen.add(entry.path);
      work.push({ entry, folderId });
    }
  }
  const summary: ImportSummary = {
    dataset: opts.dataset,
    datasetId,
    imported: 0,
    skipped: 0,
    failed: 0,
    missing: 0,
    cancelled: false,
    seconds: 0,
  };
  if (ctx.signal.aborted) return finish();

  const known = catalog.knownFiles(datasetId);
  const todo: { entry: ScanEntry; folderId: number }[] = [];
  for (const w of work) {
    const k = known.get(w.entry.path);
    if (w.entry.kind === 'file' && k && k.status === 'ok' && k.bytes === w.entry.bytes && k.mtimeMs === w.entry.mtimeMs) {
      summary.skipped++;
    } else {
      todo.push(w);
    }
  }

  ctx.setPhase('importing', todo.length);
  if (opts.useWorkers ?? todo.length >= POOL_MIN_FILES) {
    const pool = sharedDecodePool();
    decode = (file, options) => pool.decode(file, options);
  }
  let pending: ImageRecord[] = [];
  let done = 0;
  const flush = () => {
    if (pending.length === 0) return;
    catalog.upsertImages(datasetId, pending);
    pending = [];
  };

  let next = 0;
  const worker = async () => {
    while (!ctx.signal.aborted) {
      const i = next++;
      if (i >= todo.length) return;
      const { entry, folderId } = todo[i]!;
      const record = await processEntry(entry, folderId, opts, decode);
      if (record.status === 'ok') summary.imported++;
      else summary.failed++;
      pending.push(record);
      if (pending.length >= batchSize) flush();
      done++;
      ctx.progress(done, summary.failed);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, todo.length)) }, worker));
  } finally {
    flush();
  }

  if (!ctx.signal.aborted) {
    // Only a complete scan may declare files missing; a cancelled one has not looked everywhere.
    const vanished: number[] = [];
    const under = folders.map((f) => f + path.sep);
    for (const [p, k] of known) {
      if (k.status !== 'missing' && !seen.has(p) && under.some((u) => p.startsWith(u))) vanished.push(k.id);
    }
    catalog.markMissing(vanished);
    summary.missing = vanished.length;
    for (const folder of folders) catalog.markFolderScanned(catalog.upsertFolder(datasetId, folder, opts.labelsFromFolders));
  }
  return finish();

  function finish(): ImportSummary {
    summary.cancelled = ctx.signal.aborted;
    summary.seconds = Number(((performance.now() - started) / 1000).toFixed(3));
    return summary;
  }
}

async function processEntry(
  entry: ScanEntry,
  folderId: number,
  opts: ImportOptions,
  decode: (file: string, options: DecodeOptions) => Promise<Decoded>,
): Promise<ImageRecord> {
  const base: ImageRecord = {
    path: entry.path,
    folderId,
    bytes: entry.kind === 'file' ? entry.bytes : null,
    mtimeMs: entry.kind === 'file' ? entry.mtimeMs : null,
    width: null,
    height: null,
    format: null,
    sha256: null,
    phash: null,
    label: labelFor(entry.path, opts.labelsFromFolders),
    status: 'failed',
    error: null,
    thumbnail: false,
  };
  if (entry.kind === 'error') return { ...base, error: entry.error };
  try {
    const d = await decode(entry.path, {
      thumbnailDir: opts.thumbnailDir,
      ...(opts.maxPixels !== undefined ? { maxPixels: opts.maxPixels } : {}),
    });
    return { ...base, ...d, status: 'ok' };
  } catch (err) {
    const message = err instanceof DecodeError ? err.message : `unexpected error: ${(err as Error).message}`;
    return { ...base, error: message };
  }
}
