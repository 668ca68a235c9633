import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BUILTIN_ENCODER_SPEC, type CurateEncoderInfo, type EncoderSpec } from '../../shared/contract/curate.js';
import type { Catalog } from '../catalog/catalog.js';
import { CurioError, invalid, notFound } from '../common/errors.js';
import { type EncoderRuntime, type FrozenEncoder, openFrozenEncoder } from '../evaluate/encoder-runtime.js';
import { decodeForEncoder, ensureBackend, type EncoderSource, runEncoder } from '../evaluate/extract.js';
import { ONNX_FILE } from '../onnx/encoder.js';
import { type OnnxEmbedder } from '../onnx/runtime.js';
import { createPooledOnnxEmbedder } from '../evaluate/ort-pool.js';
import { isBackboneName } from '../train/models/index.js';
import type { ModuleState } from '../train/nn/module.js';
import { ENCODER_FORMAT, readEncoder } from '../train/runs/export.js';
import { RunStore } from '../train/runs/run-store.js';
import { BUILTIN_ENCODER, computeDescriptor, DESCRIPTOR_DIMENSIONS } from './descriptor.js';
import { loadTfjsModel } from './tfjs-model.js';

/**
 * The encoders curation embeds with: the built-in descriptor, a run's encoder, or an imported model file.
 *
 * A Curio model encoder (ResNet or ViT) runs on ONNX Runtime (CPU) when ORT loads, because that is several times
 * faster than tfjs on a laptop CPU (bench/onnx); otherwise on tfjs, with the reason in `fallback`. A plain tfjs
 * model (tfjs-model.ts) has no architecture Curio knows, so it runs on tfjs. Images are decoded as evaluation decodes them (decodeForEncoder: cover-resize and centre
 * crop to the encoder's training size, values in [0, 1]), and every output row is L2-normalised, so that a dot
 * product is the cosine similarity, as with the built-in descriptor.
 */
export interface CurateEncoder extends CurateEncoderInfo {
  /** embedding length */
  readonly dim: number;
  /** images per embed() call that keep the encoder busy without holding much memory */
  readonly batchSize: number;
  /** one L2-normalised row per path, or null for an image that could not be decoded */
  embed(paths: readonly string[], signal?: AbortSignal): Promise<(Float32Array | null)[]>;
  close(): Promise<void>;
}

export type { EncoderRuntime };

export interface ResolveEncoderOptions {
  /** 'auto' (ORT when it can, else tfjs); the others force one, for tests and measurements */
  runtime?: EncoderRuntime;
  /** ORT intra-op threads; default all cores */
  threads?: number;
}

/** `builtin` when absent. */
export async function resolveEncoder(catalog: Catalog, spec: EncoderSpec | undefined, options: ResolveEncoderOptions = {}): Promise<CurateEncoder> {
  if (spec === undefined || spec === BUILTIN_ENCODER_SPEC) return builtinEncoder();
  if (typeof spec === 'number') return runModelEncoder(catalog, spec, options);
  return fileEncoder(spec, options);
}

/** A command-line --encoder value: a whole number is a run id, `builtin` the descriptor, anything else a path. */
export function encoderSpecFromArg(value: string): EncoderSpec {
  const v = value.trim();
  if (v === '') throw invalid('--encoder is empty: give builtin, a run id or a model path');
  if (v === BUILTIN_ENCODER_SPEC) return v;
  if (/^\d+$/.test(v)) return Number(v);
  return path.resolve(v);
}

/** How an encoder ran, for a summary line. */
export function describeEncoder(e: CurateEncoderInfo): string {
  return `${e.label} on ${e.runtime}${e.fallback ? ` (not ONNX Runtime: ${e.fallback})` : ''}`;
}

/** Runs `work` with the resolved encoder and closes it after, also on failure or cancel. */
export async function withEncoder<T>(catalog: Catalog, spec: EncoderSpec | undefined, work: (encoder: CurateEncoder) => Promise<T>, options: ResolveEncoderOptions = {}): Promise<T> {
  const encoder = await resolveEncoder(catalog, spec, options);
  try {
    return await work(encoder);
  } finally {
    await encoder.close();
  }
}

/**
 * The cheap part of resolving, for a request handler to refuse a bad encoder before a job starts: the run exists,
 * or the path does. Whether the file is a loadable model is found out by resolveEncoder, in the job.
 */
export function checkEncoderSpec(catalog: Catalog, spec: EncoderSpec | undefined, options: { absolute?: boolean } = {}): void {
  if (spec === undefined || spec === BUILTIN_ENCODER_SPEC) return;
  if (typeof spec === 'number') new RunStore(catalog).get(spec);
  // over RPC a relative path would resolve against main's working folder, which the user never chose
  else if (options.absolute && !path.isAbsolute(spec)) throw invalid('encoder: a model path must be absolute');
  else if (!fs.existsSync(path.resolve(spec))) throw notFound(`encoder ${path.resolve(spec)} does not exist`);
}

