import type { OnnxGraph, OnnxNode, OnnxTensor } from './model.js';
import { hwioToOihw, StateReader } from './state-reader.js';

/** Named float32 tensors as in Module.getState() and readEncoder(). */
export type NamedTensors = Record<string, { shape: number[]; data: Float32Array }>;

export const ONNX_INPUT = 'images';
export const ONNX_OUTPUT = 'embedding';

export interface ResNetGraphOptions {
  imageSize: number;
  /** BatchNorm eps; our BatchNorm's default (PyTorch's) */
  eps?: number;
  /** Fixed batch size, or a symbolic name; default 'batch' (any N) */
  batch?: number | string;
}

/**
 * Builds the ONNX graph of a ResNet backbone (main/train/models/resnet.ts) from its named state alone:
 * NHWC [N, H, W, 3] → Transpose → NCHW → Conv(+folded BN) → Relu … → Add → Relu … → GlobalAveragePool →
 * Flatten → [N, D].
 *
 * The structure is read off the names, following resnet.ts: a 7×7 stem conv means the ImageNet stem (stride 2,
 * 3×3/2 max-pool), a 3×3 one the CIFAR stem; `layerS.B.conv3` marks a bottleneck block; the first block of
 * every stage after the first has stride 2 (on conv1 in a basic block, on conv2 in a bottleneck, and on its
 * 1×1 downsample); k×k convs pad (k−1)/2. Inference-mode BatchNorm is folded into the preceding conv:
 * W' = W·γ/√(σ²+ε), b' = β − μ·γ/√(σ²+ε). Filters go from tfjs HWIO to ONNX OIHW.
 */
