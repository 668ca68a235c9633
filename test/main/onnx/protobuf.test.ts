import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { encodeModel, type OnnxModel } from '../../../main/onnx/model.js';
import { ProtoWriter, encodeVarint } from '../../../main/onnx/protobuf.js';
import { createOnnxEmbedder } from '../../../main/onnx/runtime.js';

describe('protobuf wire encoding', () => {
  it('varints as in the protobuf encoding guide', () => {
    expect([...encodeVarint(0n)]).toEqual([0]);
    expect([...encodeVarint(1n)]).toEqual([1]);
    expect([...encodeVarint(150n)]).toEqual([0x96, 0x01]);
    expect([...encodeVarint(300n)]).toEqual([0xac, 0x02]);
    // int64 -1 is ten bytes of two's complement
    expect([...new ProtoWriter().varint(1, -1).finish()]).toEqual([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(() => new ProtoWriter().varint(1, 1.5)).toThrow(/integer/);
  });

  it('tags, length-delimited strings, fixed32 floats and nested messages', () => {
    // field 1 = 150, field 2 = "testing" (the guide's examples), field 3 = float 1.0, field 4 = { field 1 = 150 }
    const bytes = new ProtoWriter()
      .varint(1, 150)
      .string(2, 'testing')
      .float(3, 1)
      .message(4, (w) => w.varint(1, 150))
      .finish();
    expect(Buffer.from(bytes).toString('hex')).toBe(`089601` + `120774657374696e67` + `1d0000803f` + `2203089601`);
  });
});

describe('ModelProto round trip through onnxruntime', () => {
  // y = transpose(relu(x + b)): an initializer, nodes with and without attributes, symbolic and fixed dims
  const model: OnnxModel = {
    producerName: 'curio-test',
    producerVersion: '1',
    metadata: { backbone: 'none' },
    graph: {
      name: 'tiny',
      nodes: [
        { opType: 'Add', name: 'add', inputs: ['x', 'b'], outputs: ['s'] },
        { opType: 'Relu', name: 'relu', inputs: ['s'], outputs: ['t'] },
        { opType: 'Transpose', name: 'tr', inputs: ['t'], outputs: ['y'], attributes: { perm: { kind: 'ints', value: [1, 0] } } },
      ],
      initializers: [{ name: 'b', dims: [3], data: Float32Array.from([1, -2, 0.5]) }],
      inputs: [{ name: 'x', shape: ['batch', 3] }],
      outputs: [{ name: 'y', shape: [3, 'batch'] }],
    },
  };

  it('loads, names its input and output with their shapes, and computes', async () => {
    const session = await ort.InferenceSession.create(encodeModel(model));
    try {
      expect(session.inputNames).toEqual(['x']);
      expect(session.outputNames).toEqual(['y']);
      const input = session.inputMetadata[0]!;
      const output = session.outputMetadata[0]!;
      expect(input.isTensor && input.shape).toEqual(['batch', 3]);
      expect(output.isTensor && output.shape).toEqual([3, 'batch']);
      const x = new ort.Tensor('float32', Float32Array.from([0, 0, 0, 1, 1, 1]), [2, 3]);
      const { y } = await session.run({ x });
      expect(y!.dims).toEqual([3, 2]);
      expect(Array.from(y!.data as Float32Array)).toEqual([1, 2, 0, 0, 0.5, 1.5]);
    } finally {
      await session.release();
    }
  });

  it('an initializer whose size does not match its dims is refused when writing', () => {
    const bad: OnnxModel = { ...model, graph: { ...model.graph, initializers: [{ name: 'b', dims: [4], data: new Float32Array(3) }] } };
    expect(() => encodeModel(bad)).toThrow(/3 values for dims \[4\]/);
  });

  it('a missing or malformed encoder file gets a clear error', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-onnx-'));
    try {
      await expect(createOnnxEmbedder(path.join(dir, 'nope.onnx'))).rejects.toThrow(/does not exist/);
      fs.writeFileSync(path.join(dir, 'junk.onnx'), 'not a model');
      await expect(createOnnxEmbedder(path.join(dir, 'junk.onnx'))).rejects.toThrow(/cannot load ONNX encoder .*junk\.onnx/);
      await expect(createOnnxEmbedder(dir)).rejects.toThrow(/neither model\.onnx nor a Curio model\.json/);
      // a model that is not an image encoder
      fs.writeFileSync(path.join(dir, 'tiny.onnx'), encodeModel(model));
      await expect(createOnnxEmbedder(path.join(dir, 'tiny.onnx'))).rejects.toThrow(/must take \[N, S, S, 3\] images/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
