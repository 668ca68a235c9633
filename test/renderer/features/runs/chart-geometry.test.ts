import { describe, expect, it } from 'vitest';
import { appendPoints, domainOf, formatTick, linePath, niceTicks, plotArea, plotScales, tickSpacing, type Point } from '../../../../renderer/src/features/runs/chart-geometry.js';

const plot = { left: 0, top: 0, width: 100, height: 50 };

function vertices(path: string): { x: number; y: number }[] {
  return [...path.matchAll(/[ML](-?[\d.]+) (-?[\d.]+)/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]) }));
}

/** The naive drawing: every point mapped to pixels, no bucketing. */
function naive(points: Point[], d: NonNullable<ReturnType<typeof domainOf>>) {
  return points.map((p) => ({
    x: ((p.x - d.xMin) / (d.xMax - d.xMin)) * plot.width,
    y: plot.height - ((p.y - d.yMin) / (d.yMax - d.yMin)) * plot.height,
  }));
}

describe('domainOf', () => {
  it('covers the finite points, ignores NaN/Infinity, pads a flat line', () => {
    expect(domainOf([])).toBeNull();
    expect(domainOf([{ x: 1, y: NaN }])).toBeNull();
    const d = domainOf([{ x: 1, y: 2 }, { x: 5, y: Infinity }, { x: 3, y: 2 }])!;
    expect(d.xMin).toBe(1);
    expect(d.xMax).toBe(3);
    expect(d.yMin).toBeLessThan(2);
    expect(d.yMax).toBeGreaterThan(2);
  });
  it('a flat zero line on a zero-based axis stays above zero', () => {
    const d = domainOf([{ x: 0, y: 0 }, { x: 1, y: 0 }], { zeroBased: true })!;
    expect(d.yMin).toBe(0);
    expect(d.yMax).toBeGreaterThan(0);
  });
  it('starts at zero when asked, without padding below it', () => {
    const d = domainOf([{ x: 0, y: 3 }, { x: 1, y: 5 }], { zeroBased: true })!;
    expect(d.yMin).toBe(0);
    expect(d.yMax).toBeGreaterThan(5);
  });
});

describe('linePath', () => {
  it('draws every point when there are fewer points than pixel columns', () => {
    const points = Array.from({ length: 20 }, (_, i) => ({ x: i, y: Math.sin(i) }));
    const d = domainOf(points)!;
    const got = vertices(linePath(points, d, plot));
    const want = naive(points, d);
    expect(got).toHaveLength(want.length);
    got.forEach((v, i) => {
      expect(v.x).toBeCloseTo(want[i]!.x, 0);
      expect(v.y).toBeCloseTo(want[i]!.y, 0);
    });
  });

  it('keeps at most four vertices per pixel column, and keeps every column extreme (spikes survive)', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const points = Array.from({ length: 20_000 }, (_, i) => ({ x: i, y: rand() }));
    points[12_345]!.y = 40; // a spike
    const d = domainOf(points)!;
    const got = vertices(linePath(points, d, plot));
    expect(got.length).toBeLessThanOrEqual(4 * (plot.width + 1));
    const mapped = naive(points, d);
    const byColumn = new Map<number, { x: number; y: number }[]>();
    for (const v of mapped) {
      const c = Math.floor(v.x);
      byColumn.set(c, [...(byColumn.get(c) ?? []), v]);
    }
    // Each column's highest and lowest point is among the drawn vertices (to the path's 0.1 px rounding).
    const drawn = (v: { x: number; y: number }) => got.some((g) => Math.abs(g.x - v.x) <= 0.06 && Math.abs(g.y - v.y) <= 0.06);
    for (const vs of byColumn.values()) {
      const lo = vs.reduce((a, b) => (b.y < a.y ? b : a));
      const hi = vs.reduce((a, b) => (b.y > a.y ? b : a));
      expect(drawn(lo)).toBe(true);
      expect(drawn(hi)).toBe(true);
    }
    expect(Math.min(...got.map((v) => v.y))).toBeCloseTo(mapped[12_345]!.y, 0); // the spike is drawn at its height
  });
});

describe('niceTicks', () => {
  it('gives round steps inside the range', () => {
    expect(niceTicks(0, 1, 4)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(2.31, 2.79, 3)).toEqual([2.4, 2.6]);
    expect(niceTicks(0, 1000, 3)).toEqual([0, 500, 1000]);
    expect(niceTicks(1, 1, 3)).toEqual([]);
  });
});

