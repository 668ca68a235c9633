/**
 * Pixel verification of candidate duplicate pairs.
 *
 * A global descriptor cannot tell an 80 % crop of a photo, or the photo with a caption across it, from another photo
 * of the same kind of scene: the hardest different-image pairs score above many true copies. Copy detection
 * therefore proposes candidates with a cheap global search and confirms each with a local check. This is the local
 * check, on small grayscale thumbnails:
 * 1. Alignment: one image is taken as a crop of the other (both ways round, and mirrored). A grid of crop boxes
 *    (each side 75–100 % of the larger image, offsets on a 2-pixel grid) is resampled to 8×8 and compared with the other image by
 *    normalised cross-correlation; the best few boxes go on.
 * 2. Score: at each of those boxes the crop is resampled to the full thumbnail size and the two images' gradient
 *    fields are correlated. Gradients ignore brightness, contrast and colour changes, and correlate only where edges
 *    coincide, which two different photos rarely do. The score is robust to a local occlusion (a caption, a logo):
 *    the thumbnail is split into 4×4 blocks and the worst-agreeing quarter of the blocks is left out.
 * The pair's score is the best over the boxes tried; it is near 1 for copies and rarely above 0.8 for
 * different images (see bench/curate/calibrate-descriptor.ts).
 */
import sharp from 'sharp';
import type { JobContext } from '../common/jobs.js';
import { contentBox, GRID } from './descriptor.js';

/** Thumbnail side: the descriptor's grid size (borders trimmed, then widened towards a square, see loadThumb). */
export const THUMB = GRID;
const COARSE = 8;
const BLOCKS = 4;

export interface VerifyOptions {
  /** crop box sides tried, as fractions of the larger image's side */
  scales: readonly number[];
  /** coarse boxes carried to the fine score, per direction */
  keep: number;
  /** fraction of blocks (worst agreement first) left out of the fine score */
  drop: number;
}

export const DEFAULT_VERIFY: VerifyOptions = {
  scales: [0.75, 0.8, 0.85, 0.9, 0.95, 1],
  keep: 3,
  drop: 0.25,
};

/** A pair is a duplicate when its verification score reaches this (calibrated on CIFAR indices 2500–4999). */
export const VERIFY_THRESHOLD = 0.82;

/** Grey levels within this of the most common one count as background (see flatShare). */
export const FLAT_TOLERANCE = 0.02;
/** In a flat pair, pixels further than this from an image's background grey are its foreground (see foregroundCorrelation). */
export const FOREGROUND_TOLERANCE = 0.06;
/**
 * An image is flat when at least FLAT_FRAME of its whole frame and FLAT_CONTENT of its trimmed content are
 * background (within FLAT_TOLERANCE of the most common grey); its pairs are then scored strictly (see flatScore).
 * The content condition keeps a photo with a plain border out. Measured: 299 of 300 demo MNIST digits are flat,
 * 20 of 1,100 CIFAR-10 photos (plain skies and studio backgrounds).
 */
export const FLAT_FRAME = 0.5;
export const FLAT_CONTENT = 0.25;
/**
 * The foreground correlation a flat pair needs. Measured on the demo's MNIST digits (30 a class, candidates from
 * the default descriptor search): different digits reach at most 0.935 (two straight "1"s), the planted resized
 * JPEG copies at least 0.988.
 */
export const FLAT_AGREEMENT = 0.96;

/** A thumbnail for verification: THUMB×THUMB luminance in 0..1, row-major. */
export type Thumb = Float32Array;

/** Side the image is reduced to before its uniform borders are found (as the descriptor does). */
const TRIM_SIZE = 128;

/**
 * The verification thumbnail: uniform borders trimmed (so that a bordered copy lines up with its original), squashed
 * to THUMB×THUMB. The same as the descriptor's luminance grid.
 */
export async function loadThumb(input: string | Buffer): Promise<Thumb> {
  return (await loadThumbs(input)).trimmed;
}

/**
 * Both thumbnails verification uses, from one decode: `trimmed` (see loadThumb) and `frame`, the whole image
 * untrimmed, which is what a flat image is compared on (see flatScore).
 */
