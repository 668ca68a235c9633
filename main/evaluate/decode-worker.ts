// The worker thread of decode-worker-pool.ts: reads files and decodes those the JS JPEG decoder takes. Imports
// nothing native (no sharp), so that it starts in a few milliseconds.
import fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { decodeBaselineJpeg, isDecodedAsIs } from './jpeg-baseline.js';

export interface DecodeRequest {
  id: number;
  paths: string[];
  size: number;
}

export interface DecodeReply {
  id: number;
  out: Float32Array;
  /** 1 where the image was decoded here; the caller decodes the rest (and reports unreadable files) */
  done: Uint8Array;
}

parentPort?.on('message', (req: DecodeRequest) => {
  const per = req.size * req.size * 3;
  const out = new Float32Array(req.paths.length * per);
  const done = new Uint8Array(req.paths.length);
  req.paths.forEach((p, i) => {
    let b: Buffer;
    try {
      b = fs.readFileSync(p);
    } catch {
      return;
    }
    if (isDecodedAsIs(b, req.size) && decodeBaselineJpeg(b, req.size, out, i * per)) done[i] = 1;
  });
  const reply: DecodeReply = { id: req.id, out, done };
  parentPort!.postMessage(reply, [out.buffer, done.buffer]);
});
