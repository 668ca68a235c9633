import { encodeModel } from './model.js';
import { buildResNetGraph, type NamedTensors } from './resnet.js';

export const ONNX_FILE = 'model.onnx';

export interface EncoderDescription {
  backbone: string;
  imageSize: number;
  tensors: NamedTensors;
  /** written into the model's metadata_props (run id, method, step…) */
  metadata?: Record<string, string | number>;
}

/**
 * An encoder's backbone weights as an ONNX model (bytes of onnx.ModelProto, opset 17). ResNets only: the ViT
 * graph is not written yet, and asking for it is an error that says so.
 */
export function encoderToOnnx(e: EncoderDescription): Uint8Array {
  if (e.backbone.startsWith('vit')) {
    throw new Error(`ONNX export supports the ResNet backbones (small, resnet18, resnet50), not ${e.backbone}; export it as tfjs instead`);
  }
  const graph = buildResNetGraph(e.tensors, { imageSize: e.imageSize });
  const metadata: Record<string, string> = { backbone: e.backbone, imageSize: String(e.imageSize), layout: 'NHWC float32' };
  for (const [k, v] of Object.entries(e.metadata ?? {})) metadata[k] = String(v);
  return encodeModel({
    graph,
    producerName: 'curio',
    producerVersion: '1',
    docString: `Curio ${e.backbone} encoder: images [N, ${e.imageSize}, ${e.imageSize}, 3] float32 NHWC, as the tfjs backbone takes them → embedding [N, D]`,
    metadata,
  });
}
