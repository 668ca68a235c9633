/**
 * Disjoint sets over 0..n-1 with path compression (halving) and union by rank: near-constant time per operation,
 * so a million-image duplicate graph is grouped in one pass over its edges.
 */
export class UnionFind {
  private readonly parent: Int32Array;
  private readonly rank: Uint8Array;

  constructor(readonly size: number) {
    this.parent = new Int32Array(size);
    this.rank = new Uint8Array(size);
    for (let i = 0; i < size; i++) this.parent[i] = i;
  }

  find(x: number): number {
    const p = this.parent;
    while (p[x]! !== x) {
      p[x] = p[p[x]!]!;
      x = p[x]!;
    }
    return x;
  }

  /** Joins the sets of a and b; returns false when they were already one set. */
  union(a: number, b: number): boolean {
    let ra = this.find(a);
    let rb = this.find(b);
    if (ra === rb) return false;
    if (this.rank[ra]! < this.rank[rb]!) [ra, rb] = [rb, ra];
    this.parent[rb] = ra;
    if (this.rank[ra] === this.rank[rb]) this.rank[ra]!++;
    return true;
  }

  /** Every set with more than `minSize` members, each sorted ascending, ordered by its smallest member. */
  components(minSize = 1): number[][] {
    const byRoot = new Map<number, number[]>();
    for (let i = 0; i < this.size; i++) {
      const r = this.find(i);
      let list = byRoot.get(r);
      if (!list) byRoot.set(r, (list = []));
      list.push(i);
    }
    const out: number[][] = [];
    for (const list of byRoot.values()) if (list.length >= minSize) out.push(list);
    out.sort((a, b) => a[0]! - b[0]!);
    return out;
  }
}

/** Connected components (of two or more nodes) of an undirected graph given as edges over 0..n-1. */
export function connectedComponents(n: number, edges: Iterable<readonly [number, number]>): number[][] {
  const uf = new UnionFind(n);
  for (const [a, b] of edges) uf.union(a, b);
  return uf.components(2);
}

export type KeepRule = 'resolution' | 'size' | 'first';
export const KEEP_RULES: readonly KeepRule[] = ['resolution', 'size', 'first'];

/** What a keep rule looks at. `order` is the import order (smaller = imported first). */
export interface KeepCandidate {
  width: number | null;
  height: number | null;
  bytes: number | null;
  order: number;
}

/**
 * Which member of a duplicate group survives:
 * - resolution: most pixels, then the larger file, then the first imported;
 * - size: the largest file, then most pixels, then the first imported;
 * - first: the first imported.
 * Ties always fall back to import order, so the choice is deterministic.
 */
export function compareForKeep(rule: KeepRule, a: KeepCandidate, b: KeepCandidate): number {
  const pixels = (c: KeepCandidate) => (c.width ?? 0) * (c.height ?? 0);
  const bytes = (c: KeepCandidate) => c.bytes ?? 0;
  let d = 0;
  if (rule === 'resolution') d = pixels(b) - pixels(a) || bytes(b) - bytes(a);
  else if (rule === 'size') d = bytes(b) - bytes(a) || pixels(b) - pixels(a);
  return d || a.order - b.order;
}

/** Index (into `members`) of the member that the rule keeps. */
export function pickKeeper<T extends KeepCandidate>(rule: KeepRule, members: readonly T[]): number {
  if (members.length === 0) throw new Error('pickKeeper needs at least one member');
  let best = 0;
  for (let i = 1; i < members.length; i++) if (compareForKeep(rule, members[i]!, members[best]!) < 0) best = i;
  return best;
}
