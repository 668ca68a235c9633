import { mulberry32, shuffleInPlace } from '../common/random.js';

/** Row indices of each class, in ascending order. */
export function indicesByClass(labels: Int32Array, numClasses: number): number[][] {
  const byClass = Array.from({ length: numClasses }, () => [] as number[]);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]!]!.push(i);
  return byClass;
}

/**
 * A class-balanced random subset: from every class, `take(count)` of its rows, drawn by a seeded shuffle of that
 * class's rows (each class gets its own generator derived from the seed, so one class's size does not change
 * another class's draw). Both returned lists are sorted ascending.
 */
export function stratifiedSubset(
  labels: Int32Array,
  numClasses: number,
  take: (classCount: number) => number,
  seed: number,
): { selected: Int32Array; rest: Int32Array } {
  const selected: number[] = [];
  const rest: number[] = [];
  indicesByClass(labels, numClasses).forEach((rows, c) => {
    const k = Math.max(0, Math.min(rows.length, take(rows.length)));
    const shuffled = shuffleInPlace(rows.slice(), mulberry32(hashSeed(seed, c)));
    for (let j = 0; j < shuffled.length; j++) (j < k ? selected : rest).push(shuffled[j]!);
  });
  const asc = (a: number, b: number) => a - b;
  return { selected: Int32Array.from(selected.sort(asc)), rest: Int32Array.from(rest.sort(asc)) };
}

/** Mixes a seed and a stream number into one 32-bit seed (splitmix-style finaliser). */
function hashSeed(seed: number, stream: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}
