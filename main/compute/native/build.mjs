#!/usr/bin/env node
// Builds Curio's optional CPU kernels (curio_cpu.c) into dist/native/curio_cpu.node with the system C compiler and
// Node's own headers. It never fails the install: where there is no compiler or no headers it prints why and
// exits 0, and Curio falls back to the other CPU backends (main/compute/native.ts logs the reason again).
// The addon uses N-API only, so the one build loads in Node and in Electron. Run by `npm run build`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const source = path.join(here, 'curio_cpu.c');
const outDir = path.join(root, 'dist', 'native');
const out = path.join(outDir, 'curio_cpu.node');

function skip(reason) {
  process.stderr.write(`[curio] native CPU kernels not built: ${reason}. Training uses the other CPU backends.\n`);
  process.exit(0);
}

if (process.env.CURIO_SKIP_NATIVE === '1') skip('CURIO_SKIP_NATIVE=1');
if (process.platform === 'win32') skip('building with MSVC is not set up (Linux and macOS only)');
if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= fs.statSync(source).mtimeMs && fs.statSync(out).mtimeMs >= fs.statSync(fileURLToPath(import.meta.url)).mtimeMs) {
  process.exit(0);
}

const headerDirs = [
  process.env.CURIO_NODE_HEADERS,
  path.join(path.dirname(process.execPath), '..', 'include', 'node'),
  '/usr/include/node',
  '/usr/local/include/node',
  path.join(process.env.HOME ?? '', '.cache', 'node-gyp', process.versions.node, 'include', 'node'),
].filter(Boolean);
const headers = headerDirs.find((d) => fs.existsSync(path.join(d, 'node_api.h')));
if (!headers) skip(`node_api.h not found (looked in ${headerDirs.join(', ')}; set CURIO_NODE_HEADERS)`);

const cc = process.env.CC || 'cc';
fs.mkdirSync(outDir, { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
const args = [
  '-O3', '-std=c11', '-fPIC', '-shared', '-fvisibility=hidden', '-Wall',
  `-I${headers}`, source, '-o', tmp,
  ...(process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : ['-ldl', '-lm', '-pthread']),
];
const r = spawnSync(cc, args, { encoding: 'utf8' });
if (r.error) skip(`${cc} did not run (${r.error.message})`);
if (r.status !== 0) {
  fs.rmSync(tmp, { force: true });
  skip(`${cc} failed:\n${(r.stderr || r.stdout).trim().split('\n').slice(0, 12).join('\n')}`);
}
fs.renameSync(tmp, out);
process.stderr.write(`[curio] built ${path.relative(root, out)}\n`);