export function builtinEncoder(concurrency = 4): CurateEncoder {
  return {
    id: BUILTIN_ENCODER,
    label: 'built-in descriptor',
    runtime: 'builtin',
    fallback: null,
    dim: DESCRIPTOR_DIMENSIONS,
    batchSize: 32,
    async embed(paths, signal) {
      const out: (Float32Array | null)[] = new Array<Float32Array | null>(paths.length).fill(null);
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < paths.length && !signal?.aborted; i = next++) {
          // computeDescriptor returns a unit vector already
          out[i] = await computeDescriptor(paths[i]!).catch(() => null);
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
      return out;
    },
    close: async () => undefined,
  };
}

type ModelSource = Extract<EncoderSource, { kind: 'run' }>;

async function runModelEncoder(catalog: Catalog, runId: number, options: ResolveEncoderOptions): Promise<CurateEncoder> {
  // unknown run → not-found "no run with id N"; no checkpoint → a 'conflict' error, no backbone in it → a 'failed' one, each saying so
  const source = runEncoder(new RunStore(catalog), runId);
  const id = `run:${runId}:step${source.step}:${weightsHash(source.state)}`;
  return modelEncoder(id, `run ${runId} (${source.backbone}, step ${source.step})`, source, options);
}

/**
 * A model file: a .onnx file, a folder with model.onnx, a Curio encoder folder (or its model.json), or a plain tfjs
 * Layers/Graph model.json (or its folder).
 */
async function fileEncoder(spec: string, options: ResolveEncoderOptions): Promise<CurateEncoder> {
  const resolved = path.resolve(spec);
  if (!fs.existsSync(resolved)) throw notFound(`encoder ${resolved} does not exist`);
  const isDir = fs.statSync(resolved).isDirectory();
  if (isDir && fs.existsSync(path.join(resolved, ONNX_FILE))) return onnxFileEncoder(path.join(resolved, ONNX_FILE), options);
  if (!isDir && resolved.toLowerCase().endsWith('.onnx')) return onnxFileEncoder(resolved, options);
  const modelJson = isDir ? path.join(resolved, 'model.json') : resolved;
  if ((isDir && fs.existsSync(modelJson)) || (!isDir && resolved.toLowerCase().endsWith('.json'))) {
    return isCurioManifest(modelJson) ? curioFolderEncoder(path.dirname(modelJson), options) : plainTfjsEncoder(modelJson, options);
  }
  throw invalid(
    isDir
      ? `encoder folder ${resolved} holds neither ${ONNX_FILE} nor a model.json`
      : `encoder ${resolved} is not a model: give a .onnx file, a folder holding model.onnx or model.json, or a tfjs model.json`,
  );
}

/** A model.json written by `curio export-encoder --format tfjs`; anything else (unreadable too) is taken for a plain tfjs model. */
function isCurioManifest(file: string): boolean {
  try {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { format?: unknown }).format === ENCODER_FORMAT;
  } catch {
    return false;
  }
}

/** A model.json from tf.LayersModel.save or the tfjs converter: no known architecture to write as ONNX, so tfjs runs it. */
async function plainTfjsEncoder(file: string, options: ResolveEncoderOptions): Promise<CurateEncoder> {
  if (options.runtime === 'onnxruntime') throw invalid(`encoder ${file} is a plain tfjs model; it runs on tfjs only`);
  await ensureBackend();
  const model = await loadTfjsModel(file);
  const size = model.imageSize;
  return {
    id: `tfjs:sha256:${model.sha256}`,
    label: file,
    runtime: 'tfjs',
    fallback: options.runtime === 'tfjs' ? 'tfjs was asked for' : `a plain tfjs ${model.kind} has no ONNX graph`,
    dim: model.dim,
    batchSize: 32,
    async embed(paths, signal) {
      const { x, ok } = await decodeBatch(paths, size, signal);
      if (ok.length === 0) return paths.map(() => null);
      return rowsFor(paths.length, ok, await model.forward(x, ok.length), model.dim);
    },
    close: async () => model.dispose(),
  };
}

