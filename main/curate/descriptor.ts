import sharp from 'sharp';

/**
 * The built-in perceptual descriptor: a compact, training-free image embedding for near-duplicate search, so that
 * curation works before any model exists.
 *
 * It describes the layout of brightness, nothing else, so that what a copy typically changes does not move it:
 * - uniform borders are trimmed first (letterboxing, frames);
 * - the image is squashed to a fixed grid (resizing, small crops, aspect changes barely move coarse cells);
 * - only luminance is used, each part centred and scaled to unit length (colour shifts, grayscale, brightness and
 *   contrast changes, re-encoding);
 * - every feature is summed with the same feature of the mirrored image (horizontal flips).
 * Parts (all on a 32×32 luminance grid, lightly blurred):
 * - a brightness pyramid: 4×4, 8×8 and 16×16 cell means, each part centred and L2-normalised;
 * - gradient-orientation histograms: 4×4 cells × 8 signed orientations, magnitude weighted, square-rooted.
 * The result is L2-normalised, so a dot product is the cosine similarity.
 */
export const BUILTIN_ENCODER = 'builtin:descriptor-v1';
export const GRID = 32;

export interface DescriptorParts {
  pyramid: readonly number[];
  hogCells: number;
  hogBins: number;
  pyramidWeight: number;
  hogWeight: number;
  trim: boolean;
}

export const DEFAULT_PARTS: DescriptorParts = {
  pyramid: [4, 8, 16],
  hogCells: 4,
  hogBins: 8,
  pyramidWeight: 1,
  hogWeight: 1.5,
  trim: true,
};

export function descriptorDimensions(parts: DescriptorParts = DEFAULT_PARTS): number {
  return parts.pyramid.reduce((s, g) => s + g * g, 0) + parts.hogCells * parts.hogCells * parts.hogBins;
}

export const DESCRIPTOR_DIMENSIONS = descriptorDimensions();

/** Working size for border detection: big enough to see a thin frame, small enough to be cheap. */
const TRIM_SIZE = 128;
/** A border row or column deviates from the border colour by at most this much (0–255) in every channel. */
const BORDER_TOLERANCE = 24;

/**
 * Decodes an image file (or buffer) to a GRID×GRID luminance grid. Uniform borders are removed first, but only
 * in pairs of opposite sides of one colour (letterbox, pillarbox, frame): that treats both sides alike, so a
 * mirrored copy is trimmed the same way, and a natural image with a plain sky at the top is left alone.
 */
export async function loadLuma(input: string | Buffer, trim = true): Promise<Float32Array> {
  const { data, info } = await sharp(input, { failOn: 'truncated', pages: 1 })
    .rotate()
    .flatten({ background: '#808080' })
    .resize(TRIM_SIZE, TRIM_SIZE, { fit: 'inside', withoutEnlargement: true })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const box = trim ? contentBox(data, info.width, info.height, info.channels) : { left: 0, top: 0, width: info.width, height: info.height };
  const raw = { width: info.width, height: info.height, channels: info.channels as 1 | 2 | 3 | 4 };
  const grid = await sharp(data, { raw })
    .extract(box)
    .resize(GRID, GRID, { fit: 'fill', kernel: 'cubic' })
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const ch = grid.info.channels;
  const luma = new Float32Array(GRID * GRID);
  for (let i = 0; i < luma.length; i++) luma[i] = grid.data[i * ch]! / 255;
  return luma;
}

/** The region left once uniform borders of one colour are removed from opposite sides. */
export function contentBox(data: Uint8Array, width: number, height: number, channels: number) {
  const px = (x: number, y: number, c: number) => data[(y * width + x) * channels + c]!;
  const colours = Math.min(3, channels);
  /** The mean colour of a line, or null when the line is not uniform. */
  const lineColour = (horizontal: boolean, at: number, from: number, to: number): number[] | null => {
    const mean = [0, 0, 0];
    const n = to - from;
    if (n <= 0) return null;
    for (let i = from; i < to; i++) for (let c = 0; c < colours; c++) mean[c]! += horizontal ? px(i, at, c) : px(at, i, c);
    for (let c = 0; c < colours; c++) mean[c]! /= n;
    for (let i = from; i < to; i++) {
      for (let c = 0; c < colours; c++) {
        if (Math.abs((horizontal ? px(i, at, c) : px(at, i, c)) - mean[c]!) > BORDER_TOLERANCE) return null;
      }
    }
    return mean;
  };
  const close = (a: number[], b: number[]) => a.every((v, c) => Math.abs(v - b[c]!) <= BORDER_TOLERANCE);
  let left = 0;
  let right = width;
  let top = 0;
  let bottom = height;
  const minSide = (n: number) => Math.max(4, Math.floor(n / 2));
  // Top and bottom, then left and right (within what is left), each only as a matching pair.
  const a = lineColour(true, 0, 0, width);
  const b = lineColour(true, height - 1, 0, width);
  if (a && b && close(a, b)) {
    while (bottom - top > minSide(height)) {
      const row = lineColour(true, top, 0, width);
      if (!row || !close(row, a)) break;
      top++;
    }
    while (bottom - top > minSide(height)) {
      const row = lineColour(true, bottom - 1, 0, width);
      if (!row || !close(row, b)) break;
      bottom--;
    }
  }
  const l = lineColour(false, 0, top, bottom);
  const r = lineColour(false, width - 1, top, bottom);
  if (l && r && close(l, r)) {
    while (right - left > minSide(width)) {
      const col = lineColour(false, left, top, bottom);
      if (!col || !close(col, l)) break;
      left++;
    }
    while (right - left > minSide(width)) {
      const col = lineColour(false, right - 1, top, bottom);
      if (!col || !close(col, r)) break;
      right--;
    }
  }
  return { left, top, width: right - left, height: bottom - top };
}

