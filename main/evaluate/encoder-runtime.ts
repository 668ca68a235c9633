import * as tf from '@tensorflow/tfjs';
import { CurioError, invalid } from '../common/errors.js';
import type { BackendPreference } from '../compute/index.js';
import { encoderToOnnx } from '../onnx/encoder.js';
import { type OnnxEmbedder } from '../onnx/runtime.js';
import { createPooledOnnxEmbedder } from './ort-pool.js';
import { buildBackbone, type EncoderSource, ensureBackend } from './extract.js';

/**
 * A frozen encoder ready to run, on ONNX Runtime (CPU) or on tfjs: the one place that chooses between them, for
 * evaluation's feature extraction and curation's embeddings alike.
 *
 * ORT is chosen when the backbone's graph can be written (main/onnx: the ResNets and the small CNN, random-init or
 * trained) and ORT loads it, because on a laptop CPU it runs these encoders about 4× faster than tfjs
 * (bench/eval, bench/onnx). Otherwise (a ViT, ORT failing to load, tfjs or a tfjs compute backend asked for) it
 * runs on tfjs, and `fallback` says why. Both take the same input and give the same output: the pooled backbone
 * output, not normalised; callers that want unit rows normalise themselves.
 */
export interface FrozenEncoder {
  readonly runtime: 'onnxruntime' | 'tfjs';
  /** why not ONNX Runtime; null when it runs on ORT */
  readonly fallback: string | null;
  readonly imageSize: number;
  readonly dim: number;
  /** `x`: n × S × S × 3 floats in [0, 1], NHWC, as decodeForEncoder gives them; returns n × dim floats */
  embed(x: Float32Array, n: number): Promise<Float32Array>;
  close(): Promise<void>;
}

export type EncoderRuntime = 'auto' | 'onnxruntime' | 'tfjs';

export interface OpenEncoderOptions {
  /** 'auto' (ORT when it can, else tfjs); the others force one, for tests and measurements */
  runtime?: EncoderRuntime;
  /**
   * The tfjs compute backend. Naming one (anything but 'auto') asks for tfjs on that backend, so under 'auto'
   * runtime it forces tfjs; an explicit runtime 'onnxruntime' wins over it.
   */
  backend?: BackendPreference;
  /** ORT intra-op threads; default all cores */
  threads?: number;
  /** names the encoder in errors, e.g. "run 3 (small, step 40)" */
  label?: string;
}

/** How an encoder ran, for a log line or a report: "ONNX Runtime" or "tfjs (not ONNX Runtime: <why>)". */
export function describeRuntime(e: Pick<FrozenEncoder, 'runtime' | 'fallback'>): string {
  return e.runtime === 'onnxruntime' ? 'ONNX Runtime' : `tfjs${e.fallback ? ` (not ONNX Runtime: ${e.fallback})` : ''}`;
}

export async function openFrozenEncoder(source: EncoderSource, options: OpenEncoderOptions = {}): Promise<FrozenEncoder> {
  const runtime = options.runtime ?? 'auto';
  const label = options.label ?? `${source.backbone} encoder`;
  let fallback: string | null = null;
  if (runtime === 'tfjs') fallback = 'tfjs was asked for';
  else if (runtime === 'auto' && options.backend !== undefined && options.backend !== 'auto') fallback = `the tfjs ${options.backend} backend was asked for`;
  else {
    let bytes: Uint8Array | null = null;
    try {
      bytes = encoderToOnnx({ backbone: source.backbone, imageSize: source.imageSize, tensors: await weightsOf(source, options.backend) });
    } catch (err) {
      if (err instanceof CurioError) throw err;
      fallback = `${source.backbone} has no ONNX graph yet: ${firstLine(err)}`;
    }
    if (bytes) {
      try {
        return ortEncoder(await createPooledOnnxEmbedder(bytes, options.threads !== undefined ? { threads: options.threads } : {}, label));
      } catch (err) {
        if (runtime === 'onnxruntime') throw err instanceof CurioError ? err : invalid(`cannot run ${label} on ONNX Runtime: ${firstLine(err)}`);
        fallback = `ONNX Runtime could not run it: ${firstLine(err)}`;
      }
    }
  }
  if (runtime === 'onnxruntime') throw invalid(`cannot run ${label} on ONNX Runtime: ${fallback}`);
  return tfjsEncoder(source, fallback, options.backend, label);
}

/** A run brings its weights; a random init gets them from the tfjs init of its seed, so both runtimes run the same weights. */
async function weightsOf(source: EncoderSource, backend: BackendPreference | undefined) {
  if (source.kind === 'run') return source.state;
  await ensureBackend(backend);
  const backbone = buildBackbone(source);
  try {
    return await backbone.getState();
  } finally {
    backbone.dispose();
  }
}

function ortEncoder(ort: OnnxEmbedder): FrozenEncoder {
  return {
    runtime: 'onnxruntime',
    fallback: null,
    imageSize: ort.imageSize,
    dim: ort.dim,
    embed: (x, n) => ort.embed(x, n),
    close: () => ort.close(),
  };
}

async function tfjsEncoder(source: EncoderSource, fallback: string | null, backend: BackendPreference | undefined, label: string): Promise<FrozenEncoder> {
  await ensureBackend(backend);
  let backbone: ReturnType<typeof buildBackbone>;
  try {
    backbone = buildBackbone(source);
  } catch (err) {
    if (err instanceof CurioError) throw err;
    throw invalid(`encoder ${label}: ${firstLine(err)}`);
  }
  const size = source.imageSize;
  return {
    runtime: 'tfjs',
    fallback,
    imageSize: size,
    dim: backbone.outputDim,
    async embed(x, n) {
      const y = tf.tidy(() => backbone.forward(tf.tensor4d(x, [n, size, size, 3]), { training: false }));
      try {
        // async readback: the webgpu backend has no synchronous one in Node
        return Float32Array.from((await y.data()) as Float32Array);
      } finally {
        y.dispose();
      }
    },
    close: async () => backbone.dispose(),
  };
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}
