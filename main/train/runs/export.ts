import fs from 'node:fs';
import path from 'node:path';
import { CurioError, conflict, invalid } from '../../common/errors.js';
import { ONNX_FILE, encoderToOnnx } from '../../onnx/encoder.js';
import { readCheckpoint } from './checkpoint.js';
import type { CheckpointMeta } from './protocol.js';
import type { RunManager } from './runner.js';

export const ENCODER_FORMAT = 'curio-encoder/v1';
const WEIGHTS_FILE = 'weights.bin';

/** model.json of an exported encoder: tfjs's weights manifest plus what rebuilds the architecture. */
export interface EncoderManifest {
  format: typeof ENCODER_FORMAT;
  backbone: string;
  imageSize: number;
  patchSize: number | null;
  method: string;
  runId: number;
  step: number;
  /** tfjs's weights manifest, so tf.io.loadWeights and other tfjs tooling read the weights as they are */
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: 'float32' }[] }[];
}

/**
 * Writes a run's online backbone (the encoder) from its last checkpoint: `model.json` (architecture and tfjs
 * weights manifest) and `weights.bin` (float32, in manifest order). Curation and evaluation rebuild the backbone
 * by name and load these weights; heads, predictors and momentum networks are left out. With format 'onnx' it
 * writes `model.onnx` instead (ResNets and ViTs; main/onnx), which main/onnx/runtime.ts runs with onnxruntime-node.
 */
export async function exportEncoder(runs: RunManager, runId: number, format: 'tfjs' | 'onnx', outDir: string): Promise<string[]> {
  const { ckpt, weights } = readRunBackbone(runs, runId);
  const out = path.resolve(outDir);
  if (fs.existsSync(out) && !fs.statSync(out).isDirectory()) throw invalid(`--out ${out} is a file, not a folder`);
  if (format === 'onnx') {
    const bytes = onnxFromCheckpoint(runId, ckpt, weights);
    fs.mkdirSync(out, { recursive: true });
    const onnxPath = path.join(out, ONNX_FILE);
    fs.writeFileSync(onnxPath, bytes);
    return [onnxPath];
  }
  fs.mkdirSync(out, { recursive: true });
  const manifest: EncoderManifest = {
    format: ENCODER_FORMAT,
    backbone: ckpt.meta.config.backbone,
    imageSize: ckpt.meta.config.imageSize,
    patchSize: ckpt.meta.config.patchSize ?? null,
    method: ckpt.meta.config.method,
    runId,
    step: ckpt.meta.step,
    weightsManifest: [
      {
        paths: [WEIGHTS_FILE],
        weights: weights.map(([name, t]) => ({ name: name.slice(BACKBONE_PREFIX.length), shape: t.shape, dtype: 'float32' as const })),
      },
    ],
  };
  const total = weights.reduce((s, [, t]) => s + t.data.length, 0);
  const data = new Float32Array(total);
  let o = 0;
  for (const [, t] of weights) {
    data.set(t.data, o);
    o += t.data.length;
  }
  const modelPath = path.join(out, 'model.json');
  const weightsPath = path.join(out, WEIGHTS_FILE);
  fs.writeFileSync(weightsPath, new Uint8Array(data.buffer));
  fs.writeFileSync(modelPath, `${JSON.stringify(manifest, null, 2)}\n`);
  return [modelPath, weightsPath];
}

const BACKBONE_PREFIX = 'modules/backbone.';
type NamedTensor = { shape: number[]; data: Float32Array };

function readRunBackbone(runs: RunManager, runId: number): { ckpt: ReturnType<typeof readCheckpoint<CheckpointMeta>>; weights: [string, NamedTensor][] } {
  const run = runs.store.get(runId);
  const file = run.checkpoint;
  if (!file || !fs.existsSync(file)) throw conflict(`run ${runId} has no checkpoint yet; let it train a little first`);
  const ckpt = readCheckpoint<CheckpointMeta>(file);
  const weights = Object.entries(ckpt.tensors).filter(([name]) => name.startsWith(BACKBONE_PREFIX));
  if (weights.length === 0) throw new CurioError('failed', `checkpoint ${file} holds no backbone weights`);
  return { ckpt, weights };
}

function onnxFromCheckpoint(runId: number, ckpt: ReturnType<typeof readCheckpoint<CheckpointMeta>>, weights: [string, NamedTensor][]): Uint8Array {
  const { backbone, imageSize, method } = ckpt.meta.config;
  try {
    return encoderToOnnx({
      backbone,
      imageSize,
      tensors: Object.fromEntries(weights.map(([name, t]) => [name.slice(BACKBONE_PREFIX.length), t])),
      metadata: { runId, method, step: ckpt.meta.step },
    });
  } catch (err) {
    throw new CurioError('failed', `run ${runId}: cannot write its ${backbone} encoder as ONNX: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** A run's encoder (its last checkpoint's backbone) as ONNX model bytes, without writing files. */
export function runEncoderOnnx(runs: RunManager, runId: number): Uint8Array {
  const { ckpt, weights } = readRunBackbone(runs, runId);
  return onnxFromCheckpoint(runId, ckpt, weights);
}

/** Reads an exported encoder back as named float32 tensors plus its manifest. */
export function readEncoder(dir: string): { manifest: EncoderManifest; tensors: Record<string, { shape: number[]; data: Float32Array }> } {
  const modelPath = path.join(dir, 'model.json');
  let manifest: EncoderManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(modelPath, 'utf8')) as EncoderManifest;
  } catch (err) {
    throw invalid(`cannot read encoder ${modelPath}: ${(err as Error).message}`);
  }
  if (manifest.format !== ENCODER_FORMAT) throw invalid(`${modelPath} is not a Curio encoder (format ${String(manifest.format)})`);
  const group = manifest.weightsManifest[0];
  if (!group) throw invalid(`${modelPath} lists no weights`);
  const buf = fs.readFileSync(path.join(dir, group.paths[0]!));
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  let o = 0;
  for (const w of group.weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    if (o + n > all.length) throw invalid(`${modelPath}: weights file is shorter than the manifest`);
    tensors[w.name] = { shape: w.shape, data: all.slice(o, o + n) };
    o += n;
  }
  return { manifest, tensors };
}
