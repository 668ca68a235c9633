// Pretraining quality on a CPU: SimCLR for a fixed time budget (15 minutes by default) on the CIFAR-10 train split
// from ../shared, then the DINO kNN classifier (cosine, k = 20) on a held-out 5,000-image part, against a
// random-init encoder of the same architecture (which every Curio report carries as its baseline). Everything goes
// through the public `curio` CLI, exactly as a user would run it:
//
//   curio import train/ --labels-from-folders   →  curio split --into pool:0.9,heldout:0.1
//   curio train --dataset pool --method simclr --minutes M   →  curio eval --protocol knn --test-dataset heldout
//
//   npx tsx bench/train/quality.bench.ts [--minutes 15] [--backbone small] [--batch 128] [--backend auto]
//                                        [--limit N  (images per class, for a quick look)]
//
// The goal (issue 3): ≥ +10 points of kNN top-1 over random init. The summary also gives the images/s the run
// reached, so a miss can be read as "this much faster would be needed".
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cifarArchive, extractCifar, report, repoRoot, tempDir, type Figure } from '../lib.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '15' },
    backbone: { type: 'string', default: 'small' },
    batch: { type: 'string', default: '128' },
    backend: { type: 'string', default: 'auto' },
    limit: { type: 'string' },
  },
});

function log(line: string): void {
  process.stderr.write(`[quality-bench] ${line}\n`);
}

/** Runs the CLI from sources; resolves with the parsed last stdout line. Progress lines pass through to stderr. */
function curio(args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'curio.js'), ...args, '--json'], {
      cwd: repoRoot,
      env: { ...process.env, CURIO_FROM_SOURCE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let lastProgress = 0;
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      // progress is chatty: pass on at most one line every 20 s
      if (Date.now() - lastProgress > 20_000) {
        lastProgress = Date.now();
        const line = d.toString().trim().split('\n').at(-1);
        if (line) log(`  ${line.slice(0, 160)}`);
      }
    });
    child.on('close', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0) return reject(new Error(`curio ${args[0]} exited ${code}: ${last}`));
      try {
        resolve(JSON.parse(last) as Record<string, unknown>);
      } catch {
        reject(new Error(`curio ${args[0]}: last line is not JSON: ${last.slice(0, 200)}`));
      }
    });
  });
}

const work = tempDir('curio-quality-');
const db = path.join(work, 'catalog.sqlite');
log(`extracting ${cifarArchive} into ${work}…`);
let trainDir = extractCifar(work);
if (!trainDir) {
  log(`skipped: ${cifarArchive} is absent`);
  process.exit(0);
}
if (values.limit) {
  // a quick look: the first N files of each class, moved into a smaller tree
  const n = Number(values.limit);
  const small = path.join(work, 'subset');
  for (const cls of fs.readdirSync(trainDir)) {
    fs.mkdirSync(path.join(small, cls), { recursive: true });
    for (const f of fs.readdirSync(path.join(trainDir, cls)).sort().slice(0, n)) fs.renameSync(path.join(trainDir, cls, f), path.join(small, cls, f));
  }
  trainDir = small;
}

try {
  const t0 = performance.now();
  const imported = await curio(['import', trainDir, '--dataset', 'cifar10', '--labels-from-folders', '--db', db]);
  log(`imported ${JSON.stringify(imported).slice(0, 160)} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const split = await curio(['split', '--dataset', 'cifar10', '--into', 'pool:0.9,heldout:0.1', '--seed', '1', '--db', db]);
  const poolImages = Number((split.parts as { name: string; count: number }[] | undefined)?.find((p) => p.name === 'pool')?.count);

  const minutes = Number(values.minutes);
  log(`SimCLR ${values.backbone} for ${minutes} min, batch ${values.batch}, backend ${values.backend}`);
  const run = await curio([
    'train', '--dataset', 'pool', '--method', 'simclr', '--backbone', values.backbone, '--minutes', String(minutes),
    '--batch', values.batch, '--image-size', '32', '--backend', values.backend, '--db', db,
  ]);
  log(`run: ${JSON.stringify(run)}`);

  const t1 = performance.now();
  // the report carries the random-init encoder of the same architecture as its baseline
  const evaluated = await curio([
    'eval', '--run', String(run.runId), '--train-dataset', 'pool', '--test-dataset', 'heldout', '--protocol', 'knn',
    '--fractions', '', '--db', db,
  ]);
  const evalSeconds = (performance.now() - t1) / 1000;
  log(`eval: ${JSON.stringify(evaluated).slice(0, 400)}`);

  const knn = evaluated.knn as { k20: number };
  const baseline = (evaluated.baselines as { random: { knn: { k20: number } | null } }).random.knn!;
  const gain = (knn.k20 - baseline.k20) * 100;
  const ips = Number(run.imagesPerSecond);
  const steps = Number(run.steps);
  const figures: Figure[] = [
    { bench: 'quality', figure: `SimCLR ${values.backbone} ${minutes} min: kNN k=20 top-1 (held-out 10%)`, value: knn.k20 * 100, unit: '%' },
    { bench: 'quality', figure: `random-init ${values.backbone}: kNN k=20 top-1`, value: baseline.k20 * 100, unit: '%' },
    { bench: 'quality', figure: 'gain over random init', value: gain, unit: 'points', goal: '≥ +10', met: gain >= 10 },
    { bench: 'quality', figure: 'training throughput', value: ips, unit: 'img/s', note: `${steps} steps of batch ${values.batch} on ${String(run.backend)}` },
    // the run's `epochs` counts finished epochs only (0 for a run shorter than one), so the share comes from the steps
    { bench: 'quality', figure: 'images seen (epochs of the pool)', value: Number(((steps * Number(values.batch)) / poolImages).toFixed(2)), unit: 'epochs' },
    { bench: 'quality', figure: 'evaluation (features of both encoders + kNN)', value: evalSeconds, unit: 's' },
  ];
  report('quality', figures, { run, eval: evaluated, pool: imported });
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
