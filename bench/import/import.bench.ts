// bench/import: import throughput on CIFAR-10 and on 12-megapixel JPEGs, peak RSS, and the catalog at 1M rows.
//   npx tsx bench/import/import.bench.ts [--only cifar,large,catalog] [--limit N] [--large N] [--keep] [--no-build]
// --limit imports only the first N CIFAR images (N/10 per class) for a quick look; the reported goal is for 50k.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { atLeast, buildMain, extractCifar, type Figure, machine, report, runImportChild, tempDir } from '../lib.js';
import { benchCatalog } from './catalog-1m.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    limit: { type: 'string' },
    large: { type: 'string', default: '100' },
    keep: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
  },
});
const only = new Set((values.only ?? 'cifar,large,catalog').split(','));
const limit = values.limit ? Number(values.limit) : null;
const cores = machine().cores;
const figures: Figure[] = [];
const notes: Record<string, unknown> = {};
const work = tempDir('curio-bench-import-');

try {
  if (!values['no-build'] && (only.has('cifar') || only.has('large'))) buildMain();
  if (only.has('cifar')) await benchCifar();
  if (only.has('large')) await benchLarge(Number(values.large));
  if (only.has('catalog')) figures.push(...(await benchCatalog(work)));
} finally {
  if (!values.keep) fs.rmSync(work, { recursive: true, force: true });
  else process.stderr.write(`kept ${work}\n`);
}
report('import', figures, notes);

async function benchCifar(): Promise<void> {
  process.stderr.write('[cifar] extracting CIFAR-10 train…\n');
  let folder = extractCifar(path.join(work, 'cifar'));
  if (!folder) {
    process.stderr.write('[cifar] SKIP: ../shared/datasets/cifar10-train.tar.gz is absent\n');
    return;
  }
  if (limit) folder = subset(folder, limit);
  const n = countFiles(folder);
  process.stderr.write(`[cifar] importing ${n} JPEGs…\n`);
  const loadBefore = os.loadavg()[0]!;
  const r = await runImportChild({ folder, db: path.join(work, 'cifar.db'), thumbs: path.join(work, 'cifar-thumbs'), dataset: 'cifar' });
  const rate = (r.summary.imported + r.summary.failed) / r.importSeconds;
  const label = limit ? `CIFAR-10 ${n} JPEGs (subset)` : `CIFAR-10 ${n} JPEGs`;
  figures.push(
    { bench: 'import', figure: `${label} img/s`, value: round(rate), unit: 'img/s', ...(limit ? {} : atLeast(rate, 2000)), note: `${cores} cores` },
    { bench: 'import', figure: `${label} seconds`, value: round(r.importSeconds), unit: 's' },
    { bench: 'import', figure: `${label} peak RSS`, value: round(r.maxRssMiB), unit: 'MiB' },
    { bench: 'import', figure: `${label} CPU per image`, value: round((r.cpuSeconds / n) * 1e6), unit: 'µs' },
  );
  // Other work on the machine skews wall time; CPU per image and the load around the run say how much.
  notes.cifar = { ...r, files: n, loadAvg1mBefore: loadBefore, loadAvg1mAfter: os.loadavg()[0] };
  if (r.summary.failed > 0) process.stderr.write(`[cifar] WARNING: ${r.summary.failed} files failed\n`);
}

async function benchLarge(count: number): Promise<void> {
  const cifar = path.join(work, 'cifar', 'train');
  if (!fs.existsSync(cifar) && !extractCifar(path.join(work, 'cifar'))) {
    process.stderr.write('[large] SKIP: ../shared/datasets/cifar10-train.tar.gz is absent\n');
    return;
  }
  const folder = await generateLarge(cifar, count);
  const bytes = fs.readdirSync(path.join(folder, 'photos')).reduce((s, f) => s + fs.statSync(path.join(folder, 'photos', f)).size, 0);
  process.stderr.write(`[large] importing ${count} 12-MP JPEGs (${(bytes / count / 1e6).toFixed(2)} MB each)…\n`);
  const loadBefore = os.loadavg()[0]!;
  const r = await runImportChild({ folder, db: path.join(work, 'large.db'), thumbs: path.join(work, 'large-thumbs'), dataset: 'large' });
  const rate = (r.summary.imported + r.summary.failed) / r.importSeconds;
  figures.push(
    { bench: 'import', figure: `12-MP JPEGs (${count}) img/s`, value: round(rate), unit: 'img/s', ...atLeast(rate, 30), note: `${cores} cores` },
    { bench: 'import', figure: `12-MP JPEGs (${count}) peak RSS`, value: round(r.maxRssMiB), unit: 'MiB' },
    { bench: 'import', figure: `12-MP JPEGs (${count}) CPU per image`, value: round((r.cpuSeconds / count) * 1e3), unit: 'ms' },
  );
  notes.large = { ...r, files: count, meanBytes: Math.round(bytes / count), loadAvg1mBefore: loadBefore, loadAvg1mAfter: os.loadavg()[0] };
}

/**
 * 4000×3000 quality-90 JPEGs made by upscaling CIFAR photos (a 2×2 mosaic of four classes, so neighbouring
 * files differ). Cached in the OS temp folder between runs because making them costs more than importing them.
 */
async function generateLarge(cifar: string, count: number): Promise<string> {
  const root = path.join(os.tmpdir(), `curio-bench-12mp-${count}`);
  const dir = path.join(root, 'photos');
  if (fs.existsSync(dir) && fs.readdirSync(dir).filter((f) => f.endsWith('.jpg')).length === count) return root;
  fs.mkdirSync(dir, { recursive: true });
  process.stderr.write(`[large] generating ${count} 4000×3000 JPEGs in ${root} (cached for later runs)…\n`);
  const classes = fs.readdirSync(cifar).sort();
  for (let i = 0; i < count; i++) {
    const tiles = await Promise.all(
      [0, 1, 2, 3].map((k) => {
        const cls = classes[(i + k) % classes.length]!;
        const src = path.join(cifar, cls, `${String(i).padStart(4, '0')}.jpg`);
        return sharp(src).resize(2000, 1500, { fit: 'fill', kernel: 'cubic' }).raw().toBuffer();
      }),
    );
    const composite = tiles.map((input, k) => ({ input, raw: { width: 2000, height: 1500, channels: 3 as const }, left: (k % 2) * 2000, top: Math.floor(k / 2) * 1500 }));
    const tmp = path.join(dir, `.${i}.tmp`);
    await sharp({ create: { width: 4000, height: 3000, channels: 3, background: '#000' } })
      .composite(composite)
      .jpeg({ quality: 90 })
      .toFile(tmp);
    fs.renameSync(tmp, path.join(dir, `photo-${String(i).padStart(4, '0')}.jpg`));
  }
  return root;
}

/** A folder of hard links to the first limit/10 images of each class. */
function subset(train: string, limit: number): string {
  const out = path.join(work, `cifar-${limit}`);
  const classes = fs.readdirSync(train).sort();
  const per = Math.ceil(limit / classes.length);
  for (const cls of classes) {
    fs.mkdirSync(path.join(out, cls), { recursive: true });
    for (const f of fs.readdirSync(path.join(train, cls)).sort().slice(0, per)) fs.linkSync(path.join(train, cls, f), path.join(out, cls, f));
  }
  return out;
}

function countFiles(dir: string): number {
  let n = 0;
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) n += d.isDirectory() ? countFiles(path.join(dir, d.name)) : 1;
  return n;
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
