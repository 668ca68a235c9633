/**
 * Calibration of the built-in descriptor and the shipped dedup thresholds, on CIFAR-10 images that the
 * ground-truth test does not use (index range 2500–4999; the test draws from 0–2499).
 * Run: npx tsx bench/curate/calibrate-descriptor.ts [originals] [distractors]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeImage } from '../../main/ingest/decode.js';
import { computeDescriptor, DEFAULT_PARTS, descriptorDimensions, type DescriptorParts } from '../../main/curate/descriptor.js';
import { exactKnn, knnEdges } from '../../main/curate/knn.js';
import { hammingPairs, parseHash64 } from '../../main/curate/hamming-index.js';
import { UnionFind } from '../../main/curate/union-find.js';
import { buildGroundTruth, pairScores, truePairs, TRANSFORMS } from '../../test/main/curate/fixtures/near-duplicates.js';

const originals = Number(process.argv[2] ?? 200);
const distractors = Number(process.argv[3] ?? 200);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-calib-'));
const gt = await buildGroundTruth(tmp, { originals, distractors, seed: 99, indexRange: [2500, 5000] });
const files = gt.files;
const truth = truePairs(files.map((f) => f.group));
console.log(`${files.length} images, ${truth.size} true pairs`);

const thumbs = path.join(tmp, 'thumbs');
const phash = [];
for (const f of files) phash.push(parseHash64((await decodeImage(f.path, { thumbnailDir: thumbs })).phash));

const variants: Record<string, DescriptorParts> = {
  default: DEFAULT_PARTS,
  hogOnly: { ...DEFAULT_PARTS, pyramid: [] },
  fine: { ...DEFAULT_PARTS, pyramid: [8, 16], hogCells: 8 },
  hogHeavy: { ...DEFAULT_PARTS, hogWeight: 1.5 },
};
const only = process.env.VARIANTS?.split(',');

function groupsFromEdges(n: number, edges: Iterable<{ i: number; j: number }>): number[][] {
  const uf = new UnionFind(n);
  for (const e of edges) uf.union(e.i, e.j);
  return uf.components(2);
}

for (const t of [4, 6, 8, 10, 12]) {
  const s = pairScores(truth, groupsFromEdges(files.length, hammingPairs(phash, t)));
  console.log(`phash t=${t}: precision ${s.precision.toFixed(4)} recall ${s.recall.toFixed(4)}`);
}

for (const [name, parts] of Object.entries(variants)) {
  if (only && !only.includes(name)) continue;
  const dim = descriptorDimensions(parts);
  const data = new Float32Array(files.length * dim);
  for (const [i, f] of files.entries()) data.set(await computeDescriptor(f.path, parts), i * dim);
  const g = exactKnn(data, dim, { k: 10 });
  // per-transform: similarity of each copy to its original
  const origIndex = new Map<string, number>();
  files.forEach((f, i) => f.transform === 'original' && origIndex.set(f.group, i));
  const dot = (a: number, b: number) => {
    let s = 0;
    for (let d = 0; d < dim; d++) s += data[a * dim + d]! * data[b * dim + d]!;
    return s;
  };
  const perT = TRANSFORMS.map((t) => {
    const sims = files.flatMap((f, i) => (f.transform === t ? [dot(i, origIndex.get(f.group)!)] : [])).sort((a, b) => a - b);
    return `${t} p5=${sims[Math.floor(sims.length * 0.05)]!.toFixed(3)} min=${sims[0]!.toFixed(3)}`;
  });
  // hardest negatives: best similarity between different groups
  const neg: number[] = [];
  for (let q = 0; q < g.n; q++) {
    for (let r = 0; r < g.k; r++) {
      const j = g.indices[q * g.k + r]!;
      if (j > q && files[j]!.group !== files[q]!.group) neg.push(g.similarities[q * g.k + r]!);
    }
  }
  neg.sort((a, b) => b - a);
  console.log(`\n== ${name} (${dim}-d): ${perT.join(' | ')}`);
  console.log(`   top negatives: ${neg.slice(0, 8).map((x) => x.toFixed(3)).join(' ')}`);
  for (const c of [0.7, 0.75, 0.8, 0.85, 0.9]) {
    const emb = knnEdges(g, c);
    const s = pairScores(truth, groupsFromEdges(files.length, emb));
    const comb = pairScores(truth, groupsFromEdges(files.length, [...emb, ...hammingPairs(phash, 8)]));
    console.log(
      `   cos≥${c}: emb P ${s.precision.toFixed(4)} R ${s.recall.toFixed(4)} | +phash8 P ${comb.precision.toFixed(4)} R ${comb.recall.toFixed(4)}`,
    );
  }
}
fs.rmSync(tmp, { recursive: true, force: true });