export async function loadThumbs(input: string | Buffer): Promise<{ trimmed: Thumb; frame: Thumb }> {
  const { data, info } = await sharp(input, { failOn: 'truncated', pages: 1 })
    .rotate()
    .flatten({ background: '#808080' })
    .resize(TRIM_SIZE, TRIM_SIZE, { fit: 'inside', withoutEnlargement: true })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = { width: info.width, height: info.height, channels: info.channels as 1 | 2 | 3 | 4 };
  const grey = async (box: { left: number; top: number; width: number; height: number }) => {
    const grid = await sharp(data, { raw }).extract(box).resize(THUMB, THUMB, { fit: 'fill', kernel: 'cubic' }).greyscale().raw().toBuffer({ resolveWithObject: true });
    const ch = grid.info.channels;
    const luma = new Float32Array(THUMB * THUMB);
    for (let i = 0; i < luma.length; i++) luma[i] = grid.data[i * ch]! / 255;
    return luma;
  };
  const whole = { left: 0, top: 0, width: info.width, height: info.height };
  const box = contentBox(data, info.width, info.height, info.channels);
  const frame = await grey(whole);
  const same = box.left === 0 && box.top === 0 && box.width === info.width && box.height === info.height;
  return { trimmed: same ? frame : await grey(box), frame };
}

interface Box {
  x0: number;
  y0: number;
  w: number;
  h: number;
  mirror: boolean;
}

/** Every crop box of the given side fractions, offsets on a 2-pixel grid plus the far edge, both mirrorings. */
function boxes(scales: readonly number[]): Box[] {
  const out: Box[] = [];
  const offsets = (side: number) => {
    const room = THUMB - side;
    const list: number[] = [];
    for (let o = 0; o < room - 1e-6; o += 2) list.push(o);
    list.push(room);
    return list;
  };
  for (const mirror of [false, true]) {
    for (const sx of scales) {
      for (const sy of scales) {
        const w = sx * THUMB;
        const h = sy * THUMB;
        for (const y0 of offsets(h)) for (const x0 of offsets(w)) out.push({ x0, y0, w, h, mirror });
      }
    }
  }
  return out;
}

/** Bilinear samples of `box` of a THUMB×THUMB image on an r×r grid of cell centres. */
function sample(img: Float32Array, box: Box, r: number, out: Float32Array): Float32Array {
  const last = THUMB - 1;
  for (let y = 0; y < r; y++) {
    const fy = Math.min(last, Math.max(0, box.y0 + ((y + 0.5) * box.h) / r - 0.5));
    const iy = Math.min(last - 1, Math.floor(fy));
    const ty = fy - iy;
    for (let x = 0; x < r; x++) {
      let fx = Math.min(last, Math.max(0, box.x0 + ((x + 0.5) * box.w) / r - 0.5));
      if (box.mirror) fx = last - fx;
      const ix = Math.min(last - 1, Math.floor(fx));
      const tx = fx - ix;
      const p = iy * THUMB + ix;
      out[y * r + x] = (img[p]! * (1 - tx) + img[p + 1]! * tx) * (1 - ty) + (img[p + THUMB]! * (1 - tx) + img[p + THUMB + 1]! * tx) * ty;
    }
  }
  return out;
}

/** Centres v and scales it to unit length; a flat v becomes zero (it correlates with nothing). */
function standardise(v: Float32Array): Float32Array {
  let mean = 0;
  for (const x of v) mean += x;
  mean /= v.length;
  let ss = 0;
  for (let i = 0; i < v.length; i++) {
    v[i]! -= mean;
    ss += v[i]! * v[i]!;
  }
  if (ss < 1e-10) v.fill(0);
  else {
    const s = 1 / Math.sqrt(ss);
    for (let i = 0; i < v.length; i++) v[i]! *= s;
  }
  return v;
}

/** Separable [1 2 1]/4 blur with clamped edges on an r×r image. */
export function blur121(img: Float32Array, r: number): Float32Array {
  const tmp = new Float32Array(img.length);
  const out = new Float32Array(img.length);
  const at = (v: number) => Math.min(r - 1, Math.max(0, v));
  for (let y = 0; y < r; y++) for (let x = 0; x < r; x++) tmp[y * r + x] = (img[y * r + at(x - 1)]! + 2 * img[y * r + x]! + img[y * r + at(x + 1)]!) / 4;
  for (let y = 0; y < r; y++) for (let x = 0; x < r; x++) out[y * r + x] = (tmp[at(y - 1) * r + x]! + 2 * tmp[y * r + x]! + tmp[at(y + 1) * r + x]!) / 4;
  return out;
}

