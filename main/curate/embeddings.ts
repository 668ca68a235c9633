import type { Statement } from 'better-sqlite3';
import type { Catalog, DatasetImage } from '../catalog/catalog.js';
import type { JobContext } from '../common/jobs.js';
import { BUILTIN_ENCODER, computeDescriptor, DESCRIPTOR_DIMENSIONS } from './descriptor.js';

/** float32 → IEEE half precision bits, rounding to nearest even. */
export function toHalf(value: number): number {
  const f32 = new Float32Array([value]);
  const x = new Uint32Array(f32.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function encodeF16(v: Float32Array): Buffer {
  const out = Buffer.alloc(v.length * 2);
  for (let i = 0; i < v.length; i++) out.writeUInt16LE(toHalf(v[i]!), i * 2);
  return out;
}

export function decodeF16Into(buf: Buffer, out: Float32Array, offset: number): void {
  for (let i = 0; i < buf.length / 2; i++) out[offset + i] = fromHalf(buf.readUInt16LE(i * 2));
}

interface Stmts {
  get: Statement;
  put: Statement;
}
const stmtCache = new WeakMap<Catalog, Stmts>();
function stmts(catalog: Catalog): Stmts {
  let s = stmtCache.get(catalog);
  if (!s) {
    s = {
      get: catalog.db.prepare('SELECT sha256, dim, dtype, vector FROM embeddings WHERE encoder = ? AND image_id = ?'),
      put: catalog.db.prepare(`
        INSERT INTO embeddings (encoder, image_id, sha256, dim, dtype, vector) VALUES (?, ?, ?, ?, 'f16', ?)
        ON CONFLICT (encoder, image_id) DO UPDATE SET sha256 = excluded.sha256, dim = excluded.dim,
          dtype = excluded.dtype, vector = excluded.vector, created_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
      `),
    };
    stmtCache.set(catalog, s);
  }
  return s;
}

export interface EmbedResult {
  dim: number;
  /** row-major n×dim, L2-normalised, in the order of the images given */
  vectors: Float32Array;
  computed: number;
  reused: number;
  /** indices of images that could not be embedded (their rows are zero) */
  failed: number[];
}

/**
 * Built-in descriptors for the given images: stored ones are reused when the file's sha256 still matches, the
 * rest are computed from the files and stored (float16) in batches, each in one transaction. A cancel keeps
 * the finished batches, which are a cache keyed by content and never change a dataset.
 */
export async function embedImages(
  catalog: Catalog,
  images: readonly DatasetImage[],
  ctx: JobContext,
  options: { concurrency?: number; batchSize?: number } = {},
): Promise<EmbedResult> {
  const encoder = BUILTIN_ENCODER;
  const dim = DESCRIPTOR_DIMENSIONS;
  const s = stmts(catalog);
  const vectors = new Float32Array(images.length * dim);
  const todo: number[] = [];
  let reused = 0;
  for (let i = 0; i < images.length; i++) {
    const img = images[i]!;
    const row = s.get.get(encoder, img.id) as { sha256: string; dim: number; dtype: string; vector: Buffer } | undefined;
    if (row && row.sha256 === img.sha256 && row.dim === dim && row.dtype === 'f16') {
      decodeF16Into(row.vector, vectors, i * dim);
      reused++;
    } else todo.push(i);
  }
  ctx.setPhase('embedding', todo.length);
  const failed: number[] = [];
  const batchSize = options.batchSize ?? 256;
  let pending: { id: number; sha: string; blob: Buffer }[] = [];
  const flush = catalog.db.transaction((rows: typeof pending) => {
    for (const r of rows) s.put.run(encoder, r.id, r.sha, dim, r.blob);
  });
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (!ctx.signal.aborted) {
      const t = next++;
      if (t >= todo.length) return;
      const i = todo[t]!;
      const img = images[i]!;
      try {
        const v = await computeDescriptor(img.path);
        const blob = encodeF16(v);
        // Store what was stored, so that a fresh run and a cached one see identical vectors.
        decodeF16Into(blob, vectors, i * dim);
        if (img.sha256) pending.push({ id: img.id, sha: img.sha256, blob });
      } catch {
        failed.push(i);
      }
      done++;
      if (pending.length >= batchSize) {
        flush(pending);
        pending = [];
      }
      ctx.progress(done, failed.length);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  } finally {
    if (pending.length) flush(pending);
  }
  ctx.throwIfCancelled();
  failed.sort((a, b) => a - b);
  return { dim, vectors, computed: todo.length - failed.length, reused, failed };
}