export function buildResNetGraph(state: NamedTensors, options: ResNetGraphOptions): OnnxGraph {
  const { imageSize } = options;
  const eps = options.eps ?? 1e-5;
  if (!Number.isInteger(imageSize) || imageSize < 8) throw new Error(`image size must be an integer ≥ 8, got ${imageSize}`);
  const reader = new StateReader(state, 'ResNet');
  const take = (name: string) => reader.take(name);
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  let counter = 0;
  const fresh = (stem: string) => `${stem}_${counter++}`;

  const convBn = (input: string, conv: string, bn: string, stride: number): { out: string; channels: number } => {
    const w = take(`${conv}.weight`);
    if (w.shape.length !== 4 || w.shape[0] !== w.shape[1]) throw new Error(`${conv}.weight must be a square HWIO filter, got [${w.shape.join(', ')}]`);
    const [k, , cin, cout] = w.shape as [number, number, number, number];
    const convBias = reader.has(`${conv}.bias`) ? take(`${conv}.bias`).data : null;
    const gamma = take(`${bn}.weight`).data;
    const beta = take(`${bn}.bias`).data;
    const mean = take(`${bn}.running_mean`).data;
    const variance = take(`${bn}.running_var`).data;
    for (const [what, arr] of [['weight', gamma], ['bias', beta], ['running_mean', mean], ['running_var', variance]] as const) {
      if (arr.length !== cout) throw new Error(`${bn}.${what} has ${arr.length} values, expected ${cout}`);
    }
    const scale = new Float64Array(cout); // double, as the fold was before it moved into hwioToOihw
    const bias = new Float32Array(cout);
    for (let o = 0; o < cout; o++) {
      const sc = gamma[o]! / Math.sqrt(variance[o]! + eps);
      scale[o] = sc;
      bias[o] = beta[o]! + ((convBias ? convBias[o]! : 0) - mean[o]!) * sc;
    }
    const weight = hwioToOihw(w.data, k, cin, cout, scale);
    const wName = `${conv}.weight_folded`;
    const bName = `${conv}.bias_folded`;
    initializers.push({ name: wName, dims: [cout, cin, k, k], data: weight }, { name: bName, dims: [cout], data: bias });
    const pad = (k - 1) / 2;
    const out = fresh(conv);
    nodes.push({
      opType: 'Conv',
      name: conv,
      inputs: [input, wName, bName],
      outputs: [out],
      attributes: {
        kernel_shape: { kind: 'ints', value: [k, k] },
        strides: { kind: 'ints', value: [stride, stride] },
        pads: { kind: 'ints', value: [pad, pad, pad, pad] },
        group: { kind: 'int', value: 1 },
      },
    });
    return { out, channels: cout };
  };
  const relu = (input: string, name: string): string => {
    const out = fresh(name);
    nodes.push({ opType: 'Relu', name, inputs: [input], outputs: [out] });
    return out;
  };

  const nchw = 'images_nchw';
  nodes.push({ opType: 'Transpose', name: 'to_nchw', inputs: [ONNX_INPUT], outputs: [nchw], attributes: { perm: { kind: 'ints', value: [0, 3, 1, 2] } } });
  const stemK = take('conv1.weight').shape[0];
  if (stemK !== 3 && stemK !== 7) throw new Error(`not a Curio ResNet: stem conv is ${stemK}×${stemK}, expected 3×3 or 7×7`);
  const inChannels = state['conv1.weight']!.shape[2];
  if (inChannels !== 3) throw new Error(`the ONNX export takes RGB input; the stem conv has ${inChannels} input channels`);
  const imagenet = stemK === 7;
  let x = relu(convBn(nchw, 'conv1', 'bn1', imagenet ? 2 : 1).out, 'stem_relu');
  if (imagenet) {
    const out = fresh('maxpool');
    nodes.push({
      opType: 'MaxPool',
      name: 'maxpool',
      inputs: [x],
      outputs: [out],
      attributes: { kernel_shape: { kind: 'ints', value: [3, 3] }, strides: { kind: 'ints', value: [2, 2] }, pads: { kind: 'ints', value: [1, 1, 1, 1] } },
    });
    x = out;
  }

  let stages = 0;
  let channels = 0;
  for (let s = 1; state[`layer${s}.0.conv1.weight`]; s++) {
    stages = s;
    for (let b = 0; state[`layer${s}.${b}.conv1.weight`]; b++) {
      const p = `layer${s}.${b}`;
      const stride = b === 0 && s > 1 ? 2 : 1;
      const bottleneck = Boolean(state[`${p}.conv3.weight`]);
      let y: string;
      if (bottleneck) {
        y = relu(convBn(x, `${p}.conv1`, `${p}.bn1`, 1).out, `${p}.relu1`);
        y = relu(convBn(y, `${p}.conv2`, `${p}.bn2`, stride).out, `${p}.relu2`);
        const r = convBn(y, `${p}.conv3`, `${p}.bn3`, 1);
        y = r.out;
        channels = r.channels;
      } else {
        y = relu(convBn(x, `${p}.conv1`, `${p}.bn1`, stride).out, `${p}.relu1`);
        const r = convBn(y, `${p}.conv2`, `${p}.bn2`, 1);
        y = r.out;
        channels = r.channels;
      }
      const identity = state[`${p}.downsample.0.weight`] ? convBn(x, `${p}.downsample.0`, `${p}.downsample.1`, stride).out : x;
      const sum = fresh(`${p}.add`);
      nodes.push({ opType: 'Add', name: `${p}.add`, inputs: [y, identity], outputs: [sum] });
      x = relu(sum, `${p}.relu_out`);
    }
  }
  if (stages === 0) throw new Error('not a Curio ResNet: the state has no layer1 blocks');
  reader.assertAllUsed();

  const pooled = 'pooled';
  nodes.push({ opType: 'GlobalAveragePool', name: 'global_avg_pool', inputs: [x], outputs: [pooled] });
  nodes.push({ opType: 'Flatten', name: 'flatten', inputs: [pooled], outputs: [ONNX_OUTPUT], attributes: { axis: { kind: 'int', value: 1 } } });
  const batch = options.batch ?? 'batch';
  return {
    name: 'curio_resnet_encoder',
    nodes,
    initializers,
    inputs: [{ name: ONNX_INPUT, shape: [batch, imageSize, imageSize, 3] }],
    outputs: [{ name: ONNX_OUTPUT, shape: [batch, channels] }],
  };
}
