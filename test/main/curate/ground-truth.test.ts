/**
 * THE precision/recall test of near-duplicate removal, with the thresholds the app ships (DEDUP_DEFAULTS).
 * Ground truth: CIFAR-10 originals, each with eight transformed copies (low-quality JPEG, resize, 80–95 % crop,
 * colour shift, mirror, grayscale, text overlay, border), plus as many further images of the same classes as hard
 * negatives. Precision and recall are counted over pairs of images that share a group.
 * The default embedding strategy proposes pairs by descriptor cosine and confirms each with the pixel check in
 * main/curate/verify.ts. The thresholds (cosine, phash distance, verification score) were calibrated
 * (bench/curate/calibrate-descriptor.ts) on CIFAR indices 2500–4999; this test
 * draws from 0–2499, so it does not grade the thresholds on the images they were chosen with.
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
import { buildGroundTruth, CIFAR_TARBALL, pairScores, truePairs, type GroundTruth } from './fixtures/near-duplicates.js';

const haveCifar = fs.existsSync(CIFAR_TARBALL);
if (!haveCifar) console.warn(`SKIP ground-truth dedup test: ${CIFAR_TARBALL} is absent`);

describe.skipIf(!haveCifar)('near-duplicate ground truth on CIFAR-10 (shipped thresholds)', () => {
  let tmp: string;
  let gt: GroundTruth;
  let catalog: Catalog;
  const jobs = new JobManager(new EventBus());
  let truth: Set<string>;
  const indexOf = new Map<string, number>();
  const scores: Record<string, ReturnType<typeof pairScores>> = {};

  const dedup = async (strategies: DedupStrategy[]) =>
    jobs.start('dedup', (ctx) => runDedup(catalog, { ...DEDUP_DEFAULTS, dataset: 'gt', strategies }, ctx)).promise;
  const score = (r: DedupResult) => pairScores(truth, r.groups.map((g) => [g.keep, ...g.duplicates.map((d) => d.path)].map((p) => indexOf.get(p)!)));

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-gt-'));
    gt = await buildGroundTruth(tmp, { originals: 200, distractors: 200, seed: 5, indexRange: [0, 2500] });
    gt.files.forEach((f, i) => indexOf.set(f.path, i));
    truth = truePairs(gt.files.map((f) => f.group));
    catalog = Catalog.open(path.join(tmp, 'catalog.db'));
    const summary = await jobs.start('import', (ctx) =>
      importFolders(catalog, { folders: [gt.root], dataset: 'gt', labelsFromFolders: true, thumbnailDir: path.join(tmp, 'thumbs') }, ctx),
    ).promise;
    expect(summary.imported).toBe(gt.files.length);
  });

  afterAll(() => {
    catalog?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the shipped default reaches precision ≥ 0.98 at recall ≥ 0.95', async () => {
    const r = await dedup(DEDUP_DEFAULTS.strategies);
    const s = (scores.combined = score(r));
    console.log(
      `dedup ground truth: ${gt.files.length} images, ${truth.size} true pairs; default ${r.strategies.join('+')} ` +
        `(phash ≤ ${r.phashDistance}, cosine ≥ ${r.cosine}, k ${r.k}): precision ${s.precision.toFixed(4)}, recall ${s.recall.toFixed(4)} ` +
        `(${s.correct}/${s.predicted} predicted pairs correct), ${r.groups.length} groups, ${r.removed} removed, ${r.seconds}s`,
    );
    expect(s.precision).toBeGreaterThanOrEqual(0.98);
    expect(s.recall).toBeGreaterThanOrEqual(0.95);
  });

  it('reports each strategy on its own', async () => {
    for (const strategy of ['exact', 'phash', 'embedding'] as const) {
      const s = (scores[strategy] = score(await dedup([strategy])));
      console.log(`dedup ground truth, ${strategy} alone: precision ${s.precision.toFixed(4)}, recall ${s.recall.toFixed(4)} (${s.correct}/${s.predicted})`);
    }
    // No exact copies were planted: exact finds nothing (or only CIFAR's own byte-identical files).
    expect(scores.exact!.recall).toBeLessThan(0.05);
    // Each strategy alone finds less than the combination.
    expect(scores.embedding!.recall).toBeLessThanOrEqual(scores.combined?.recall ?? 1);
    expect(scores.phash!.recall).toBeLessThan(scores.embedding!.recall);
  });
});
