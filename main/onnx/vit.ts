import type { AttributeValue, OnnxGraph, OnnxNode, OnnxTensor } from './model.js';
import { ONNX_INPUT, ONNX_OUTPUT, type NamedTensors } from './resnet.js';
import { hwioToOihw, StateReader } from './state-reader.js';

/** Heads per backbone, as createBackbone (main/train/models/index.ts) builds them; the state does not record them. */
export const VIT_HEADS: Record<string, number> = { 'vit-tiny': 3, 'vit-small': 6 };

export interface ViTGraphOptions {
  imageSize: number;
  heads: number;
  /** LayerNorm eps; our LayerNorm's default (timm's ViT) */
  eps?: number;
  /** Fixed batch size, or a symbolic name; default 'batch' (any N) */
  batch?: number | string;
}

/**
 * Builds the ONNX graph (opset 17) of a Vision Transformer backbone (main/train/models/vit.ts) from its named state:
 *
 *   images [N, S, S, 3] → Transpose → Conv p×p/p (patch_embed.proj) → [N, D, g, g] → Reshape [N, D, g²] →
 *   Transpose → [N, g², D]; Concat(cls_token expanded to [N, 1, D], patches) + pos_embed → [N, T, D];
 *   per block: x + proj(softmax(q·kᵀ/√d)·v) over LayerNorm(x), then x + fc2(GELU(fc1(LayerNorm(x))));
 *   final LayerNorm; the cls token [N, D].
 *
 * It follows the tfjs forward op for op: qkv splits its last axis into thirds and each into heads of D/heads
 * (tfjs reshapes to [N, T, 3, heads, d]); the logits are scaled after the product; GELU is the exact erf form
 * x·0.5·(1 + erf(x·√½)); LayerNormalization over the last axis with eps 1e-6. Linear weights are [in, out], as
 * MatMul takes them; the patch filter goes from tfjs HWIO to ONNX OIHW. The position embedding is used at the
 * training grid only (the export's image size), so no resize is written.
 */
