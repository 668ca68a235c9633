import type { SplitResult } from '../../shared/contract/datasets.js';
import { conflict, invalid } from '../common/errors.js';
import { mulberry32, shuffleInPlace } from '../common/random.js';
import type { Catalog } from './catalog.js';

export interface SplitPartSpec {
  name: string;
  fraction: number;
}

/**
 * Parses `train:0.9,test:0.1` as the CLI takes it.
 */
export function parseSplitSpec(spec: string): SplitPartSpec[] {
  const parts = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw invalid('--into needs NAME:FRACTION pairs, e.g. train:0.9,test:0.1');
  return parts.map((p) => {
    const i = p.lastIndexOf(':');
    const name = i > 0 ? p.slice(0, i) : '';
    const fraction = Number(i > 0 ? p.slice(i + 1) : NaN);
    if (!name || !Number.isFinite(fraction) || fraction <= 0 || fraction > 1) {
      throw invalid(`bad split part "${p}": expected NAME:FRACTION with 0 < FRACTION ≤ 1`);
    }
    return { name, fraction };
  });
}

/**
 * Splits a dataset into class-balanced parts: within each label the images are shuffled by seed and dealt out by
 * the fractions, so every part keeps the label proportions. All parts are created in one transaction.
 */
export function splitDataset(catalog: Catalog, source: string, parts: readonly SplitPartSpec[], seed: number): SplitResult {
  const total = parts.reduce((s, p) => s + p.fraction, 0);
  if (total > 1 + 1e-9) throw invalid(`split fractions add up to ${total.toFixed(3)}, more than 1`);
  for (const p of parts) {
    if (catalog.findDatasetByName(p.name)) throw conflict(`a dataset named "${p.name}" already exists`);
  }
  const sourceId = catalog.datasetIdByName(source);
  const images = catalog.datasetImages(sourceId);
  if (images.length === 0) throw invalid(`dataset "${source}" has no usable images to split`);

  const byLabel = new Map<string | null, typeof images>();
  for (const img of images) {
    const list = byLabel.get(img.label) ?? [];
    list.push(img);
    byLabel.set(img.label, list);
  }
  const rand = mulberry32(seed);
  const assigned = parts.map(() => [] as { imageId: number; label: string | null }[]);
  const labels = [...byLabel.keys()].sort((a, b) => String(a).localeCompare(String(b)));
  for (const label of labels) {
    const list = shuffleInPlace([...byLabel.get(label)!], rand);
    const counts = apportion(list.length, parts.map((p) => p.fraction));
    let offset = 0;
    counts.forEach((n, pi) => {
      for (const img of list.slice(offset, offset + n)) assigned[pi]!.push({ imageId: img.id, label: img.label });
      offset += n;
    });
  }
  const result: SplitResult = { parts: [] };
  catalog.db.transaction(() => {
    parts.forEach((p, pi) => {
      const members = assigned[pi]!.sort((a, b) => a.imageId - b.imageId);
      const datasetId = catalog.createDerivedDataset(p.name, 'split', sourceId, members, `split of ${source} (seed ${seed})`);
      const perLabel: Record<string, number> = {};
      for (const m of members) perLabel[m.label ?? ''] = (perLabel[m.label ?? ''] ?? 0) + 1;
      result.parts.push({ name: p.name, datasetId, count: members.length, perLabel });
    });
  })();
  return result;
}

/** Largest-remainder apportionment of n items by fractions (which may sum to less than 1). */
export function apportion(n: number, fractions: readonly number[]): number[] {
  const exact = fractions.map((f) => f * n);
  const counts = exact.map(Math.floor);
  const target = Math.min(n, Math.round(fractions.reduce((s, f) => s + f, 0) * n));
  let left = target - counts.reduce((s, c) => s + c, 0);
  const order = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    counts[i]!++;
    left--;
  }
  return counts;
}
