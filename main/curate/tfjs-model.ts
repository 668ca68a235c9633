import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CurioError, invalid } from '../common/errors.js';

/**
 * A plain tfjs model used as an encoder: a `model.json` written by tf.LayersModel.save ("layers-model") or by
 * the tfjs converter ("graph-model"), with its weight shards beside it. @tensorflow/tfjs has no file:// loader
 * in plain Node (that is tfjs-node's), so `fileHandler` reads model.json and the shards from disk itself.
 *
 * The model must take one [batch, S, S, 3] NHWC float input (batch free); images are decoded to S×S as every
 * encoder decodes them. Its output becomes one vector per image: a 4-D [N, H, W, C] output is global-average
 * pooled to [N, C], anything else is flattened to [N, D].
 */
export interface TfjsModel {
  readonly kind: 'layers-model' | 'graph-model';
  readonly imageSize: number;
  readonly dim: number;
  /** sha256 over model.json and every shard, so that a changed file never reuses stored vectors */
  readonly sha256: string;
  /** n×S×S×3 floats → n×dim floats */
  forward(x: Float32Array, n: number): Promise<Float32Array>;
  dispose(): void;
}

type ModelJson = tf.io.ModelJSON & { format?: string };

const BYTES_PER: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, complex64: 8 };

/** Reads and checks model.json; the error names the file and says what is wrong, on one line. */
export function readModelJson(file: string): ModelJson {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw invalid(`cannot read encoder ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalid(`encoder ${file} is not a model.json object`);
  const m = json as ModelJson;
  if (typeof m.modelTopology !== 'object' || m.modelTopology === null) throw invalid(`encoder ${file} has no modelTopology: not a tfjs model`);
  if (!Array.isArray(m.weightsManifest)) throw invalid(`encoder ${file} has no weightsManifest list: not a tfjs model`);
  return m;
}

/** 'graph-model' for converter output, 'layers-model' for tf.LayersModel.save output, null for neither. */
export function tfjsModelKind(m: ModelJson): 'layers-model' | 'graph-model' | null {
  if (m.format === 'graph-model' || m.format === 'layers-model') return m.format;
  const topology = m.modelTopology as Record<string, unknown>;
  if (Array.isArray(topology['node'])) return 'graph-model';
  if (typeof topology['class_name'] === 'string' || typeof topology['model_config'] === 'object') return 'layers-model';
  return null;
}

/** An IOHandler that loads model.json and its shards from disk, refusing shard paths outside the model's folder. */
function fileHandler(file: string, json: ModelJson, hash: ReturnType<typeof createHash>): tf.io.IOHandler {
  const dir = path.dirname(file);
  const loadWeights = async (manifest: tf.io.WeightsManifestConfig): Promise<[tf.io.WeightsManifestEntry[], ArrayBuffer]> => {
    const specs: tf.io.WeightsManifestEntry[] = [];
    const shards: Buffer[] = [];
    for (const group of manifest) {
      if (!Array.isArray(group?.paths) || !Array.isArray(group.weights)) throw invalid(`encoder ${file}: a weightsManifest group lacks paths or weights`);
      specs.push(...group.weights);
      for (const p of group.paths) {
        const shard = path.resolve(dir, p);
        if (path.relative(dir, shard).startsWith('..') || path.isAbsolute(p)) throw invalid(`encoder ${file}: weight shard "${p}" lies outside the model's folder`);
        if (!fs.existsSync(shard)) throw invalid(`encoder ${file}: weight shard ${p} is missing`);
        const bytes = fs.readFileSync(shard);
        hash.update(bytes);
        shards.push(bytes);
      }
    }
    const total = shards.reduce((s, b) => s + b.length, 0);
    let needed = 0;
    for (const w of specs) {
      const per = BYTES_PER[w.quantization?.dtype ?? w.dtype];
      if (per === undefined) throw invalid(`encoder ${file}: weight ${w.name} has dtype ${w.quantization?.dtype ?? w.dtype}, which Curio cannot read`);
      needed += w.shape.reduce((a, b) => a * b, 1) * per;
    }
    if (total < needed) throw invalid(`encoder ${file}: the weight shards hold ${total} bytes, the manifest needs ${needed}`);
    const all = new Uint8Array(total);
    let o = 0;
    for (const b of shards) {
      all.set(b, o);
      o += b.length;
    }
    return [specs, all.buffer];
  };
  return { load: () => tf.io.getModelArtifactsForJSON(json, loadWeights) };
}

