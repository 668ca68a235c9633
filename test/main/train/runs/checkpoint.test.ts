import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readCheckpoint, writeCheckpoint, type Checkpoint, type TensorData } from '../../../../main/train/runs/checkpoint.js';
import { makeTempDir, removeDir, REPO_ROOT } from '../../ingest/fixtures.js';

function tensor(shape: number[], seed: number): TensorData {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(seed * 1000 + i) * 10 ** ((i % 7) - 3);
  return { shape, data };
}

describe('checkpoint files', () => {
  let dir: string;
  beforeEach(() => (dir = makeTempDir('ckpt')));
  afterEach(() => removeDir(dir));

  it('round-trips meta and tensors bit for bit, including odd shapes, scalars and empty tensors', () => {
    const file = path.join(dir, 'nested', 'run.ckpt');
    const ckpt: Checkpoint<{ step: number; note: string }> = {
      meta: { step: 42, note: 'ünïcode ✓' },
      tensors: {
        'modules/backbone.conv.w': tensor([3, 3, 3, 5], 1),
        'modules/backbone.bn.mean': tensor([5], 2),
        'optimizer/slot': tensor([7, 1, 3], 3),
        scalar: { shape: [], data: Float32Array.of(-0.5) },
        empty: { shape: [0, 4], data: new Float32Array(0) },
      },
    };
    ckpt.tensors['special'] = { shape: [4], data: Float32Array.of(NaN, Infinity, -0, 1e-42) };
    writeCheckpoint(file, ckpt);
    const back = readCheckpoint<{ step: number; note: string }>(file);
    expect(back.meta).toEqual(ckpt.meta);
    expect(Object.keys(back.tensors)).toEqual(Object.keys(ckpt.tensors));
    for (const [name, t] of Object.entries(ckpt.tensors)) {
      expect(back.tensors[name]!.shape, name).toEqual(t.shape);
      // compare the raw bytes: NaN, -0 and denormals must survive exactly
      expect(Buffer.from(back.tensors[name]!.data.buffer).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), name).toBe(true);
    }
    expect(fs.readdirSync(path.dirname(file))).toEqual(['run.ckpt']);
  });

  it('reads a tensor that is a view into a larger buffer at an offset', () => {
    const big = new Float32Array(20).map((_, i) => i);
    const file = path.join(dir, 'view.ckpt');
    writeCheckpoint(file, { meta: {}, tensors: { v: { shape: [2, 3], data: big.subarray(5, 11) } } });
    expect(Array.from(readCheckpoint(file).tensors['v']!.data)).toEqual([5, 6, 7, 8, 9, 10]);
  });

  it('rejects a shape that does not match the data, a foreign file and a truncated file with clear errors', () => {
    const file = path.join(dir, 'c.ckpt');
    expect(() => writeCheckpoint(file, { meta: {}, tensors: { w: { shape: [2, 2], data: new Float32Array(3) } } })).toThrow(/shape 2,2 does not match 3 values/);
    expect(fs.existsSync(file)).toBe(false);
    fs.writeFileSync(file, 'not a checkpoint at all');
    expect(() => readCheckpoint(file)).toThrow(/not a Curio checkpoint/);
    writeCheckpoint(file, { meta: { a: 1 }, tensors: { w: tensor([100], 4) } });
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 10));
    expect(() => readCheckpoint(file)).toThrow(/truncated checkpoint/);
    expect(() => readCheckpoint(path.join(dir, 'missing.ckpt'))).toThrow(/cannot read checkpoint/);
  });

  it('a write that fails half-way leaves the previous checkpoint whole and no temp file behind', () => {
    const file = path.join(dir, 'run.ckpt');
    const good = { meta: { step: 1 }, tensors: { a: tensor([64], 5), b: tensor([64], 6) } };
    writeCheckpoint(file, good);
    // The second tensor fails while its bytes are being written: the header and the first tensor are already out.
    const failing = { length: 64, byteOffset: 0, byteLength: 256 } as unknown as Float32Array;
    Object.defineProperty(failing, 'buffer', {
      get() {
        throw new Error('disk on fire');
      },
    });
    expect(() => writeCheckpoint(file, { meta: { step: 2 }, tensors: { a: tensor([64], 7), b: { shape: [64], data: failing } } })).toThrow(/disk on fire/);
    const back = readCheckpoint<{ step: number }>(file);
    expect(back.meta.step).toBe(1);
    expect(Array.from(back.tensors['b']!.data)).toEqual(Array.from(good.tensors.b.data));
    expect(fs.readdirSync(dir)).toEqual(['run.ckpt']);
  });

  it('a process killed (SIGKILL) while writing leaves a readable checkpoint: the old one or the new one, whole', async () => {
    // A child rewrites a 16 MB checkpoint in a loop, each version filled with its own step number; we kill it
    // at several moments and every time the file on disk must be one complete version.
    const file = path.join(dir, 'loop.ckpt');
    const script = path.join(dir, 'writer.ts');
    const checkpointModule = path.join(REPO_ROOT, 'main', 'train', 'runs', 'checkpoint.ts');
    fs.writeFileSync(
      script,
      `import { writeCheckpoint } from ${JSON.stringify(checkpointModule)};
       const data = new Float32Array(4 * 1024 * 1024);
       for (let step = 1; ; step++) {
         data.fill(step);
         writeCheckpoint(${JSON.stringify(file)}, { meta: { step }, tensors: { w: { shape: [data.length], data } } });
         if (step === 1) process.stdout.write('first\\n');
       }`,
    );
    for (const delayMs of [5, 60, 170]) {
      const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        child.on('error', reject);
        child.stdout!.once('data', () => resolve());
      });
      await new Promise((r) => setTimeout(r, delayMs));
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGKILL');
      await exited;
      const back = readCheckpoint<{ step: number }>(file);
      const w = back.tensors['w']!.data;
      expect(w.length).toBe(4 * 1024 * 1024);
      expect(w[0]).toBe(back.meta.step);
      expect(w[w.length - 1]).toBe(back.meta.step);
      expect(w.every((v) => v === back.meta.step)).toBe(true);
    }
  }, 60_000);
});
