import type { Statement } from 'better-sqlite3';
import type { Catalog, DatasetImage } from '../catalog/catalog.js';
import type { JobContext } from '../common/jobs.js';
import type { CurateEncoderInfo } from '../../shared/contract/curate.js';
import { builtinEncoder, type CurateEncoder, describeEncoder } from './encoders.js';

// one scratch float for reading a float32's bits: a new typed array per value cost ~0.2 ms of CPU per 256-d row
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** float32 → IEEE half precision bits, rounding to nearest even. */
export function toHalf(value: number): number {
  F32[0] = value;
  const x = U32[0]!;
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

/** Little-endian float16 bytes of `v`. */
export function encodeF16(v: Float32Array): Buffer {
  const out = Buffer.allocUnsafe(v.length * 2);
  for (let i = 0; i < v.length; i++) {
    const h = toHalf(v[i]!);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}

/** Every half's float32 value (exact: a half is a float32), built on first use. */
let halfTable: Float32Array | null = null;

export function decodeF16Into(buf: Uint8Array, out: Float32Array, offset: number): void {
  const table = (halfTable ??= Float32Array.from({ length: 0x10000 }, (_, h) => fromHalf(h)));
  const n = buf.length >>> 1;
  for (let i = 0; i < n; i++) out[offset + i] = table[buf[2 * i]! | (buf[2 * i + 1]! << 8)]!;
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
  /** the encoder, how it ran and why (a model encoder on tfjs says why not ONNX Runtime) */
  encoder: CurateEncoderInfo;
}

/**
 * Embeddings of the given images with `encoder` (the built-in descriptor when absent): stored ones are reused when
 * they were made by the same encoder id (which names the exact weights) and the file's sha256 still matches; the
 * rest are computed from the files in batches and stored (float16), each batch in one transaction. The next batch
 * decodes while this one is embedded. A cancel keeps the finished batches, which are a cache keyed by content and
 * never change a dataset. The caller owns the encoder (and closes it).
 */
export async function embedImages(
  catalog: Catalog,
  images: readonly DatasetImage[],
  ctx: JobContext,
  options: { encoder?: CurateEncoder } = {},
): Promise<EmbedResult> {
  const encoder = options.encoder ?? builtinEncoder();
  const key = encoder.id;
  const dim = encoder.dim;
  const info: CurateEncoderInfo = { id: encoder.id, label: encoder.label, runtime: encoder.runtime, fallback: encoder.fallback };
  const s = stmts(catalog);
  const vectors = new Float32Array(images.length * dim);
  const todo: number[] = [];
  let reused = 0;
  for (let i = 0; i < images.length; i++) {
    const img = images[i]!;
    const row = s.get.get(key, img.id) as { sha256: string; dim: number; dtype: string; vector: Buffer } | undefined;
    if (row && row.sha256 === img.sha256 && row.dim === dim && row.dtype === 'f16') {
      decodeF16Into(row.vector, vectors, i * dim);
      reused++;
    } else todo.push(i);
  }
  ctx.setPhase('embedding', todo.length);
  if (todo.length > 0) {
    ctx.progress(0, 0, describeEncoder(info));
  }
  const failed: number[] = [];
  const flush = catalog.db.transaction((rows: { id: number; sha: string; blob: Buffer }[]) => {
    for (const r of rows) s.put.run(key, r.id, r.sha, dim, r.blob);
  });
  const batches: number[][] = [];
  for (let b = 0; b < todo.length; b += encoder.batchSize) batches.push(todo.slice(b, b + encoder.batchSize));
  const start = (b: number) => {
    const p = encoder.embed(batches[b]!.map((i) => images[i]!.path), ctx.signal);
    // a failure is reported when the batch is awaited, not as an unhandled rejection meanwhile
    p.catch(() => undefined);
    return p;
  };
  let inFlight = batches.length > 0 ? start(0) : null;
  let done = 0;
  // rows are written a few hundred per transaction: one commit per small batch would cost a sync each
  let pending: { id: number; sha: string; blob: Buffer }[] = [];
  try {
    for (let b = 0; b < batches.length && !ctx.signal.aborted; b++) {
      const current = inFlight!;
      inFlight = b + 1 < batches.length ? start(b + 1) : null;
      let rows: (Float32Array | null)[];
      try {
        rows = await current;
      } catch (err) {
        if (ctx.signal.aborted) break;
        throw err;
      }
      batches[b]!.forEach((i, j) => {
        const v = rows[j];
        if (!v) {
          failed.push(i);
          return;
        }
        const blob = encodeF16(v);
        // Store what was stored, so that a fresh run and a cached one see identical vectors.
        decodeF16Into(blob, vectors, i * dim);
        const img = images[i]!;
        if (img.sha256) pending.push({ id: img.id, sha: img.sha256, blob });
      });
      if (pending.length >= 256) {
        flush(pending);
        pending = [];
      }
      done += batches[b]!.length;
      ctx.progress(done, failed.length);
      // let progress events and cancel requests through between batches
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    // never leave a forward pass running on an encoder the caller is about to close
    await inFlight?.catch(() => undefined);
    if (pending.length) flush(pending);
  }
  ctx.throwIfCancelled();
  failed.sort((a, b) => a - b);
  return { dim, vectors, computed: todo.length - failed.length, reused, failed, encoder: info };
}