/** The descriptor of an image file, L2-normalised. */
export async function computeDescriptor(input: string | Buffer, parts: DescriptorParts = DEFAULT_PARTS): Promise<Float32Array> {
  return descriptorFromLuma(await loadLuma(input, parts.trim), parts);
}

/** The descriptor of a GRID×GRID luminance grid; symmetric under a horizontal mirror of the grid. */
export function descriptorFromLuma(luma: Float32Array, parts: DescriptorParts = DEFAULT_PARTS): Float32Array {
  if (luma.length !== GRID * GRID) throw new Error(`descriptor needs ${GRID}×${GRID} luminance values, got ${luma.length}`);
  const blurred = blur3(luma);
  const mirrored = mirror(blurred);
  const out = new Float32Array(descriptorDimensions(parts));
  let offset = 0;
  for (const g of parts.pyramid) {
    const a = cellMeans(blurred, g);
    const b = cellMeans(mirrored, g);
    for (let i = 0; i < a.length; i++) a[i]! += b[i]!;
    centre(a);
    normalise(a, parts.pyramidWeight / Math.sqrt(parts.pyramid.length));
    out.set(a, offset);
    offset += a.length;
  }
  if (parts.hogCells > 0) {
    const a = orientationHistograms(blurred, parts.hogCells, parts.hogBins);
    const b = orientationHistograms(mirrored, parts.hogCells, parts.hogBins);
    for (let i = 0; i < a.length; i++) a[i] = Math.sqrt(a[i]! + b[i]!);
    // Centred, so that the cosine compares where edges are rather than that there are edges at all.
    centre(a);
    normalise(a, parts.hogWeight);
    out.set(a, offset);
  }
  normalise(out, 1);
  return out;
}

function mirror(img: Float32Array): Float32Array {
  const out = new Float32Array(img.length);
  for (let y = 0; y < GRID; y++) for (let x = 0; x < GRID; x++) out[y * GRID + x] = img[y * GRID + (GRID - 1 - x)]!;
  return out;
}

/** Separable [1 2 1]/4 blur with clamped edges: takes the edge off JPEG blocking and resampling noise. */
function blur3(img: Float32Array): Float32Array {
  const tmp = new Float32Array(img.length);
  const out = new Float32Array(img.length);
  const at = (v: number) => Math.min(GRID - 1, Math.max(0, v));
  for (let y = 0; y < GRID; y++) {
    for (let x = 0; x < GRID; x++) {
      tmp[y * GRID + x] = (img[y * GRID + at(x - 1)]! + 2 * img[y * GRID + x]! + img[y * GRID + at(x + 1)]!) / 4;
    }
  }
  for (let y = 0; y < GRID; y++) {
    for (let x = 0; x < GRID; x++) {
      out[y * GRID + x] = (tmp[at(y - 1) * GRID + x]! + 2 * tmp[y * GRID + x]! + tmp[at(y + 1) * GRID + x]!) / 4;
    }
  }
  return out;
}

function cellMeans(img: Float32Array, g: number): Float32Array {
  const cell = GRID / g;
  const out = new Float32Array(g * g);
  for (let y = 0; y < GRID; y++) {
    const cy = Math.floor(y / cell);
    for (let x = 0; x < GRID; x++) out[cy * g + Math.floor(x / cell)]! += img[y * GRID + x]!;
  }
  for (let i = 0; i < out.length; i++) out[i]! /= cell * cell;
  return out;
}

/** Magnitude-weighted histograms of signed gradient orientation per cell, with linear interpolation between bins. */
function orientationHistograms(img: Float32Array, cells: number, bins: number): Float32Array {
  const out = new Float32Array(cells * cells * bins);
  const cell = GRID / cells;
  for (let y = 1; y < GRID - 1; y++) {
    for (let x = 1; x < GRID - 1; x++) {
      const gx = img[y * GRID + x + 1]! - img[y * GRID + x - 1]!;
      const gy = img[(y + 1) * GRID + x]! - img[(y - 1) * GRID + x]!;
      const mag = Math.hypot(gx, gy);
      if (mag === 0) continue;
      const pos = ((Math.atan2(gy, gx) + Math.PI) / (2 * Math.PI)) * bins;
      const b0 = Math.floor(pos) % bins;
      const frac = pos - Math.floor(pos);
      const base = (Math.floor(y / cell) * cells + Math.floor(x / cell)) * bins;
      out[base + b0]! += mag * (1 - frac);
      out[base + ((b0 + 1) % bins)]! += mag * frac;
    }
  }
  return out;
}

function centre(v: Float32Array): void {
  let mean = 0;
  for (const x of v) mean += x;
  mean /= v.length;
  for (let i = 0; i < v.length; i++) v[i]! -= mean;
}

/** Scales v to length `length`; a zero vector stays zero. */
export function normalise(v: Float32Array, length: number): void {
  let ss = 0;
  for (const x of v) ss += x * x;
  if (ss === 0) return;
  const s = length / Math.sqrt(ss);
  for (let i = 0; i < v.length; i++) v[i]! *= s;
}
