// Linear probe on 50,000 × 512 features, 10 classes (issue 4's goal: ≤ 60 s on 2 cores), the whole protocol:
// standardise, choose λ on a validation split over the default grid, refit on all train, score 10,000 test rows.
// The features are synthetic (see synthetic.ts): the timing depends on the shapes and on how many L-BFGS
// iterations the data needs, not on where the features came from.
// Options: --n 50000 --dim 512 --threads 2
import os from 'node:os';
import { linearProbe } from '../../main/evaluate/linear-probe.js';
import { atMost, report } from '../lib.js';
import { syntheticSplit } from './synthetic.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const n = arg('n', 50_000);
const dim = arg('dim', 512);
const threads = arg('threads', Math.min(2, os.availableParallelism()));
const { train, test } = syntheticSplit(n, 10_000, dim, 10, 1, { relu: true });
let iterations = 0;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const r = linearProbe(train, test, {
  threads,
  onProgress: (p) => {
    iterations++;
    if (p.iteration % 50 === 0) process.stderr.write(`  ${p.phase} λ=${p.l2} iteration ${p.iteration} loss ${p.loss.toFixed(5)}\n`);
  },
});
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
report(
  'eval-probe',
  [
    { bench: 'eval', figure: `linear probe ${n}×${dim}, 10 classes, ${threads} threads`, value: +seconds.toFixed(2), unit: 's', ...atMost(seconds, 60) },
    { bench: 'eval', figure: 'CPU time (all threads)', value: +cpuSeconds.toFixed(2), unit: 's' },
    { bench: 'eval', figure: 'L-BFGS iterations (all fits)', value: iterations, unit: '' },
    { bench: 'eval', figure: 'test top-1 (synthetic features)', value: +r.top1.toFixed(4), unit: '' },
  ],
  { l2: r.l2, validation: r.validation },
);
