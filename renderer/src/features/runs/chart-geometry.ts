/**
 * The arithmetic behind the run charts, kept free of the DOM so it can be tested against a naive reference.
 * A chart draws one polyline; however many points a run logs, the path has at most four vertices per pixel
 * column (first, min, max, last), so redrawing a 100,000-step curve costs the same as a 1,000-step one.
 */

export interface Point {
  x: number;
  y: number;
}

export interface Domain {
  xMin: number;
  xMax: number;
  yMin: number;
  yMax: number;
}

export interface Plot {
  /** drawing area in SVG units, inside the axes */
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The x and y range of the finite points, padded so a flat line sits mid-chart; null without points. */
export function domainOf(points: readonly Point[], options: { zeroBased?: boolean } = {}): Domain | null {
  let xMin = Infinity;
  let xMax = -Infinity;
  let yMin = Infinity;
  let yMax = -Infinity;
  for (const p of points) {
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) continue;
    if (p.x < xMin) xMin = p.x;
    if (p.x > xMax) xMax = p.x;
    if (p.y < yMin) yMin = p.y;
    if (p.y > yMax) yMax = p.y;
  }
  if (xMin === Infinity) return null;
  if (options.zeroBased && yMin > 0) yMin = 0;
  if (xMin === xMax) {
    xMin -= 0.5;
    xMax += 0.5;
  }
  if (yMin === yMax) {
    const pad = Math.abs(yMin) > 0 ? Math.abs(yMin) * 0.1 : 1;
    if (!(options.zeroBased && yMin === 0)) yMin -= pad;
    yMax += pad;
  } else {
    const pad = (yMax - yMin) * 0.05;
    yMax += pad;
    if (!(options.zeroBased && yMin === 0)) yMin -= pad;
  }
  return { xMin, xMax, yMin, yMax };
}

/**
 * SVG path data ("M x y L x y …") of the points in the plot. Points are assumed sorted by x. Points that fall
 * in the same pixel column collapse to that column's first, lowest, highest and last point, in x order, so
 * spikes stay visible.
 */
export function linePath(points: readonly Point[], domain: Domain, plot: Plot): string {
  const sx = plot.width / (domain.xMax - domain.xMin);
  const sy = plot.height / (domain.yMax - domain.yMin);
  const px = (x: number) => plot.left + (x - domain.xMin) * sx;
  const py = (y: number) => plot.top + plot.height - (y - domain.yMin) * sy;
  const out: string[] = [];
  let column = NaN;
  let bucket: Point[] = [];
  const flush = () => {
    if (bucket.length === 0) return;
    for (const p of bucketVertices(bucket)) out.push(`${out.length === 0 ? 'M' : 'L'}${round(px(p.x))} ${round(py(p.y))}`);
    bucket = [];
  };
  for (const p of points) {
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) continue;
    const c = Math.floor(px(p.x));
    if (c !== column) {
      flush();
      column = c;
    }
    bucket.push(p);
  }
  flush();
  return out.join('');
}

/** first, min, max, last of one pixel column, each once, in the order they were logged */
function bucketVertices(bucket: readonly Point[]): Point[] {
  if (bucket.length <= 4) return [...bucket];
  let lo = 0;
  let hi = 0;
  for (let i = 1; i < bucket.length; i++) {
    if (bucket[i]!.y < bucket[lo]!.y) lo = i;
    if (bucket[i]!.y > bucket[hi]!.y) hi = i;
  }
  const keep = [...new Set([0, lo, hi, bucket.length - 1])].sort((a, b) => a - b);
  return keep.map((i) => bucket[i]!);
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}

/** About `count` round tick values (1, 2 or 5 × 10^k apart) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 4): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max) || max <= min || count < 1) return [];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Room left around the plot for tick labels, in SVG units. */
export interface Padding {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** The drawing area of a chart `width` × `height` units inside `pad`; at least 10 units wide however narrow. */
export function plotArea(width: number, height: number, pad: Padding): Plot {
  return { left: pad.left, top: pad.top, width: Math.max(10, width - pad.left - pad.right), height: height - pad.top - pad.bottom };
}

/** Where a data x and y land in the plot (y grows upwards); without a domain nothing is drawn and both give 0. */
export function plotScales(domain: Domain | null, plot: Plot): { sx: (x: number) => number; sy: (y: number) => number } {
  if (!domain) return { sx: () => 0, sy: () => 0 };
  return {
    sx: (x) => plot.left + ((x - domain.xMin) / (domain.xMax - domain.xMin)) * plot.width,
    sy: (y) => plot.top + plot.height - ((y - domain.yMin) / (domain.yMax - domain.yMin)) * plot.height,
  };
}

/** The distance between evenly spaced ticks (what formatTick needs); 1 with fewer than two ticks. */
export function tickSpacing(ticks: readonly number[]): number {
  return ticks.length > 1 ? ticks[1]! - ticks[0]! : 1;
}

/** A tick label with as many decimals as the tick spacing needs: 0.005 apart → "0.015", 500 apart → "1500". */
export function formatTick(value: number, step: number): string {
  if (value === 0) return '0';
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  if (decimals > 4 || Math.abs(value) >= 1e6) return value.toExponential(1);
  return value.toFixed(decimals);
}

/**
 * Appends points to a live series, halving it (every other point, the newest always kept) whenever it grows
 * past `cap`, as runs.get thins the stored history, so a run that trains for days stays cheap to draw.
 * A point whose x does not move past the last one means the run resumed from an earlier checkpoint: the
 * points from there on are dropped first, as main drops them from the catalog.
 */
export function appendPoints<T extends { step: number }>(series: readonly T[], added: readonly T[], cap: number): T[] {
  let out = series.slice();
  for (const p of added) {
    if (out.length > 0 && out[out.length - 1]!.step >= p.step) {
      const keep = out.findIndex((q) => q.step >= p.step);
      out = out.slice(0, keep === -1 ? out.length : keep);
    }
    out.push(p);
  }
  const limit = Math.max(4, cap);
  while (out.length > limit) {
    const last = out[out.length - 1]!;
    out = out.filter((_, i) => i % 2 === 0);
    if (out[out.length - 1] !== last) out.push(last);
  }
  return out;
}
