// Linear-probe timing on 50,000 × 512 features, 10 classes (the target: ≤ 60 s on 2 cores).
// Usage: npx tsx bench/eval/probe-bench.ts [--threads N] [--n 50000] [--dim 512]
import os from 'node:os';
import { linearProbe } from '../../main/evaluate/linear-probe.js';
import { syntheticSplit } from './synthetic.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const n = arg('n', 50_000);
const dim = arg('dim', 512);
const threads = arg('threads', Math.min(2, os.availableParallelism()));
const { train, test } = syntheticSplit(n, 10_000, dim, 10, 1, { relu: true });
let evals = 0;
const t0 = performance.now();
const r = linearProbe(train, test, {
  threads,
  onProgress: (p) => {
    evals++;
    if (p.iteration % 50 === 0) process.stderr.write(`${p.phase} l2=${p.l2} it=${p.iteration} loss=${p.loss.toFixed(5)}\n`);
  },
});
const seconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ n, dim, classes: 10, threads, seconds: +seconds.toFixed(2), iterations: evals, l2: r.l2, top1: r.top1, top5: r.top5, validation: r.validation }));
