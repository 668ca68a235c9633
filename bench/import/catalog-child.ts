// `catalog-child.ts <db>`: opens a catalog in this fresh process and times the label-filtered page queries.
import { Catalog } from '../../main/catalog/catalog.js';
import type { PageTimes } from './catalog-1m.js';

const dbPath = process.argv[2]!;
const t0 = performance.now();
const catalog = Catalog.open(dbPath);
const openMs = performance.now() - t0;
const datasetId = catalog.datasetIdByName('big');

const time = (fn: () => unknown): number => {
  const t = performance.now();
  fn();
  return performance.now() - t;
};
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

let page!: ReturnType<Catalog['listImages']>;
const firstPageMs = time(() => (page = catalog.listImages({ datasetId, offset: 0, limit: 200, label: 'class-3' })));
const warm: number[] = [];
for (let i = 0; i < 21; i++) warm.push(time(() => catalog.listImages({ datasetId, offset: 400 + 200 * i, limit: 200, label: 'class-3' })));
const deepPageMs = time(() => catalog.listImages({ datasetId, offset: 99_800, limit: 200, label: 'class-3' }));
const statusTimes: number[] = [];
for (let i = 0; i < 11; i++) {
  statusTimes.push(time(() => catalog.listImages({ datasetId, offset: 200 * i, limit: 200, label: 'class-5', status: 'ok' })));
}
catalog.close();
const result: PageTimes = {
  openMs,
  firstPageMs,
  warmPageMs: median(warm),
  deepPageMs,
  statusPageMs: median(statusTimes),
  total: page.total,
  items: page.items.length,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