/** What verification needs of an image when it is the one matched against crop boxes: blurred thumbnail, whole view. */
export class Target {
  readonly fine: Float32Array;
  readonly whole: Float32Array;
  /** the trimmed thumbnail, unblurred (compared when a pair is flat, see flatScore) */
  readonly trimmed: Float32Array;
  /** the untrimmed thumbnail, unblurred (compared when a pair is flat) */
  readonly frame: Float32Array;
  /** coarse view of the whole frame */
  readonly frameWhole: Float32Array;
  /** whether the image is flat (see FLAT_FRAME) */
  readonly flat: boolean;
  /** whether the frame is the trimmed thumbnail itself (nothing was trimmed, or no frame was given) */
  readonly sameFrame: boolean;
  constructor(thumb: Thumb, frame: Thumb = thumb) {
    for (const t of [thumb, frame]) {
      if (t.length !== THUMB * THUMB) throw new Error(`verification needs a ${THUMB}×${THUMB} thumbnail, got ${t.length} values`);
    }
    this.fine = blur121(thumb, THUMB);
    this.whole = coarseWhole(this.fine);
    this.trimmed = thumb;
    this.frame = frame;
    this.sameFrame = frame === thumb;
    this.frameWhole = this.sameFrame ? this.whole : coarseWhole(blur121(frame, THUMB));
    this.flat = flatShare(frame) >= FLAT_FRAME && flatShare(thumb) >= FLAT_CONTENT;
  }
}

function coarseWhole(fine: Float32Array): Float32Array {
  return standardise(sample(coarseSource(fine), { x0: 0, y0: 0, w: THUMB, h: THUMB, mirror: false }, COARSE, new Float32Array(COARSE * COARSE)));
}

/** The coarse views are taken from a further-blurred image, so that 8×8 samples do not alias. */
function coarseSource(fine: Float32Array): Float32Array {
  return blur121(blur121(fine, THUMB), THUMB);
}

/** The coarse view of `fine` through every crop box of `grid`. */
function cropViews(fine: Float32Array, grid: VerifyGrid): Float32Array {
  const smooth = coarseSource(fine);
  const cells = COARSE * COARSE;
  const views = new Float32Array(grid.boxes.length * cells);
  const tmp = new Float32Array(cells);
  grid.boxes.forEach((box, k) => views.set(standardise(sample(smooth, box, COARSE, tmp)), k * cells));
  return views;
}

/**
 * An image prepared to be searched for crops: its coarse view through every crop box (about 200 KiB), and the same
 * for its untrimmed frame, built on first use (only flat pairs need it).
 */
export class Searchable {
  readonly views: Float32Array;
  #frameViews: Float32Array | null = null;
  constructor(
    readonly target: Target,
    readonly grid: VerifyGrid,
  ) {
    this.views = cropViews(target.fine, grid);
  }
  get frameViews(): Float32Array {
    if (this.target.sameFrame) return this.views;
    this.#frameViews ??= cropViews(blur121(this.target.frame, THUMB), this.grid);
    return this.#frameViews;
  }
}

/** The crop boxes of one set of options, shared by every Searchable image. */
export class VerifyGrid {
  readonly boxes: Box[];
  constructor(readonly options: VerifyOptions = DEFAULT_VERIFY) {
    if (options.scales.some((s) => !(s > 0 && s <= 1))) throw new Error('crop scales must be in (0, 1]');
    this.boxes = boxes(options.scales);
  }
  searchable(thumb: Thumb | Target): Searchable {
    return new Searchable(thumb instanceof Target ? thumb : new Target(thumb), this);
  }
}

/** The verification score of a pair: the better of "b is a crop of a" and "a is a crop of b". */
export function verifyPair(a: Searchable, b: Searchable): number {
  return Math.max(cropScore(a, b.target), cropScore(b, a.target));
}

