/**
 * Calibration of the shipped dedup thresholds (built-in descriptor kNN proposes pairs, the pixel check in
 * main/curate/verify.ts confirms them), on CIFAR-10 images that the ground-truth test does not use (index range
 * 2500–4999; the test draws from 0–2499).
 * Prints, for the descriptor cosine and for the verification score: the hardest different-image pairs, the 5th
 * percentile and minimum of each transform's copy-to-original score, and precision/recall over a sweep of
 * thresholds, alone and combined with phash.
 * Run: npx tsx bench/curate/calibrate-descriptor.ts [originals] [distractors]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEDUP_DEFAULTS } from '../../shared/contract/curate.js';
import { decodeImage } from '../../main/ingest/decode.js';
import { computeDescriptor, DESCRIPTOR_DIMENSIONS } from '../../main/curate/descriptor.js';
import { exactKnn, knnEdges } from '../../main/curate/knn.js';
import { hammingPairs, parseHash64 } from '../../main/curate/hamming-index.js';
import { UnionFind } from '../../main/curate/union-find.js';
import { loadThumb, verifyPair, VerifyGrid, VERIFY_THRESHOLD, type Searchable } from '../../main/curate/verify.js';
import { buildGroundTruth, pairScores, truePairs, TRANSFORMS } from '../../test/main/curate/fixtures/near-duplicates.js';

const originals = Number(process.argv[2] ?? 200);
const distractors = Number(process.argv[3] ?? 200);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-calib-'));
try {
  const gt = await buildGroundTruth(tmp, { originals, distractors, seed: 99, indexRange: [2500, 5000] });
  const files = gt.files;
  const n = files.length;
  const truth = truePairs(files.map((f) => f.group));
  console.log(`${n} images, ${truth.size} true pairs`);

  const thumbs = path.join(tmp, 'thumbs');
  const phash = [];
  const dim = DESCRIPTOR_DIMENSIONS;
  const vectors = new Float32Array(n * dim);
  const grid = new VerifyGrid();
  const prepared: Searchable[] = [];
  for (const [i, f] of files.entries()) {
    phash.push(parseHash64((await decodeImage(f.path, { thumbnailDir: thumbs })).phash));
    vectors.set(await computeDescriptor(f.path), i * dim);
    prepared.push(grid.searchable(await loadThumb(f.path)));
  }
  const groups = (edges: Iterable<{ i: number; j: number }>) => {
    const uf = new UnionFind(n);
    for (const e of edges) uf.union(e.i, e.j);
    return uf.components(2);
  };
  const fmt = (s: { precision: number; recall: number }) => `P ${s.precision.toFixed(4)} R ${s.recall.toFixed(4)}`;

  for (const t of [4, 6, 8, 10]) console.log(`phash ≤ ${t}: ${fmt(pairScores(truth, groups(hammingPairs(phash, t))))}`);
  const phashEdges = hammingPairs(phash, DEDUP_DEFAULTS.phashDistance);

  const graph = exactKnn(vectors, dim, { k: DEDUP_DEFAULTS.k });
  const candidates = knnEdges(graph, DEDUP_DEFAULTS.cosine);
  const started = performance.now();
  const scored = candidates.map((e) => ({ ...e, agreement: verifyPair(prepared[e.i]!, prepared[e.j]!) }));
  const ms = performance.now() - started;
  console.log(`${candidates.length} candidate pairs (k ${DEDUP_DEFAULTS.k}, cosine ≥ ${DEDUP_DEFAULTS.cosine}), verified in ${ms.toFixed(0)} ms`);

  const isTrue = (e: { i: number; j: number }) => files[e.i]!.group === files[e.j]!.group;
  const describe = (name: string, value: (e: (typeof scored)[number]) => number) => {
    const negatives = scored.filter((e) => !isTrue(e)).map(value).sort((a, b) => b - a);
    console.log(`\n== ${name}: hardest different-image pairs ${negatives.slice(0, 8).map((x) => x.toFixed(3)).join(' ')}`);
    const perTransform = TRANSFORMS.map((t) => {
      const scores = scored
        .filter((e) => isTrue(e) && [files[e.i]!.transform, files[e.j]!.transform].sort().join() === ['original', t].sort().join())
        .map(value)
        .sort((a, b) => a - b);
      return scores.length ? `${t} p5 ${scores[Math.floor(scores.length * 0.05)]!.toFixed(3)} min ${scores[0]!.toFixed(3)}` : `${t} none`;
    });
    console.log(`   copy→original: ${perTransform.join(' | ')}`);
  };
  describe('descriptor cosine', (e) => e.similarity);
  describe('verification score', (e) => e.agreement);

  console.log('');
  for (const c of [0.7, 0.8, 0.85, 0.9]) {
    const emb = scored.filter((e) => e.similarity >= c);
    console.log(`cosine ≥ ${c} unverified: ${fmt(pairScores(truth, groups(emb)))} | + phash: ${fmt(pairScores(truth, groups([...emb, ...phashEdges])))}`);
  }
  for (const v of [0.7, 0.75, 0.78, 0.8, VERIFY_THRESHOLD, 0.85, 0.9]) {
    const emb = scored.filter((e) => e.agreement >= v);
    const mark = v === VERIFY_THRESHOLD ? ' (shipped)' : '';
    console.log(`verified ≥ ${v}${mark}: ${fmt(pairScores(truth, groups(emb)))} | + phash: ${fmt(pairScores(truth, groups([...emb, ...phashEdges])))}`);
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
