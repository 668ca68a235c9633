#!/usr/bin/env node
// `npm test`: builds, finds or installs what the suite needs, runs the unit/integration suite (vitest) and the
// browser end-to-end suite (Playwright in Debian's Chromium), then prints one closing line with the totals.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const resultsDir = path.join(os.tmpdir(), `curio-test-results-${process.pid}`);
fs.mkdirSync(resultsDir, { recursive: true });

function run(cmd, args, extraEnv = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...extraEnv } });
  return r.status ?? 1;
}

function log(msg) {
  process.stdout.write(`\n[test] ${msg}\n`);
}

// 1. The CLI bin, the headless server and the E2E tests use the build.
log('building (tsc + vite)');
if (run('npm', ['run', '--silent', 'build']) !== 0) {
  process.stdout.write('0 passed, 1 failed\n');
  process.exit(1);
}

// 2. System packages, installed with apt when they are missing and we may: Debian's Chromium for the browser
// tests, OpenBLAS for the native CPU kernels, and Mesa's EGL/GLES for Dawn on llvmpipe (the webgpu-gl kernel tests).
// Tests whose package is still missing skip and say why.
const chromium = process.env.CURIO_CHROMIUM ?? '/usr/bin/chromium';
const wanted = ['chromium', 'libopenblas0-pthread', 'libegl1', 'libegl-mesa0', 'libgles2', 'libgl1-mesa-dri'];
const installed = (pkg) =>
  spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' }).stdout?.includes('install ok installed') ?? false;
if (fs.existsSync('/usr/bin/dpkg-query')) {
  const missing = wanted.filter((p) => !(p === 'chromium' && fs.existsSync(chromium)) && !installed(p));
  if (missing.length > 0 && process.getuid?.() === 0 && fs.existsSync('/usr/bin/apt-get')) {
    log(`installing Debian packages the suite uses: ${missing.join(' ')}`);
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', ...missing]);
  } else if (missing.length > 0) {
    log(`missing Debian packages (not root, not installing): ${missing.join(' ')}; their tests skip`);
  }
}
const haveChromium = fs.existsSync(chromium);
if (!haveChromium) log(`SKIP browser tests: no Chromium at ${chromium} (install Debian's chromium package)`);

// 3. Unit and integration tests.
const vitestJson = path.join(resultsDir, 'vitest.json');
log('unit and integration tests (vitest)');
const vitestCode = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestJson}`]);

// 4. End-to-end tests in Chromium against `curio serve`.
const e2eJson = path.join(resultsDir, 'e2e.json');
let e2eCode = 0;
if (haveChromium && fs.existsSync(path.join(root, 'test/e2e/playwright.config.ts'))) {
  log('end-to-end tests (Playwright + Debian Chromium)');
  e2eCode = run('npx', ['playwright', 'test', '--config', 'test/e2e/playwright.config.ts'], {
    PLAYWRIGHT_JSON_OUTPUT_NAME: e2eJson,
    CURIO_CHROMIUM: chromium,
  });
}

// 5. One closing line with the totals of both suites.
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const v = JSON.parse(fs.readFileSync(vitestJson, 'utf8'));
  passed += v.numPassedTests;
  failed += v.numFailedTests;
  skipped += v.numPendingTests + (v.numTodoTests ?? 0);
} catch {
  failed += vitestCode === 0 ? 0 : 1;
}
try {
  const e = JSON.parse(fs.readFileSync(e2eJson, 'utf8'));
  passed += e.stats.expected;
  failed += e.stats.unexpected + (e.stats.flaky ?? 0) * 0;
  skipped += e.stats.skipped;
} catch {
  if (e2eCode !== 0) failed += 1;
}
const code = vitestCode !== 0 || e2eCode !== 0 || failed > 0 ? 1 : 0;
process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
process.exit(code);
