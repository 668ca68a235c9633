/**
 * Box-filter downscale of interleaved 8-bit pixels to a small grid of luma (BT.601: 0.299 R + 0.587 G + 0.114 B),
 * each cell the area-weighted mean of the pixels it covers (fractional at the edges). The dHash reads a 9×8 grid
 * of the thumbnail this way in JS, which is some forty times cheaper than one more libvips pipeline per image.
 */
export function grayGrid(
  data: Uint8Array,
  width: number,
  height: number,
  channels: number,
  cols: number,
  rows: number,
): Uint8Array {
  if (data.length < width * height * channels) throw new Error(`grayGrid: ${data.length} bytes for ${width}×${height}×${channels}`);
  // Luma per pixel, then one separable pass per axis with precomputed coverage weights.
  const luma = new Float64Array(width * height);
  for (let p = 0, i = 0; p < luma.length; p++, i += channels) {
    luma[p] = channels >= 3 ? 0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]! : data[i]!;
  }
  const wx = coverage(width, cols);
  const wy = coverage(height, rows);
  const rowSums = new Float64Array(height * cols);
  for (let y = 0; y < height; y++) {
    for (const { out, src, w } of wx) rowSums[y * cols + out] = rowSums[y * cols + out]! + w * luma[y * width + src]!;
  }
  const grid = new Float64Array(rows * cols);
  for (const { out, src, w } of wy) {
    for (let x = 0; x < cols; x++) grid[out * cols + x] = grid[out * cols + x]! + w * rowSums[src * cols + x]!;
  }
  const cellArea = (width / cols) * (height / rows);
  const result = new Uint8Array(rows * cols);
  for (let i = 0; i < result.length; i++) result[i] = Math.min(255, Math.max(0, Math.round(grid[i]! / cellArea)));
  return result;
}

/** For each output cell of n over an input of size N, the input samples it overlaps and by how much. */
function coverage(size: number, n: number): { out: number; src: number; w: number }[] {
  const weights: { out: number; src: number; w: number }[] = [];
  const step = size / n;
  for (let out = 0; out < n; out++) {
    const a = out * step;
    const b = a + step;
    for (let src = Math.floor(a); src < Math.min(size, Math.ceil(b)); src++) {
      const w = Math.min(b, src + 1) - Math.max(a, src);
      if (w > 1e-12) weights.push({ out, src, w });
    }
  }
  return weights;
}
