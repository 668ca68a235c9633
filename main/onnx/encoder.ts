import { encodeModel } from './model.js';
import { buildResNetGraph, type NamedTensors } from './resnet.js';
import { VIT_HEADS, buildViTGraph } from './vit.js';

export const ONNX_FILE = 'model.onnx';

export interface EncoderDescription {
  backbone: string;
  imageSize: number;
  tensors: NamedTensors;
  /** written into the model's metadata_props (run id, method, step…) */
  metadata?: Record<string, string | number>;
}

/**
 * An encoder's backbone weights as an ONNX model (bytes of onnx.ModelProto, opset 17): the ResNets (resnet.ts) and
 * the ViTs (vit.ts), whose head count comes from the backbone name.
 */
export function encoderToOnnx(e: EncoderDescription): Uint8Array {
  let graph;
  if (e.backbone.startsWith('vit')) {
    const heads = VIT_HEADS[e.backbone];
    if (heads === undefined) throw new Error(`unknown ViT backbone "${e.backbone}"; expected one of ${Object.keys(VIT_HEADS).join(', ')}`);
    graph = buildViTGraph(e.tensors, { imageSize: e.imageSize, heads });
  } else graph = buildResNetGraph(e.tensors, { imageSize: e.imageSize });
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
