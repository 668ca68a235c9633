import fs from 'node:fs';
import path from 'node:path';

/** A named tensor as plain data: what crosses threads and lands on disk. */
export interface TensorData {
  shape: number[];
  data: Float32Array;
}

export interface Checkpoint<M = unknown> {
  meta: M;
  tensors: Record<string, TensorData>;
}

const MAGIC = Buffer.from('CURIOCK1');

/**
 * Writes a checkpoint atomically: the bytes go to a temporary file in the same folder, are flushed to disk, and then
 * renamed over the target, so a kill at any moment leaves either the old checkpoint or the new one, whole.
 * Layout: magic, u32 header length, JSON header {meta, tensors:[{name, shape, offset, length}]}, float32 data.
 */
export function writeCheckpoint<M>(file: string, checkpoint: Checkpoint<M>): void {
  const entries: { name: string; shape: number[]; offset: number; length: number }[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(checkpoint.tensors)) {
    const expected = t.shape.reduce((a, b) => a * b, 1);
    if (expected !== t.data.length) throw new Error(`checkpoint tensor ${name}: shape ${t.shape} does not match ${t.data.length} values`);
    entries.push({ name, shape: t.shape, offset, length: t.data.length });
    offset += t.data.length;
  }
  const header = Buffer.from(JSON.stringify({ meta: checkpoint.meta, tensors: entries }));
  const headerLen = Buffer.alloc(4);
  headerLen.writeUInt32LE(header.length);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, MAGIC);
    fs.writeSync(fd, headerLen);
    fs.writeSync(fd, header);
    // align data to 4 bytes from the start of the data section by construction (each tensor is float32)
    for (const [, t] of Object.entries(checkpoint.tensors)) {
      fs.writeSync(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
    fs.fsyncSync(fd);
  } catch (err) {
    // a failed write (disk full, I/O error) must not leave a half file that looks like a checkpoint in the making
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}

export function readCheckpoint<M>(file: string): Checkpoint<M> {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read checkpoint ${file}: ${(err as Error).message}`);
  }
  if (buf.length < 12 || !buf.subarray(0, 8).equals(MAGIC)) throw new Error(`not a Curio checkpoint: ${file}`);
  const headerLen = buf.readUInt32LE(8);
  if (12 + headerLen > buf.length) throw new Error(`truncated checkpoint: ${file}`);
  const header = JSON.parse(buf.subarray(12, 12 + headerLen).toString()) as {
    meta: M;
    tensors: { name: string; shape: number[]; offset: number; length: number }[];
  };
  const dataStart = 12 + headerLen;
  const tensors: Record<string, TensorData> = {};
  for (const e of header.tensors) {
    const start = dataStart + e.offset * 4;
    const end = start + e.length * 4;
    if (end > buf.length) throw new Error(`truncated checkpoint: ${file} (tensor ${e.name})`);
    // copy into an aligned buffer: the data section need not start at a multiple of 4
    const data = new Float32Array(e.length);
    new Uint8Array(data.buffer).set(buf.subarray(start, end));
    tensors[e.name] = { shape: e.shape, data };
  }
  return { meta: header.meta, tensors };
}