/**
 * Share of the pixels within ±FLAT_TOLERANCE of the most common grey level: the background of a drawing, a
 * document, a screenshot or an icon.
 */
export function flatShare(thumb: Float32Array): number {
  const centre = background(thumb);
  let near = 0;
  for (const v of thumb) if (Math.abs(v - centre) <= FLAT_TOLERANCE) near++;
  return near / thumb.length;
}

/** How well `inner` matches some crop box of `outer`. */
export function cropScore(outer: Searchable, inner: Target): number {
  if (outer.target.flat || inner.flat) return flatScore(outer, inner);
  const { boxes: list, options } = outer.grid;
  // The best `keep` boxes by coarse correlation, then the fine check on those alone.
  const bestBox = topBoxes(outer.views, inner.whole, list.length, Math.max(1, options.keep));
  let best = -1;
  const crop = new Float32Array(THUMB * THUMB);
  for (const k of bestBox) {
    if (k < 0) continue;
    best = Math.max(best, gradientAgreement(sample(outer.target.fine, list[k]!, THUMB, crop), inner.fine, options.drop));
  }
  return best;
}

/**
 * The strict score of a pair of which at least one image is flat (mostly one background grey: a digit, a drawing,
 * a document, a screenshot, an icon). Its content is a few thin shapes: after trimming to their bounding box and
 * blurring, two different drawings of the same shape (two handwritten "1"s) line up edge for edge and pass the
 * gradient check. So a flat pair is compared unblurred, by correlation over the foreground pixels only (see
 * foregroundCorrelation), with no blocks left out, at the best coarse boxes each refined by ±1 pixel; on the
 * untrimmed frames (where a shape sits in the frame is part of it, and a re-encoded copy may trim differently) and
 * on the trimmed content (a copy with an added border), whichever agrees better. The correlation is mapped so that FLAT_AGREEMENT lands
 * on VERIFY_THRESHOLD: score = 1 − (1 − correlation)·(1 − VERIFY_THRESHOLD)/(1 − FLAT_AGREEMENT), so one
 * threshold serves every pair.
 */
function flatScore(outer: Searchable, inner: Target): number {
  const best = Math.max(
    alignedForeground(outer, outer.frameViews, outer.target.frame, inner.frameWhole, inner.frame),
    // The trimmed content too, so that a copy with an added border still lines up.
    alignedForeground(outer, outer.views, outer.target.trimmed, inner.whole, inner.trimmed),
  );
  return 1 - ((1 - best) * (1 - VERIFY_THRESHOLD)) / (1 - FLAT_AGREEMENT);
}

/** The best foreground correlation of `inner` with the best coarse boxes of `outer`, each refined by ±1 pixel. */
function alignedForeground(outer: Searchable, views: Float32Array, outerImg: Float32Array, innerWhole: Float32Array, innerImg: Float32Array): number {
  const { boxes: list, options } = outer.grid;
  const keep = Math.max(1, options.keep);
  const top = topBoxes(views, innerWhole, list.length, keep);
  const crop = new Float32Array(THUMB * THUMB);
  let best = -1;
  for (const k of top) {
    if (k < 0) continue;
    const box = list[k]!;
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const moved = { ...box, x0: Math.min(THUMB - box.w, Math.max(0, box.x0 + dx)), y0: Math.min(THUMB - box.h, Math.max(0, box.y0 + dy)) };
        best = Math.max(best, foregroundCorrelation(sample(outerImg, moved, THUMB, crop), innerImg));
      }
    }
  }
  return best;
}

/** Indices of the `keep` boxes whose coarse views correlate best with `whole` (-1 where there are fewer boxes). */
function topBoxes(views: Float32Array, whole: Float32Array, count: number, keep: number): Int32Array {
  const cells = COARSE * COARSE;
  const bestSim = new Float64Array(keep).fill(-Infinity);
  const bestBox = new Int32Array(keep).fill(-1);
  for (let k = 0; k < count; k++) {
    let s = 0;
    const o = k * cells;
    for (let d = 0; d < cells; d++) s += views[o + d]! * whole[d]!;
    if (s <= bestSim[keep - 1]!) continue;
    let p = keep - 1;
    while (p > 0 && bestSim[p - 1]! < s) {
      bestSim[p] = bestSim[p - 1]!;
      bestBox[p] = bestBox[p - 1]!;
      p--;
    }
    bestSim[p] = s;
    bestBox[p] = k;
  }
  return bestBox;
}

