import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { invalid } from '../common/errors.js';
import { readEncoder, runEncoderOnnx } from '../train/runs/export.js';
import type { RunManager } from '../train/runs/runner.js';
import { ONNX_FILE, encoderToOnnx } from './encoder.js';
import { ONNX_INPUT, ONNX_OUTPUT } from './resnet.js';

type Ort = typeof import('onnxruntime-node');
type Session = import('onnxruntime-node').InferenceSession;

/** Runs an ONNX encoder on float32 NHWC batches; what the curation embedding job calls. */
export interface OnnxEmbedder {
  readonly imageSize: number;
  readonly dim: number;
  /** `images` holds n×imageSize×imageSize×3 floats, prepared as for the tfjs backbone; returns n×dim floats. */
  embed(images: Float32Array, n: number): Promise<Float32Array>;
  close(): Promise<void>;
}

export interface OnnxEmbedderOptions {
  /** intra-op threads; default: all cores */
  threads?: number;
  /** let idle worker threads spin (ORT's default); off by default, see below */
  spin?: boolean;
}

let ortModule: Promise<Ort> | null = null;
function loadOrt(): Promise<Ort> {
  // loaded on first use, so that nothing else pays for the native addon
  ortModule ??= import('onnxruntime-node').then((m) => ((m as { default?: Ort }).default ?? m) as Ort);
  return ortModule;
}

/**
 * An embedder from a `.onnx` file, a folder holding model.onnx (curio export-encoder --format onnx), or a
 * folder with a tfjs-format Curio encoder (model.json + weights.bin), converted in memory.
 */
export async function createOnnxEmbedder(source: string, options: OnnxEmbedderOptions = {}): Promise<OnnxEmbedder> {
  let bytes: Uint8Array;
  const resolved = path.resolve(source);
  if (!fs.existsSync(resolved)) throw invalid(`encoder ${resolved} does not exist`);
  if (fs.statSync(resolved).isDirectory()) {
    if (fs.existsSync(path.join(resolved, ONNX_FILE))) bytes = fs.readFileSync(path.join(resolved, ONNX_FILE));
    else if (fs.existsSync(path.join(resolved, 'model.json'))) {
      const { manifest, tensors } = readEncoder(resolved);
      try {
        bytes = encoderToOnnx({ backbone: manifest.backbone, imageSize: manifest.imageSize, tensors });
      } catch (err) {
        throw invalid(`cannot convert ${resolved} to ONNX: ${(err as Error).message}`);
      }
    } else throw invalid(`${resolved} holds neither ${ONNX_FILE} nor a Curio model.json`);
  } else bytes = fs.readFileSync(resolved);
  return createOnnxEmbedderFromBytes(bytes, options, resolved);
}

/** An embedder for a Curio run's encoder (its last checkpoint), converted in memory. */
export async function createRunOnnxEmbedder(runs: RunManager, runId: number, options: OnnxEmbedderOptions = {}): Promise<OnnxEmbedder> {
  return createOnnxEmbedderFromBytes(runEncoderOnnx(runs, runId), options, `run ${runId}`);
}

export async function createOnnxEmbedderFromBytes(bytes: Uint8Array, options: OnnxEmbedderOptions = {}, label = 'model'): Promise<OnnxEmbedder> {
  const ort = await loadOrt();
  const threads = options.threads ?? os.availableParallelism();
  let session: Session;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      // idle intra-op threads sleep instead of spinning: the embedding job decodes JPEGs on the same cores, and
      // on a busy 2-core machine spinning cost ~40% more CPU per image here (bench/onnx)
      extra: { session: { intra_op: { allow_spinning: options.spin ? '1' : '0' } } },
    });
  } catch (err) {
    throw invalid(`cannot load ONNX encoder ${label}: ${(err as Error).message.split('\n')[0]}`);
  }
  const input = session.inputMetadata.find((m) => m.name === ONNX_INPUT) ?? session.inputMetadata[0];
  const output = session.outputMetadata.find((m) => m.name === ONNX_OUTPUT) ?? session.outputMetadata[0];
  if (!input?.isTensor || !output?.isTensor) throw invalid(`ONNX encoder ${label} needs one tensor input and one tensor output`);
  const inShape = input.shape;
  const outShape = output.shape;
  const imageSize = inShape[1];
  const dim = outShape[1];
  if (inShape.length !== 4 || inShape[3] !== 3 || typeof imageSize !== 'number' || inShape[2] !== imageSize) {
    throw invalid(`ONNX encoder ${label} must take [N, S, S, 3] images, its input is [${inShape.join(', ')}]`);
  }
  if (outShape.length !== 2 || typeof dim !== 'number') throw invalid(`ONNX encoder ${label} must output [N, D], its output is [${outShape.join(', ')}]`);
  const perImage = imageSize * imageSize * 3;
  return {
    imageSize,
    dim,
    async embed(images, n) {
      if (!Number.isInteger(n) || n < 1 || images.length !== n * perImage) {
        throw invalid(`embed: expected ${n}×${imageSize}×${imageSize}×3 = ${n * perImage} floats, got ${images.length}`);
      }
      const tensor = new ort.Tensor('float32', images, [n, imageSize, imageSize, 3]);
      const result = await session.run({ [input.name]: tensor });
      const out = result[output.name]!;
      const data = Float32Array.from(out.data as Float32Array);
      out.dispose();
      return data;
    },
    close: () => session.release(),
  };
}
