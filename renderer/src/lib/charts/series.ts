/** One named curve of an overlay chart; points sorted by x. */
export interface Series {
  label: string;
  color: string;
  points: { x: number; y: number }[];
}

/** The point of a sorted series nearest to x (binary search); null for an empty series. */
export function nearestPoint(points: readonly { x: number; y: number }[], x: number): { x: number; y: number } | null {
  if (points.length === 0) return null;
  let lo = 0;
  let hi = points.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (points[mid]!.x <= x) lo = mid;
    else hi = mid;
  }
  const a = points[lo]!;
  const b = points[hi]!;
  return Math.abs(a.x - x) <= Math.abs(b.x - x) ? a : b;
}