/**
 * Pearson correlation of two aligned thumbnails over their foreground only: the pixels that differ from either
 * image's background level (its most common grey) by more than FOREGROUND_TOLERANCE. A shared flat background agrees
 * perfectly whatever is drawn on it, so counting it would reward any two drawings of similar extent.
 */
export function foregroundCorrelation(p: Float32Array, q: Float32Array): number {
  const bp = background(p);
  const bq = background(q);
  let n = 0;
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    if (Math.abs(p[i]! - bp) <= FOREGROUND_TOLERANCE && Math.abs(q[i]! - bq) <= FOREGROUND_TOLERANCE) continue;
    n++;
    sp += p[i]!;
    sq += q[i]!;
  }
  if (n < 2) return 0;
  const mp = sp / n;
  const mq = sq / n;
  let c = 0;
  let vp = 0;
  let vq = 0;
  for (let i = 0; i < p.length; i++) {
    if (Math.abs(p[i]! - bp) <= FOREGROUND_TOLERANCE && Math.abs(q[i]! - bq) <= FOREGROUND_TOLERANCE) continue;
    const a = p[i]! - mp;
    const b = q[i]! - mq;
    c += a * b;
    vp += a * a;
    vq += b * b;
  }
  return vp > 1e-12 && vq > 1e-12 ? c / Math.sqrt(vp * vq) : 0;
}

/** The most common grey level of a thumbnail (centre of the fullest of 64 bins). */
function background(thumb: Float32Array): number {
  const bins = new Uint32Array(64);
  for (const v of thumb) bins[Math.min(63, Math.floor(v * 64))]!++;
  let mode = 0;
  for (let b = 1; b < 64; b++) if (bins[b]! > bins[mode]!) mode = b;
  return (mode + 0.5) / 64;
}

/**
 * Correlation of the gradient fields of two aligned THUMB×THUMB images, leaving out the `drop` fraction of
 * BLOCKS×BLOCKS blocks that agree worst. Blocks with almost no gradient in one image have their energy floored,
 * so that a flat block cannot agree perfectly by accident.
 */
export function gradientAgreement(p: Float32Array, q: Float32Array, drop: number): number {
  const r = THUMB;
  const side = r / BLOCKS;
  const nb = BLOCKS * BLOCKS;
  const cross = new Float64Array(nb);
  const ep = new Float64Array(nb);
  const eq = new Float64Array(nb);
  for (let y = 1; y < r - 1; y++) {
    const by = Math.floor(y / side) * BLOCKS;
    for (let x = 1; x < r - 1; x++) {
      const i = y * r + x;
      const px = p[i + 1]! - p[i - 1]!;
      const py = p[i + r]! - p[i - r]!;
      const qx = q[i + 1]! - q[i - 1]!;
      const qy = q[i + r]! - q[i - r]!;
      const b = by + Math.floor(x / side);
      cross[b]! += px * qx + py * qy;
      ep[b]! += px * px + py * py;
      eq[b]! += qx * qx + qy * qy;
    }
  }
  let totalP = 0;
  let totalQ = 0;
  for (let b = 0; b < nb; b++) {
    totalP += ep[b]!;
    totalQ += eq[b]!;
  }
  if (totalP < 1e-12 || totalQ < 1e-12) return 0;
  const floorP = (totalP / nb) * 0.05;
  const floorQ = (totalQ / nb) * 0.05;
  const order = Array.from({ length: nb }, (_, b) => b);
  const agreement = order.map((b) => cross[b]! / Math.sqrt(Math.max(ep[b]!, floorP) * Math.max(eq[b]!, floorQ)));
  order.sort((x, y) => agreement[x]! - agreement[y]!);
  let c = 0;
  let sp = 0;
  let sq = 0;
  for (const b of order.slice(Math.round(nb * drop))) {
    c += cross[b]!;
    sp += ep[b]!;
    sq += eq[b]!;
  }
  return sp > 0 && sq > 0 ? c / Math.sqrt(sp * sq) : 0;
}

