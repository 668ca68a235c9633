/**
 * How the decontamination threshold behaves on real images: CIFAR-10 originals form the evaluation set; their
 * transformed copies (test/main/curate/fixtures) and unrelated images of the same classes form the pool. Prints,
 * per cosine threshold, the copies caught (recall, per transform) and the unrelated images removed by mistake.
 * Run: npx tsx bench/curate/decontaminate-threshold.ts [originals] [distractors]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Catalog } from '../../main/catalog/catalog.js';
import { EventBus } from '../../main/common/event-bus.js';
import { JobManager } from '../../main/common/jobs.js';
import { runDecontaminate } from '../../main/curate/decontaminate.js';
import { importFolders } from '../../main/ingest/import.js';
import { buildGroundTruth, CIFAR_TARBALL } from '../../test/main/curate/fixtures/near-duplicates.js';

const originals = Number(process.argv[2] ?? 60);
const distractors = Number(process.argv[3] ?? 300);
if (!fs.existsSync(CIFAR_TARBALL)) {
  console.log(`skip: ${CIFAR_TARBALL} is absent`);
  process.exit(0);
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-decon-bench-'));
try {
  const gt = await buildGroundTruth(tmp, { originals, distractors, seed: 11, indexRange: [2500, 5000] });
  const jobs = new JobManager(new EventBus());
  const catalog = Catalog.open(path.join(tmp, 'c.db'));
  await jobs.start('import', (ctx) => importFolders(catalog, { folders: [path.join(tmp, 'images')], dataset: 'all', labelsFromFolders: true, thumbnailDir: path.join(tmp, 'thumbs') }, ctx)).promise;
  const all = catalog.datasetImages(catalog.datasetIdByName('all'));
  const info = new Map(gt.files.map((f) => [f.path, f]));
  const allId = catalog.datasetIdByName('all');
  const member = (img: (typeof all)[number]) => ({ imageId: img.id, label: img.label });
  catalog.createDerivedDataset('eval', 'curated', allId, all.filter((i) => info.get(i.path)?.transform === 'original').map(member));
  const pool = all.filter((i) => info.get(i.path)?.transform !== 'original');
  catalog.createDerivedDataset('pool', 'curated', allId, pool.map(member));
  const copies = pool.filter((i) => info.get(i.path)!.transform !== 'distractor');
  console.log(`eval ${all.length - pool.length} originals; pool ${copies.length} copies + ${pool.length - copies.length} distractors`);
  for (const cosine of [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95]) {
    const r = await jobs.start('curate', (ctx) => runDecontaminate(catalog, { dataset: 'pool', against: 'eval', cosine }, ctx)).promise;
    const removed = new Set(r.contaminated.map((c) => c.path));
    const byTransform = new Map<string, [number, number]>();
    for (const c of copies) {
      const t = info.get(c.path)!.transform;
      const e = byTransform.get(t) ?? [0, 0];
      e[1]++;
      if (removed.has(c.path)) e[0]++;
      byTransform.set(t, e);
    }
    const caught = copies.filter((c) => removed.has(c.path)).length;
    const wrong = pool.filter((c) => info.get(c.path)!.transform === 'distractor' && removed.has(c.path)).length;
    console.log(
      `cosine ≥ ${cosine}: copies caught ${caught}/${copies.length} (${((100 * caught) / copies.length).toFixed(1)}%), distractors removed ${wrong}/${pool.length - copies.length}; ` +
        [...byTransform].map(([t, [a, b]]) => `${t} ${a}/${b}`).join(', '),
    );
  }
  catalog.close();
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
