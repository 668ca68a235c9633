import { DedupInput, type DedupGroup, type DedupOptions, type DedupResult, type DedupStrategy } from '../../shared/contract/curate.js';
import type { Catalog, DatasetImage } from '../catalog/catalog.js';
import { conflict, invalid } from '../common/errors.js';
import type { JobContext } from '../common/jobs.js';
import { embedImages } from './embeddings.js';
import { withEncoder } from './encoders.js';
import { hammingPairs, hashInformation, MIN_HASH_INFORMATION, parseHash64, popcount32, type Hash64 } from './hamming-index.js';
import { knnEdges, knnGraph } from './knn.js';
import { pickKeeper, UnionFind } from './union-find.js';
import { verifyEdges } from './verify.js';

/** Checks and completes options (the CLI and the RPC both come through here), with one clear message per problem. */
export function parseDedupOptions(input: unknown): DedupOptions {
  const r = DedupInput.safeParse(input);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`);
    throw invalid(issues[0]!, issues);
  }
  return r.data;
}

/**
 * Finds near-duplicate groups in a dataset and, with `apply`, creates a curated version without them.
 * Every strategy contributes edges between images; union-find joins them into groups; a keep rule picks the one
 * image each group keeps. Nothing in the catalog changes unless `apply` is given, and then in one transaction at
 * the very end, so a cancel at any earlier point leaves every dataset as it was.
 */
export async function runDedup(catalog: Catalog, options: DedupOptions, ctx: JobContext): Promise<DedupResult> {
  const started = performance.now();
  const opts = parseDedupOptions(options);
  const datasetId = catalog.datasetIdByName(opts.dataset);
  if (opts.apply !== undefined && catalog.findDatasetByName(opts.apply)) throw conflict(`a dataset named "${opts.apply}" already exists`);

  ctx.setPhase('loading');
  const images = catalog.datasetImages(datasetId);
  const n = images.length;
  const uf = new UnionFind(n);
  const edges: Record<string, number> = {};
  const use = (s: DedupStrategy) => opts.strategies.includes(s);

  if (use('exact')) {
    ctx.setPhase('exact', n);
    const first = new Map<string, number>();
    let count = 0;
    images.forEach((img, i) => {
      if (!img.sha256) return;
      const j = first.get(img.sha256);
      if (j === undefined) first.set(img.sha256, i);
      else {
        uf.union(j, i);
        count++;
      }
    });
    edges.exact = count;
    ctx.progress(n);
  }

  const hashes: (Hash64 | null)[] = images.map((img) => (img.phash ? safeHash(img.phash) : null));
  const verified = new Set<string>();
  if (use('phash')) {
    ctx.setPhase('phash', n);
    const present = hashes.flatMap((h, i) => (h ? [i] : []));
    const pairs = hammingPairs(present.map((i) => hashes[i]!), opts.phashDistance);
    // A match between low-information hashes (mostly flat images) happens by chance; the pixel check decides it.
    const weak: { i: number; j: number; similarity: number }[] = [];
    let strong = 0;
    for (const p of pairs) {
      const i = present[p.i]!;
      const j = present[p.j]!;
      if (Math.min(hashInformation(hashes[i]!), hashInformation(hashes[j]!)) >= MIN_HASH_INFORMATION) {
        uf.union(i, j);
        strong++;
      } else weak.push({ i, j, similarity: 1 - p.distance / 64 });
    }
    ctx.progress(n);
    let confirmed = 0;
    if (weak.length > 0) {
      const { kept } = await verifyEdges(
        images.map((img) => img.path),
        weak,
        ctx,
      );
      for (const e of kept) {
        uf.union(e.i, e.j);
        verified.add(edgeKey(e.i, e.j));
      }
      confirmed = kept.length;
    }
    edges.phash = strong + confirmed;
  }
  ctx.throwIfCancelled();

  let vectors: Float32Array | null = null;
  let dim = 0;
  let embeddingFailures = 0;
  let encoderInfo: DedupResult['encoder'];
  if (use('embedding') && n > 1) {
    const emb = await withEncoder(catalog, opts.encoder, (encoder) => embedImages(catalog, images, ctx, { encoder }));
    vectors = emb.vectors;
    dim = emb.dim;
    embeddingFailures = emb.failed.length;
    encoderInfo = emb.encoder;
    ctx.setPhase('neighbours', n);
    const graph = knnGraph(vectors, dim, {
      k: opts.k,
      minSimilarity: opts.cosine,
      signal: ctx.signal,
      onProgress: (d) => ctx.progress(d),
    });
    // The cosine threshold proposes pairs; the pixel check (verify.ts) confirms them, because a global descriptor
    // alone cannot separate crops and captioned copies from similar photos.
    const candidates = knnEdges(graph, opts.cosine);
    const { kept } = await verifyEdges(
      images.map((img) => img.path),
      candidates,
      ctx,
    );
    for (const e of kept) {
      uf.union(e.i, e.j);
      verified.add(edgeKey(e.i, e.j));
    }
    edges.embedding = kept.length;
  }
  ctx.throwIfCancelled();

  ctx.setPhase('grouping');
  const groups: DedupGroup[] = [];
  const removedIds = new Set<number>();
  const order = (i: number) => images[i]!.id;
  for (const members of uf.components(2)) {
    const candidates = members.map((i) => ({ i, width: images[i]!.width, height: images[i]!.height, bytes: images[i]!.bytes, order: order(i) }));
    const keeper = candidates[pickKeeper(opts.keep, candidates)]!.i;
    const duplicates = members
      .filter((i) => i !== keeper)
      .map((i) => {
        removedIds.add(images[i]!.id);
        return { imageId: images[i]!.id, path: images[i]!.path, ...evidence(images, hashes, vectors, dim, verified, keeper, i, opts) };
      })
      .sort((a, b) => b.similarity - a.similarity || a.imageId - b.imageId);
    groups.push({ keepId: images[keeper]!.id, keep: images[keeper]!.path, duplicates });
  }
  groups.sort((a, b) => b.duplicates.length - a.duplicates.length || a.keepId - b.keepId);

  let applied: DedupResult['applied'] = null;
  if (opts.apply !== undefined) {
    ctx.throwIfCancelled();
    ctx.setPhase('applying');
    const members = images.filter((img) => !removedIds.has(img.id)).map((img) => ({ imageId: img.id, label: img.label }));
    const description = `${opts.dataset} without ${removedIds.size} near-duplicates (${opts.strategies.join('+')}, phash ≤ ${opts.phashDistance}, cosine ≥ ${opts.cosine}, keep ${opts.keep})`;
    const id = catalog.createDerivedDataset(opts.apply, 'curated', datasetId, members, description);
    applied = { name: opts.apply, datasetId: id, imageCount: members.length };
  }
  return {
    dataset: opts.dataset,
    datasetId,
    strategies: opts.strategies,
    phashDistance: opts.phashDistance,
    cosine: opts.cosine,
    k: opts.k,
    keep: opts.keep,
    imageCount: n,
    edges,
    groups,
    removed: removedIds.size,
    embeddingFailures,
    ...(encoderInfo ? { encoder: encoderInfo } : {}),
    applied,
    seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
  };
}

function edgeKey(a: number, b: number): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

function safeHash(hex: string): Hash64 | null {
  try {
    return parseHash64(hex);
  } catch {
    return null;
  }
}

function evidence(
  images: readonly DatasetImage[],
  hashes: readonly (Hash64 | null)[],
  vectors: Float32Array | null,
  dim: number,
  verified: ReadonlySet<string>,
  keeper: number,
  i: number,
  opts: DedupOptions,
): { similarity: number; match: 'exact' | 'phash' | 'embedding' | 'group' } {
  const a = images[keeper]!;
  const b = images[i]!;
  const sameBytes = a.sha256 !== null && a.sha256 === b.sha256;
  let cosine: number | null = null;
  if (vectors) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += vectors[keeper * dim + d]! * vectors[i * dim + d]!;
    cosine = s;
  }
  const ha = hashes[keeper];
  const hb = hashes[i];
  const distance = ha && hb ? popcount32(ha.hi ^ hb.hi) + popcount32(ha.lo ^ hb.lo) : null;
  const similarity = sameBytes ? 1 : cosine !== null ? cosine : distance !== null ? 1 - distance / 64 : 0;
  const use = (s: DedupStrategy) => opts.strategies.includes(s);
  const match =
    sameBytes && use('exact')
      ? 'exact'
      : distance !== null && distance <= opts.phashDistance && use('phash') && (Math.min(hashInformation(ha!), hashInformation(hb!)) >= MIN_HASH_INFORMATION || verified.has(edgeKey(keeper, i)))
        ? 'phash'
        : verified.has(edgeKey(keeper, i))
          ? 'embedding'
          : 'group';
  return { similarity: Number(similarity.toFixed(4)), match };
}
