import fs from 'node:fs';
import path from 'node:path';
import { ExportInput, type ExportOptions, type ExportResult } from '../../shared/contract/curate-versions.js';
import type { Catalog, DatasetImage } from '../catalog/catalog.js';
import { conflict, CurioError, invalid } from '../common/errors.js';
import type { JobContext } from '../common/jobs.js';
import { parseCurateOptions } from './options.js';

export function parseExportOptions(input: unknown): ExportOptions {
  return parseCurateOptions(ExportInput, input);
}

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;
/** Folder for images without a label when other images have one. */
export const UNLABELLED_FOLDER = '_unlabelled';

/**
 * One path segment that is safe on every platform: no separators, no control characters, no characters Windows
 * refuses, no leading dots (so never "." or ".." and never hidden), no trailing dots or spaces, not a reserved
 * device name, at most 150 characters. Never empty.
 */
export function safeSegment(name: string): string {
  let s = name.normalize('NFC').replace(/[\u0000-\u001f\u007f/\\:*?"<>|]/g, '_');
  s = s.replace(/^[.\s]+/, '').replace(/[.\s]+$/, '');
  if (WINDOWS_RESERVED.test(s)) s = `_${s}`;
  if (s.length > 150) {
    const ext = path.extname(s).slice(0, 16);
    s = s.slice(0, 150 - ext.length) + ext;
  }
  return s.length === 0 ? '_' : s;
}

/** `child` is `root` itself or lies inside it (both already resolved). */
function inside(root: string, child: string): boolean {
  const rel = path.relative(root, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Makes the output folder, or checks an existing one is a folder and (without `force`) empty. Returns its real path. */
export function prepareOutputFolder(out: string, force: boolean): string {
  const abs = path.resolve(out);
  let stat: fs.Stats | null = null;
  try {
    stat = fs.statSync(abs);
  } catch {
    stat = null;
  }
  if (stat && !stat.isDirectory()) throw invalid(`--out ${abs} exists and is not a folder`);
  if (stat && !force && fs.readdirSync(abs).length > 0) throw conflict(`the folder ${abs} is not empty (use --force to write into it anyway)`);
  fs.mkdirSync(abs, { recursive: true });
  return fs.realpathSync(abs);
}

function csvField(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/**
 * Exports a dataset version without touching its files:
 * - csv/json: a manifest (path, label, sha256, width, height) as manifest.csv or manifest.json in the folder;
 * - copy/symlink: each image copied or linked into the folder, in one subfolder per label when the dataset has
 *   labels (images without one go to _unlabelled). Label and file names are reduced to safe single path
 *   segments, and every destination is checked to resolve inside the folder (after following any links already
 *   there), so no name can write elsewhere. Name clashes get the image id appended.
 */
export async function exportDataset(catalog: Catalog, options: ExportOptions, ctx: JobContext): Promise<ExportResult> {
  const started = performance.now();
  const opts = parseExportOptions(options);
  const datasetId = catalog.datasetIdByName(opts.dataset);
  const images = catalog.datasetImages(datasetId);
  const root = prepareOutputFolder(opts.out, opts.force);
  ctx.setPhase('writing', images.length);
  let manifest: string | null = null;
  let written = 0;
  if (opts.format === 'csv' || opts.format === 'json') {
    const rows = images.map((img) => ({ path: img.path, label: img.label, sha256: img.sha256, width: img.width, height: img.height }));
    manifest = path.join(root, `manifest.${opts.format}`);
    const text =
      opts.format === 'json'
        ? `${JSON.stringify(rows, null, 1)}\n`
        : ['path,label,sha256,width,height', ...rows.map((r) => [r.path, r.label, r.sha256, r.width, r.height].map(csvField).join(','))].join('\n') + '\n';
    ctx.throwIfCancelled();
    writeAtomically(manifest, text);
    written = rows.length;
    ctx.progress(written);
  } else {
    written = await placeFiles(images, root, opts.format, ctx);
  }
  return {
    dataset: opts.dataset,
    format: opts.format,
    out: root,
    written,
    manifest,
    seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
  };
}

async function placeFiles(images: readonly DatasetImage[], root: string, mode: 'copy' | 'symlink', ctx: JobContext): Promise<number> {
  const labelled = images.some((img) => img.label !== null && img.label !== '');
  const used = new Set<string>();
  const checkedDirs = new Set<string>();
  let done = 0;
  for (const img of images) {
    ctx.throwIfCancelled();
    const folder = labelled ? path.join(root, safeSegment(img.label ? img.label : UNLABELLED_FOLDER)) : root;
    if (!checkedDirs.has(folder)) {
      fs.mkdirSync(folder, { recursive: true });
      // A subfolder that already exists could be a link to somewhere else: follow it before writing into it.
      if (!inside(root, fs.realpathSync(folder))) throw new CurioError('failed', `refusing to write outside ${root}: ${folder} leads elsewhere`);
      checkedDirs.add(folder);
    }
    let name = safeSegment(path.basename(img.path));
    if (used.has(path.join(folder, name).toLowerCase())) {
      const ext = path.extname(name);
      name = safeSegment(`${name.slice(0, name.length - ext.length)}-${img.id}${ext}`);
    }
    const dest = path.join(folder, name);
    if (!inside(root, path.resolve(dest)) || path.dirname(path.resolve(dest)) !== path.resolve(folder)) {
      throw new CurioError('failed', `refusing to write outside ${root}: ${dest}`);
    }
    used.add(dest.toLowerCase());
    // Replace what --force allowed to be there; lstat/unlink act on a link itself, never on what it points to.
    if (fs.lstatSync(dest, { throwIfNoEntry: false })) fs.unlinkSync(dest);
    if (mode === 'copy') await fs.promises.copyFile(img.path, dest, fs.constants.COPYFILE_EXCL);
    else fs.symlinkSync(path.resolve(img.path), dest);
    done++;
    if (done % 64 === 0) ctx.progress(done);
  }
  ctx.progress(done);
  return done;
}