/** Loads a plain tfjs model for embedding; the current tfjs backend must be set. */
export async function loadTfjsModel(file: string): Promise<TfjsModel> {
  const json = readModelJson(file);
  const kind = tfjsModelKind(json);
  if (!kind) throw invalid(`encoder ${file} is neither a tfjs Layers model nor a tfjs Graph model`);
  const hash = createHash('sha256').update(fs.readFileSync(file));
  const handler = fileHandler(file, json, hash);
  let model: tf.LayersModel | tf.GraphModel;
  try {
    model = kind === 'layers-model' ? await tf.loadLayersModel(handler) : await tf.loadGraphModel(handler);
  } catch (err) {
    if (err instanceof CurioError) throw err;
    throw invalid(`cannot load tfjs ${kind} ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    return await wrap(file, kind, model, hash.digest('hex'));
  } catch (err) {
    model.dispose();
    throw err;
  }
}

async function wrap(file: string, kind: TfjsModel['kind'], model: tf.LayersModel | tf.GraphModel, sha256: string): Promise<TfjsModel> {
  if (model.inputs.length !== 1) throw invalid(`encoder ${file} takes ${model.inputs.length} inputs; an image encoder takes one`);
  if (model.outputs.length !== 1) throw invalid(`encoder ${file} has ${model.outputs.length} outputs; an image encoder has one`);
  const shape = model.inputs[0]!.shape;
  const shown = `[${(shape ?? []).map((d) => (d === null || d === undefined || d < 0 ? 'null' : d)).join(', ')}]`;
  const free = (d: number | null | undefined) => d === null || d === undefined || d === -1;
  if (!shape || shape.length !== 4 || !free(shape[0]) || shape[3] !== 3 || typeof shape[1] !== 'number' || shape[1] < 1 || shape[2] !== shape[1]) {
    throw invalid(`encoder ${file} takes input ${shape ? shown : 'of unknown shape'}; Curio needs [null, S, S, 3] (NHWC RGB, any batch, square)`);
  }
  const size = shape[1];
  // a graph with control flow or dynamic shapes runs only through executeAsync; execute is tried first
  let dynamic = false;
  const graphRun = async (g: tf.GraphModel, x: tf.Tensor4D) => {
    if (!dynamic) {
      try {
        return g.execute(x);
      } catch (err) {
        if (!/executeAsync/.test((err as Error).message)) throw err;
        dynamic = true;
      }
    }
    return g.executeAsync(x);
  };
  const run = async (x: tf.Tensor4D): Promise<tf.Tensor2D> => {
    const y = model instanceof tf.GraphModel ? await graphRun(model, x) : model.predict(x);
    if (Array.isArray(y) || !(y instanceof tf.Tensor)) {
      tf.dispose(y as tf.Tensor[]);
      throw invalid(`encoder ${file} returned several outputs; an image encoder returns one`);
    }
    try {
      return tf.tidy(() => {
        if (y.rank === 4) return tf.mean(y, [1, 2]) as tf.Tensor2D;
        return (y.rank === 2 ? tf.clone(y) : tf.reshape(y, [y.shape[0]!, -1])) as tf.Tensor2D;
      });
    } finally {
      y.dispose();
    }
  };
  const forward = async (data: Float32Array, n: number): Promise<tf.Tensor2D> => {
    const x = tf.tensor4d(data, [n, size, size, 3]);
    try {
      return await run(x);
    } finally {
      x.dispose();
    }
  };
  let dim: number;
  try {
    // one probe image: the output's length, and a model that cannot run fails here rather than mid-job
    const probe = await forward(new Float32Array(size * size * 3), 1);
    dim = probe.shape[1];
    probe.dispose();
  } catch (err) {
    if (err instanceof CurioError) throw err;
    throw invalid(`encoder ${file} fails on a ${size}×${size} image: ${(err as Error).message.split('\n')[0]}`);
  }
  return {
    kind,
    imageSize: size,
    dim,
    sha256,
    async forward(data, n) {
      const y = await forward(data, n);
      try {
        // async readback: the webgpu backend has no synchronous one in Node
        return (await y.data()) as Float32Array;
      } finally {
        y.dispose();
      }
    },
    dispose: () => model.dispose(),
  };
}