async function onnxFileEncoder(file: string, options: ResolveEncoderOptions): Promise<CurateEncoder> {
  if (options.runtime === 'tfjs') throw invalid(`encoder ${file} is an ONNX model; it runs on ONNX Runtime only`);
  const bytes = fs.readFileSync(file);
  const id = `onnx:sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  // a malformed file: "cannot load ONNX encoder <file>: <ORT's first line>"
  return ortEncoder(id, file, await createPooledOnnxEmbedder(bytes, threadOptions(options), file));
}

async function curioFolderEncoder(dir: string, options: ResolveEncoderOptions): Promise<CurateEncoder> {
  let read: ReturnType<typeof readEncoder>;
  const hash = createHash('sha256');
  try {
    read = readEncoder(dir);
    // the key covers every byte the weights come from, so an overwritten export never reuses stale vectors
    hash.update(fs.readFileSync(path.join(dir, 'model.json')));
    for (const p of read.manifest.weightsManifest[0]!.paths) hash.update(fs.readFileSync(path.join(dir, p)));
  } catch (err) {
    if (err instanceof CurioError) throw err;
    throw invalid(`cannot read encoder ${dir}: ${(err as Error).message.split('\n')[0]}`);
  }
  const m = read.manifest;
  if (typeof m.backbone !== 'string' || !isBackboneName(m.backbone)) throw invalid(`encoder ${dir}: unknown backbone "${String(m.backbone)}"`);
  if (!Number.isInteger(m.imageSize) || m.imageSize < 8) throw invalid(`encoder ${dir}: image size must be a whole number ≥ 8, got ${String(m.imageSize)}`);
  const source: ModelSource = {
    kind: 'run',
    runId: Number(m.runId) || 0,
    step: Number(m.step) || 0,
    epoch: 0,
    method: String(m.method),
    backbone: m.backbone,
    imageSize: m.imageSize,
    patchSize: m.patchSize ?? null,
    state: read.tensors,
  };
  return modelEncoder(`tfjs:sha256:${hash.digest('hex')}`, dir, source, options);
}

/** ORT when the architecture has a graph and ORT loads it; tfjs otherwise, saying why (openFrozenEncoder, shared with evaluation). */
async function modelEncoder(id: string, label: string, source: ModelSource, options: ResolveEncoderOptions): Promise<CurateEncoder> {
  const frozen = await openFrozenEncoder(source, { label, ...options });
  return frozenEncoder(id, label, frozen);
}

function threadOptions(options: ResolveEncoderOptions): { threads?: number } {
  return options.threads !== undefined ? { threads: options.threads } : {};
}

function ortEncoder(id: string, label: string, ort: OnnxEmbedder): CurateEncoder {
  return frozenEncoder(id, label, { runtime: 'onnxruntime', fallback: null, imageSize: ort.imageSize, dim: ort.dim, embed: (x, n) => ort.embed(x, n), close: () => ort.close() });
}

function frozenEncoder(id: string, label: string, frozen: FrozenEncoder): CurateEncoder {
  return {
    id,
    label,
    runtime: frozen.runtime,
    fallback: frozen.fallback,
    dim: frozen.dim,
    batchSize: frozen.runtime === 'onnxruntime' ? 64 : 32,
    async embed(paths, signal) {
      const { x, ok } = await decodeBatch(paths, frozen.imageSize, signal);
      if (ok.length === 0) return paths.map(() => null);
      return rowsFor(paths.length, ok, await frozen.embed(x, ok.length), frozen.dim);
    },
    close: () => frozen.close(),
  };
}

/** Decodes a batch; when one image fails, decodes one by one to find it, so the rest still embed. */
async function decodeBatch(paths: readonly string[], size: number, signal?: AbortSignal): Promise<{ x: Float32Array; ok: number[] }> {
  try {
    return { x: await decodeForEncoder(paths, size, signal), ok: paths.map((_, i) => i) };
  } catch (err) {
    if (signal?.aborted) throw err;
  }
  const one = await Promise.all(paths.map((p) => decodeForEncoder([p], size, signal).catch(() => null)));
  signal?.throwIfAborted();
  const ok = one.flatMap((v, i) => (v ? [i] : []));
  const per = size * size * 3;
  const x = new Float32Array(ok.length * per);
  ok.forEach((i, j) => x.set(one[i]!, j * per));
  return { x, ok };
}

/** Splits n×dim outputs into L2-normalised rows at the positions of the decoded images. */
function rowsFor(count: number, ok: readonly number[], data: Float32Array, dim: number): (Float32Array | null)[] {
  const rows: (Float32Array | null)[] = new Array<Float32Array | null>(count).fill(null);
  ok.forEach((i, j) => {
    const row = data.slice(j * dim, (j + 1) * dim);
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += row[d]! * row[d]!;
    norm = Math.sqrt(norm);
    if (norm > 0) for (let d = 0; d < dim; d++) row[d] = row[d]! / norm;
    rows[i] = row;
  });
  return rows;
}

/** sha256 (first 16 hex digits) over the weights by name, shape and value. */
function weightsHash(state: ModuleState): string {
  const h = createHash('sha256');
  for (const name of Object.keys(state).sort()) {
    const t = state[name]!;
    h.update(`${name}:${t.shape.join('x')}\n`);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest('hex').slice(0, 16);
}
