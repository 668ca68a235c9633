import { ProtoWriter } from './protobuf.js';

/**
 * Plain descriptions of the onnx.proto messages Curio writes, and their wire encoding. Field numbers are those
 * of onnx/onnx.proto (IR version 8 = opset 17's release). Only what an exported encoder needs is modelled.
 */

export const IR_VERSION = 8;
export const OPSET_VERSION = 17;

/** TensorProto.DataType */
export const DataType = { FLOAT: 1, INT64: 7 } as const;

export interface OnnxTensor {
  name: string;
  dims: number[];
  /** float32 values, row-major */
  data: Float32Array;
}

export type AttributeValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'string'; value: string };

export interface OnnxNode {
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, AttributeValue>;
}

/** A float tensor value: a number is a fixed size, a string a symbolic one (e.g. 'batch'). */
export interface OnnxValueInfo {
  name: string;
  shape: (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  graph: OnnxGraph;
  producerName: string;
  producerVersion: string;
  docString?: string;
  /** ModelProto.metadata_props: readable through InferenceSession metadata in onnxruntime */
  metadata?: Record<string, string>;
}

// AttributeProto.AttributeType
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_INTS = 7;

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function writeTensor(w: ProtoWriter, t: OnnxTensor): void {
  const size = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== size) throw new Error(`initializer ${t.name}: ${t.data.length} values for dims [${t.dims.join(', ')}]`);
  for (const d of t.dims) w.varint(1, d); // dims
  w.varint(2, DataType.FLOAT); // data_type
  w.string(8, t.name); // name
  // raw_data is little-endian; copy so a view into a larger buffer writes only its own bytes
  let raw: Uint8Array;
  if (LITTLE_ENDIAN) raw = new Uint8Array(Float32Array.from(t.data).buffer);
  else {
    raw = new Uint8Array(size * 4);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < size; i++) view.setFloat32(i * 4, t.data[i]!, true);
  }
  w.bytes(9, raw); // raw_data
}

function writeAttribute(w: ProtoWriter, name: string, a: AttributeValue): void {
  w.string(1, name);
  switch (a.kind) {
    case 'float':
      w.float(2, a.value).varint(20, ATTR_FLOAT);
      break;
    case 'int':
      w.varint(3, a.value).varint(20, ATTR_INT);
      break;
    case 'string':
      w.string(4, a.value).varint(20, ATTR_STRING);
      break;
    case 'ints':
      for (const v of a.value) w.varint(8, v);
      w.varint(20, ATTR_INTS);
      break;
  }
}

function writeNode(w: ProtoWriter, n: OnnxNode): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.opType);
  for (const [name, a] of Object.entries(n.attributes ?? {})) w.message(5, (aw) => writeAttribute(aw, name, a));
}

function writeValueInfo(w: ProtoWriter, v: OnnxValueInfo): void {
  w.string(1, v.name);
  // TypeProto.tensor_type (1) → elem_type (1), shape (2) → TensorShapeProto.dim (1) → dim_value (1) | dim_param (2)
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.varint(1, DataType.FLOAT);
      tensor.message(2, (shape) => {
        for (const d of v.shape) shape.message(1, (dim) => (typeof d === 'number' ? dim.varint(1, d) : dim.string(2, d)));
      });
    }),
  );
}

function writeGraph(w: ProtoWriter, g: OnnxGraph): void {
  for (const n of g.nodes) w.message(1, (nw) => writeNode(nw, n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, (tw) => writeTensor(tw, t));
  for (const i of g.inputs) w.message(11, (vw) => writeValueInfo(vw, i));
  for (const o of g.outputs) w.message(12, (vw) => writeValueInfo(vw, o));
}

/** Serialises an onnx.ModelProto (opset 17, default domain). */
export function encodeModel(m: OnnxModel): Uint8Array {
  const w = new ProtoWriter();
  w.varint(1, IR_VERSION);
  w.string(2, m.producerName);
  w.string(3, m.producerVersion);
  if (m.docString) w.string(6, m.docString);
  w.message(7, (gw) => writeGraph(gw, m.graph));
  w.message(8, (ow) => ow.string(1, '').varint(2, OPSET_VERSION));
  for (const [key, value] of Object.entries(m.metadata ?? {})) w.message(14, (kv) => kv.string(1, key).string(2, value));
  return w.finish();
}
