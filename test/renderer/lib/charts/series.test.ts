import { describe, expect, it } from 'vitest';
import { nearestPoint } from '../../../../renderer/src/lib/charts/series.js';

function naive(points: { x: number; y: number }[], x: number) {
  let best: { x: number; y: number } | null = null;
  for (const p of points) if (best === null || Math.abs(p.x - x) < Math.abs(best.x - x)) best = p;
  return best;
}

describe('nearestPoint', () => {
  it('matches a linear scan on sorted series of many lengths', () => {
    let seed = 1;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let n = 0; n < 40; n++) {
      const xs = Array.from({ length: n }, () => Math.floor(rand() * 1000)).sort((a, b) => a - b);
      const pts = [...new Set(xs)].map((x, i) => ({ x, y: i }));
      for (const q of [-5, 0, 3.5, 250, 999, 1200, rand() * 1000]) {
        const got = nearestPoint(pts, q);
        const want = naive(pts, q);
        expect(got === null ? null : Math.abs(got.x - q)).toBe(want === null ? null : Math.abs(want.x - q));
      }
    }
  });
});
