#!/usr/bin/env node
// `npm run bench [-- args]`: runs every bench/<name>/*.bench.ts (import first, then the rest by name) with tsx,
// passing the arguments on. Each bench prints its summary and writes JSON to bench/results/.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const benchDir = path.join(root, 'bench');
const dirs = fs
  .readdirSync(benchDir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && d.name !== 'results')
  .map((d) => d.name)
  .sort((a, b) => (a === 'import' ? -1 : b === 'import' ? 1 : a.localeCompare(b)));
const files = dirs.flatMap((d) =>
  fs
    .readdirSync(path.join(benchDir, d))
    .filter((f) => f.endsWith('.bench.ts'))
    .sort()
    .map((f) => path.join('bench', d, f)),
);
if (files.length === 0) {
  process.stderr.write('no benches found (bench/<name>/*.bench.ts)\n');
  process.exit(1);
}
let failed = 0;
for (const file of files) {
  process.stdout.write(`\n[bench] ${file}\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    process.stdout.write(`[bench] ${file} failed (exit ${r.status ?? r.signal})\n`);
  }
}
process.exit(failed > 0 ? 1 : 0);