export function buildViTGraph(state: NamedTensors, options: ViTGraphOptions): OnnxGraph {
  const { imageSize, heads } = options;
  const eps = options.eps ?? 1e-6;
  if (!Number.isInteger(imageSize) || imageSize < 8) throw new Error(`image size must be an integer ≥ 8, got ${imageSize}`);
  if (!Number.isInteger(heads) || heads < 1) throw new Error(`heads must be a positive integer, got ${heads}`);
  const reader = new StateReader(state, 'ViT');
  const take = (name: string, shape?: number[]) => reader.take(name, shape);
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  let counter = 0;
  const fresh = (stem: string) => `${stem}_${counter++}`;
  const op = (opType: string, name: string, inputs: string[], attributes?: Record<string, AttributeValue>): string => {
    const out = fresh(name);
    nodes.push({ opType, name: fresh(`${name}_node`), inputs, outputs: [out], ...(attributes ? { attributes } : {}) });
    return out;
  };
  const initializer = (name: string, dims: number[], data: Float32Array): string => {
    initializers.push({ name, dims, data });
    return name;
  };
  const param = (name: string, shape?: number[]): string => {
    const t = take(name, shape);
    return initializer(name, t.shape, t.data);
  };
  const ints = (name: string, value: number[]): string => op('Constant', name, [], { value_ints: { kind: 'ints', value } });
  const scalarIndex = (name: string, value: number): string => op('Constant', name, [], { value_int: { kind: 'int', value } });

  const patchW = take('patch_embed.proj.weight');
  if (patchW.shape.length !== 4 || patchW.shape[0] !== patchW.shape[1]) throw new Error(`not a Curio ViT: patch_embed.proj.weight is [${patchW.shape.join(', ')}]`);
  const [p, , cin, dim] = patchW.shape as [number, number, number, number];
  if (cin !== 3) throw new Error(`the ONNX export takes RGB input; the patch embedding has ${cin} input channels`);
  if (imageSize % p !== 0) throw new Error(`image size ${imageSize} is not a multiple of patch ${p}`);
  if (dim % heads !== 0) throw new Error(`ViT width ${dim} is not divisible by ${heads} heads`);
  const grid = imageSize / p;
  const tokens = grid * grid + 1;
  const headDim = dim / heads;

  const oihw = hwioToOihw(patchW.data, p, cin, dim);
  const patchWName = initializer('patch_embed.proj.weight_oihw', [dim, cin, p, p], oihw);
  const patchB = param('patch_embed.proj.bias', [dim]);

  const nchw = op('Transpose', 'to_nchw', [ONNX_INPUT], { perm: { kind: 'ints', value: [0, 3, 1, 2] } });
  const conv = op('Conv', 'patch_embed', [nchw, patchWName, patchB], {
    kernel_shape: { kind: 'ints', value: [p, p] },
    strides: { kind: 'ints', value: [p, p] },
    pads: { kind: 'ints', value: [0, 0, 0, 0] },
  });
  // [N, D, g, g] → [N, D, g²] → [N, g², D]: patches in row-major (y, x) order, as tfjs reshapes NHWC [N, g, g, D]
  const flat = op('Reshape', 'patches_flat', [conv, ints('patches_shape', [0, dim, -1])]);
  const patches = op('Transpose', 'patches', [flat], { perm: { kind: 'ints', value: [0, 2, 1] } });
  // cls token broadcast to [N, 1, D]: Expand to [N, 1, 1] takes N from the patches
  const batchDim = op('Shape', 'batch_dim', [patches], { start: { kind: 'int', value: 0 }, end: { kind: 'int', value: 1 } });
  const clsShape = op('Concat', 'cls_shape', [batchDim, ints('ones', [1, 1])], { axis: { kind: 'int', value: 0 } });
  const cls = op('Expand', 'cls', [param('cls_token', [1, 1, dim]), clsShape]);
  const seq = op('Concat', 'tokens', [cls, patches], { axis: { kind: 'int', value: 1 } });
  let x = op('Add', 'pos', [seq, param('pos_embed', [1, tokens, dim])]);

  const layerNorm = (input: string, prefix: string): string =>
    op('LayerNormalization', `${prefix}`, [input, param(`${prefix}.weight`, [dim]), param(`${prefix}.bias`, [dim])], {
      axis: { kind: 'int', value: -1 },
      epsilon: { kind: 'float', value: eps },
    });
  const linear = (input: string, prefix: string, inF: number, outF: number): string =>
    op('Add', `${prefix}.add`, [op('MatMul', `${prefix}.matmul`, [input, param(`${prefix}.weight`, [inF, outF])]), param(`${prefix}.bias`, [outF])]);

  const headsShape = ints('heads_shape', [0, 0, heads, headDim]);
  const mergedShape = ints('merged_shape', [0, 0, dim]);
  const scale = initializer('attn_scale', [], Float32Array.of(1 / Math.sqrt(headDim)));
  const half = initializer('half', [], Float32Array.of(0.5));
  const one = initializer('one', [], Float32Array.of(1));
  const rsqrt2 = initializer('sqrt_half', [], Float32Array.of(Math.SQRT1_2));
  const toHeads = (t: string, name: string, perm: number[]) => op('Transpose', name, [op('Reshape', `${name}_split`, [t, headsShape])], { perm: { kind: 'ints', value: perm } });

  let depth = 0;
  for (let b = 0; state[`blocks.${b}.norm1.weight`]; b++) {
    depth = b + 1;
    const pre = `blocks.${b}`;
    const h = layerNorm(x, `${pre}.norm1`);
    const qkv = linear(h, `${pre}.attn.qkv`, dim, 3 * dim);
    const [q, k, v] = ['q', 'k', 'v'].map((s) => fresh(`${pre}.attn.${s}`)) as [string, string, string];
    nodes.push({ opType: 'Split', name: fresh(`${pre}.attn.split`), inputs: [qkv], outputs: [q, k, v], attributes: { axis: { kind: 'int', value: -1 } } });
    const qh = toHeads(q, `${pre}.attn.qh`, [0, 2, 1, 3]); // [N, heads, T, d]
    const kt = toHeads(k, `${pre}.attn.kt`, [0, 2, 3, 1]); // [N, heads, d, T]
    const vh = toHeads(v, `${pre}.attn.vh`, [0, 2, 1, 3]);
    const logits = op('Mul', `${pre}.attn.scale`, [op('MatMul', `${pre}.attn.qk`, [qh, kt]), scale]);
    const probs = op('Softmax', `${pre}.attn.softmax`, [logits], { axis: { kind: 'int', value: -1 } });
    const ctx = op('Transpose', `${pre}.attn.ctx_t`, [op('MatMul', `${pre}.attn.pv`, [probs, vh])], { perm: { kind: 'ints', value: [0, 2, 1, 3] } });
    const merged = op('Reshape', `${pre}.attn.merge`, [ctx, mergedShape]);
    x = op('Add', `${pre}.residual1`, [x, linear(merged, `${pre}.attn.proj`, dim, dim)]);

    const hidden = take(`${pre}.mlp.fc1.weight`).shape[1]!;
    const f = linear(layerNorm(x, `${pre}.norm2`), `${pre}.mlp.fc1`, dim, hidden);
    const erf = op('Erf', `${pre}.mlp.erf`, [op('Mul', `${pre}.mlp.scale`, [f, rsqrt2])]);
    const gelu = op('Mul', `${pre}.mlp.gelu`, [op('Mul', `${pre}.mlp.half`, [f, half]), op('Add', `${pre}.mlp.erf1`, [erf, one])]);
    x = op('Add', `${pre}.residual2`, [x, linear(gelu, `${pre}.mlp.fc2`, hidden, dim)]);
  }
  if (depth === 0) throw new Error('not a Curio ViT: the state has no blocks');
  const normed = layerNorm(x, 'norm');
  nodes.push({ opType: 'Gather', name: 'cls_out', inputs: [normed, scalarIndex('cls_index', 0)], outputs: [ONNX_OUTPUT], attributes: { axis: { kind: 'int', value: 1 } } });

  reader.assertAllUsed();
  const batch = options.batch ?? 'batch';
  return {
    name: 'curio_vit_encoder',
    nodes,
    initializers,
    inputs: [{ name: ONNX_INPUT, shape: [batch, imageSize, imageSize, 3] }],
    outputs: [{ name: ONNX_OUTPUT, shape: [batch, dim] }],
  };
}