export interface VerifiedEdge {
  i: number;
  j: number;
  similarity: number;
  /** the verification score */
  agreement: number;
}

/**
 * Keeps the candidate edges whose images pass the pixel check. Thumbnails are decoded once per image in any edge
 * (kept as bytes, 2 KiB each: trimmed and whole frame); crop views (about 200 KiB an image) are built for one image at a time, pairs are
 * searched one image at a time, so memory stays bounded on large datasets. An image that cannot be decoded
 * confirms no edge.
 */
export async function verifyEdges(
  paths: readonly string[],
  edges: readonly { i: number; j: number; similarity: number }[],
  ctx: JobContext,
  options: { threshold?: number; grid?: VerifyGrid; concurrency?: number; cacheSize?: number } = {},
): Promise<{ kept: VerifiedEdge[]; undecodable: number }> {
  const threshold = options.threshold ?? VERIFY_THRESHOLD;
  const grid = options.grid ?? new VerifyGrid();
  const involved = [...new Set(edges.flatMap((e) => [e.i, e.j]))].sort((a, b) => a - b);
  ctx.setPhase('verifying: thumbnails', involved.length);
  const thumbs = new Map<number, { trimmed: Uint8Array; frame: Uint8Array }>();
  let next = 0;
  let done = 0;
  let failed = 0;
  const worker = async () => {
    while (!ctx.signal.aborted) {
      const t = next++;
      if (t >= involved.length) return;
      const i = involved[t]!;
      try {
        const { trimmed, frame } = await loadThumbs(paths[i]!);
        const bytes = (luma: Thumb) => Uint8Array.from(luma, (v) => Math.round(v * 255));
        const t = bytes(trimmed);
        thumbs.set(i, { trimmed: t, frame: trimmed === frame ? t : bytes(frame) });
      } catch {
        failed++;
      }
      ctx.progress(++done, failed);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  ctx.throwIfCancelled();

  // Each direction in its own pass, edges grouped by the image searched for crops: that image's crop views are
  // built once per pass and only one set exists at a time; the light per-image data sits in a small LRU cache.
  const cacheSize = Math.max(2, options.cacheSize ?? 4096);
  const cache = new Map<number, Target>();
  const target = (i: number): Target | null => {
    const hit = cache.get(i);
    if (hit) {
      cache.delete(i);
      cache.set(i, hit);
      return hit;
    }
    const bytes = thumbs.get(i);
    if (!bytes) return null;
    const trimmed = Float32Array.from(bytes.trimmed, (v) => v / 255);
    const t = new Target(trimmed, bytes.frame === bytes.trimmed ? trimmed : Float32Array.from(bytes.frame, (v) => v / 255));
    cache.set(i, t);
    if (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
    return t;
  };
  const best = new Float64Array(edges.length).fill(-Infinity);
  ctx.setPhase('verifying: pairs', 2 * edges.length);
  let visited = 0;
  for (const outerEnd of ['i', 'j'] as const) {
    const innerEnd = outerEnd === 'i' ? 'j' : 'i';
    const order = edges.map((_, t) => t).sort((x, y) => edges[x]![outerEnd] - edges[y]![outerEnd]);
    let current = -1;
    let searchable: Searchable | null = null;
    for (const t of order) {
      if ((visited++ & 255) === 0) {
        ctx.throwIfCancelled();
        ctx.progress(visited);
        // Let a cancel request (and progress events) through on long runs.
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (best[t]! >= threshold) continue;
      const e = edges[t]!;
      if (e[outerEnd] !== current) {
        current = e[outerEnd];
        const outer = target(current);
        searchable = outer ? grid.searchable(outer) : null;
      }
      const inner = target(e[innerEnd]);
      if (!searchable || !inner) continue;
      best[t] = Math.max(best[t]!, cropScore(searchable, inner));
    }
  }
  ctx.progress(2 * edges.length);
  const kept: VerifiedEdge[] = [];
  edges.forEach((e, t) => {
    if (best[t]! >= threshold) kept.push({ i: e.i, j: e.j, similarity: e.similarity, agreement: best[t]! });
  });
  return { kept, undecodable: failed };
}
