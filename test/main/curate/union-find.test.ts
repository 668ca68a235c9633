import { describe, expect, it } from 'vitest';
import { compareForKeep, connectedComponents, pickKeeper, UnionFind, type KeepCandidate } from '../../../main/curate/union-find.js';
import { mulberry32 } from '../../../main/common/random.js';

/** Components by graph search: the naive reference. */
function componentsByDfs(n: number, edges: [number, number][]): number[][] {
  const adj: number[][] = Array.from({ length: n }, () => []);
  for (const [a, b] of edges) {
    adj[a]!.push(b);
    adj[b]!.push(a);
  }
  const seen = new Uint8Array(n);
  const out: number[][] = [];
  for (let s = 0; s < n; s++) {
    if (seen[s]) continue;
    const comp: number[] = [];
    const stack = [s];
    seen[s] = 1;
    while (stack.length) {
      const v = stack.pop()!;
      comp.push(v);
      for (const w of adj[v]!) if (!seen[w]) ((seen[w] = 1), stack.push(w));
    }
    if (comp.length > 1) out.push(comp.sort((a, b) => a - b));
  }
  return out;
}

describe('UnionFind', () => {
  it('groups a hand-built graph: chains, a cycle, self-loops and singletons', () => {
    // 0-1-2 chain, 3-4-5-3 cycle, 6 alone with a self-loop, 7-9 pair, 8 alone, 10-11 joined twice
    const edges: [number, number][] = [
      [0, 1],
      [1, 2],
      [3, 4],
      [4, 5],
      [5, 3],
      [6, 6],
      [9, 7],
      [10, 11],
      [11, 10],
    ];
    expect(connectedComponents(12, edges)).toEqual([[0, 1, 2], [3, 4, 5], [7, 9], [10, 11]]);
  });

  it('union reports whether it merged, and find is stable', () => {
    const uf = new UnionFind(4);
    expect(uf.union(0, 1)).toBe(true);
    expect(uf.union(1, 0)).toBe(false);
    expect(uf.union(2, 3)).toBe(true);
    expect(uf.find(0)).toBe(uf.find(1));
    expect(uf.find(0)).not.toBe(uf.find(2));
    expect(uf.union(1, 3)).toBe(true);
    expect(new Set([0, 1, 2, 3].map((i) => uf.find(i))).size).toBe(1);
    expect(uf.components()).toEqual([[0, 1, 2, 3]]);
  });

  it('matches a depth-first search on random graphs', () => {
    const rand = mulberry32(7);
    for (let trial = 0; trial < 20; trial++) {
      const n = 1 + Math.floor(rand() * 300);
      const m = Math.floor(rand() * n * 1.2);
      const edges: [number, number][] = [];
      for (let e = 0; e < m; e++) edges.push([Math.floor(rand() * n), Math.floor(rand() * n)]);
      expect(connectedComponents(n, edges)).toEqual(componentsByDfs(n, edges).sort((a, b) => a[0]! - b[0]!));
    }
  });

  it('handles a long chain without deep recursion', () => {
    const n = 200_000;
    const uf = new UnionFind(n);
    for (let i = 1; i < n; i++) uf.union(i - 1, i);
    expect(uf.components(2)).toHaveLength(1);
    expect(uf.find(n - 1)).toBe(uf.find(0));
  });
});

describe('keep rules', () => {
  const group: (KeepCandidate & { name: string })[] = [
    { name: 'first-small', width: 32, height: 32, bytes: 900, order: 1 },
    { name: 'big-pixels', width: 64, height: 64, bytes: 800, order: 2 },
    { name: 'big-file', width: 32, height: 32, bytes: 5000, order: 3 },
    { name: 'big-pixels-bigger-file', width: 64, height: 64, bytes: 1200, order: 4 },
  ];
  it('resolution keeps the most pixels, the larger file breaking the tie', () => {
    expect(group[pickKeeper('resolution', group)]!.name).toBe('big-pixels-bigger-file');
  });
  it('size keeps the largest file', () => {
    expect(group[pickKeeper('size', group)]!.name).toBe('big-file');
  });
  it('first keeps the first imported, whatever the order given', () => {
    const reversed = [...group].reverse();
    expect(reversed[pickKeeper('first', reversed)]!.name).toBe('first-small');
    expect(group[pickKeeper('first', group)]!.name).toBe('first-small');
  });
  it('full ties fall back to import order; unknown sizes count as zero', () => {
    const tied = [
      { width: null, height: null, bytes: null, order: 9 },
      { width: null, height: null, bytes: null, order: 3 },
    ];
    for (const rule of ['resolution', 'size', 'first'] as const) expect(pickKeeper(rule, tied)).toBe(1);
    expect(compareForKeep('size', tied[0]!, tied[0]!)).toBe(0);
  });
  it('refuses an empty group', () => {
    expect(() => pickKeeper('first', [])).toThrow();
  });
});
