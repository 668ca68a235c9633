// Shared helpers for the benches: machine facts, the CIFAR-10 extraction and the result files.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));
export const resultsDir = path.join(repoRoot, 'bench', 'results');
export const cifarArchive = path.resolve(repoRoot, '..', 'shared', 'datasets', 'cifar10-train.tar.gz');

export interface Figure {
  bench: string;
  figure: string;
  value: number;
  unit: string;
  /** the goal as text, e.g. "≥ 2000"; absent when the figure has none */
  goal?: string;
  met?: boolean;
  note?: string;
}

export interface Machine {
  cores: number;
  cpu: string;
  memGiB: number;
  node: string;
  loadAvg1m: number;
}

export function machine(): Machine {
  return {
    cores: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    loadAvg1m: Number(os.loadavg()[0]!.toFixed(2)),
  };
}

export function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'main', 'bench'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return 'unknown';
  }
}

export function atLeast(value: number, goal: number): Pick<Figure, 'goal' | 'met'> {
  return { goal: `≥ ${goal}`, met: value >= goal };
}

export function atMost(value: number, goal: number): Pick<Figure, 'goal' | 'met'> {
  return { goal: `≤ ${goal}`, met: value <= goal };
}

/** Writes bench/results/<name>-<timestamp>.json and prints a table of the figures. */
export function report(name: string, figures: Figure[], extra: Record<string, unknown> = {}): string {
  const m = machine();
  const date = new Date().toISOString();
  const doc = { name, date, commit: gitCommit(), machine: m, figures, ...extra };
  fs.mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${name}-${date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  const lines = figures.map((f) => {
    const verdict = f.met === undefined ? '' : f.met ? '  ok' : '  MISSED';
    const goal = f.goal ? `  (goal ${f.goal} ${f.unit})` : '';
    return `  ${f.bench.padEnd(10)} ${f.figure.padEnd(40)} ${formatValue(f.value).padStart(10)} ${f.unit}${goal}${verdict}`;
  });
  process.stdout.write(`\n${name} on ${m.cores} cores (${m.cpu}, load ${m.loadAvg1m}), commit ${doc.commit}\n${lines.join('\n')}\n-> ${path.relative(repoRoot, file)}\n`);
  return file;
}

function formatValue(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3);
}

/** Extracts the CIFAR-10 training JPEGs into `dir` (which gets `train/<class>/NNNN.jpg`); null when the archive is absent. */
export function extractCifar(dir: string): string | null {
  if (!fs.existsSync(cifarArchive)) return null;
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['xzf', cifarArchive, '-C', dir]);
  return path.join(dir, 'train');
}

export interface ChildImportResult {
  summary: { imported: number; skipped: number; failed: number; missing: number; seconds: number; cancelled: boolean };
  importSeconds: number;
  maxRssMiB: number;
  cpuSeconds: number;
}

/** Builds main/ into dist/ (tsc only, no renderer): the import benches measure the build the app runs. */
export function buildMain(): void {
  process.stderr.write('[bench] building main/ into dist/ (tsc -p tsconfig.build.json)…\n');
  execFileSync(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: repoRoot,
    stdio: 'inherit',
  });
}

/**
 * Runs one import in a fresh Node process (bench/import/child.mjs, against dist/), so its peak RSS is the
 * import's own and not the bench's. Only the importFolders call is timed.
 */
export function runImportChild(args: {
  folder: string;
  db: string;
  thumbs: string;
  dataset: string;
  env?: Record<string, string>;
}): Promise<ChildImportResult> {
  const child = path.join(repoRoot, 'bench', 'import', 'child.mjs');
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, args.folder, args.db, args.thumbs, args.dataset], {
      cwd: repoRoot,
      env: { ...process.env, ...args.env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`import child exited ${code}: ${last}`));
      try {
        resolve(JSON.parse(last) as ChildImportResult);
      } catch {
        reject(new Error(`import child printed no result: ${last}`));
      }
    });
  });
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** `--name VALUE` from the command line, or the fallback. */
export function flagValue(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

/** The indices of the kk largest values, largest first (a brute-force reference for recall). */
export function topK(values: Float32Array, kk: number): number[] {
  const idx: number[] = [];
  for (let j = 0; j < values.length; j++) {
    if (idx.length < kk) {
      idx.push(j);
      idx.sort((a, b) => values[b]! - values[a]!);
    } else if (values[j]! > values[idx[kk - 1]!]!) {
      idx[kk - 1] = j;
      idx.sort((a, b) => values[b]! - values[a]!);
    }
  }
  return idx;
}