describe('formatTick', () => {
  it('uses the decimals the spacing needs', () => {
    expect(formatTick(0.015, 0.005)).toBe('0.015');
    expect(formatTick(2.6, 0.2)).toBe('2.6');
    expect(formatTick(1500, 500)).toBe('1500');
    expect(formatTick(0, 0.1)).toBe('0');
    expect(formatTick(4e-5, 2e-5)).toBe('4.0e-5');
  });
});

describe('appendPoints', () => {
  const pts = (steps: number[]) => steps.map((step) => ({ step }));
  it('appends in order', () => {
    expect(appendPoints(pts([1, 2]), pts([3, 4]), 100)).toEqual(pts([1, 2, 3, 4]));
  });
  it('drops the points a resume from an earlier checkpoint replaces', () => {
    expect(appendPoints(pts([1, 2, 3, 4, 5]), pts([3, 4]), 100)).toEqual(pts([1, 2, 3, 4]));
  });
  it('halves past the cap and keeps the newest point', () => {
    const out = appendPoints(pts(Array.from({ length: 10 }, (_, i) => i + 1)), pts([11]), 10);
    expect(out.length).toBeLessThanOrEqual(10);
    expect(out[0]!.step).toBe(1);
    expect(out[out.length - 1]!.step).toBe(11);
    for (let i = 1; i < out.length; i++) expect(out[i]!.step).toBeGreaterThan(out[i - 1]!.step);
  });
  it('stays bounded over a long live stream', () => {
    let s: { step: number }[] = [];
    for (let i = 1; i <= 50_000; i++) s = appendPoints(s, [{ step: i }], 1000);
    expect(s.length).toBeLessThanOrEqual(1000);
    expect(s.length).toBeGreaterThan(400);
    expect(s[s.length - 1]!.step).toBe(50_000);
  });
});

describe('plotArea, plotScales, tickSpacing', () => {
  it('insets the plot by the padding and keeps it at least 10 units wide', () => {
    expect(plotArea(320, 132, { left: 52, right: 10, top: 8, bottom: 20 })).toEqual({ left: 52, top: 8, width: 258, height: 104 });
    expect(plotArea(40, 132, { left: 52, right: 10, top: 8, bottom: 20 }).width).toBe(10);
  });
  it('maps the domain corners to the plot corners (y up) and agrees with the naive mapping between them', () => {
    const box = { left: 52, top: 8, width: 258, height: 104 };
    const d = { xMin: 10, xMax: 510, yMin: -2, yMax: 6 };
    const { sx, sy } = plotScales(d, box);
    expect(sx(d.xMin)).toBeCloseTo(box.left, 9);
    expect(sx(d.xMax)).toBeCloseTo(box.left + box.width, 9);
    expect(sy(d.yMin)).toBeCloseTo(box.top + box.height, 9);
    expect(sy(d.yMax)).toBeCloseTo(box.top, 9);
    for (const [x, y] of [[37, 0.5], [260, -1.25], [499, 5.9]] as const) {
      expect(sx(x)).toBeCloseTo(box.left + (box.width * (x - d.xMin)) / (d.xMax - d.xMin), 9);
      expect(sy(y)).toBeCloseTo(box.top + box.height - (box.height * (y - d.yMin)) / (d.yMax - d.yMin), 9);
    }
    // the path's vertices sit where the scales put the same points
    const pts = [{ x: 10, y: 0 }, { x: 260, y: 3 }, { x: 510, y: -2 }];
    const drawnAt = vertices(linePath(pts, d, box));
    drawnAt.forEach((v, i) => {
      expect(Math.abs(v.x - sx(pts[i]!.x))).toBeLessThanOrEqual(0.05);
      expect(Math.abs(v.y - sy(pts[i]!.y))).toBeLessThanOrEqual(0.05);
    });
  });
  it('puts everything at 0 without a domain', () => {
    const { sx, sy } = plotScales(null, plot);
    expect([sx(5), sy(5)]).toEqual([0, 0]);
  });
  it('tick spacing is the gap of the first two ticks, 1 with fewer', () => {
    expect(tickSpacing([0.2, 0.4, 0.6])).toBeCloseTo(0.2, 12);
    expect(tickSpacing([3])).toBe(1);
    expect(tickSpacing([])).toBe(1);
  });
});
