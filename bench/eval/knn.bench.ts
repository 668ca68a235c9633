// DINO kNN: cosine top-100 search of 10,000 queries among 50,000 train rows of 512 dims, then temperature-
// weighted votes for k = 10, 20, 100. Synthetic features (see synthetic.ts); the time depends on the shapes only.
// Options: --train 50000 --test 10000 --dim 512 --threads 2
import os from 'node:os';
import { knnClassify } from '../../main/evaluate/knn.js';
import { report } from '../lib.js';
import { syntheticSplit } from './synthetic.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const nTrain = arg('train', 50_000);
const nTest = arg('test', 10_000);
const dim = arg('dim', 512);
const threads = arg('threads', Math.min(2, os.availableParallelism()));
const { train, test } = syntheticSplit(nTrain, nTest, dim, 10, 1, { relu: true });
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const r = await knnClassify(train, test, { threads });
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
report('eval-knn', [
  { bench: 'eval', figure: `kNN ${nTrain}×${nTest}×${dim}, k ≤ 100, ${threads} threads`, value: +seconds.toFixed(2), unit: 's' },
  { bench: 'eval', figure: 'CPU time (all threads)', value: +cpuSeconds.toFixed(2), unit: 's' },
  { bench: 'eval', figure: 'similarity throughput', value: +((nTrain * nTest * dim) / seconds / 1e9).toFixed(2), unit: 'G multiply-adds/s' },
  { bench: 'eval', figure: 'test top-1 k=20 (synthetic features)', value: +r.k20!.top1.toFixed(4), unit: '' },
]);
