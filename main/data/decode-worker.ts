import { parentPort } from 'node:worker_threads';
import { decodeRgb } from './decode.js';

/**
 * Decodes image files with sharp off the training thread. Two requests:
 * - a batch (DataLoader): Float32Array NHWC in [0, 1], transferred back, undecodable files left black and named;
 * - `into` (ImageCache): 8-bit RGB written straight into a SharedArrayBuffer at image slots `first…`, so the
 *   decoded bytes never pass through the training thread; the first undecodable file fails the request.
 */
export interface DecodeRequest {
  id: number;
  paths: string[];
  size: number;
}
export interface DecodeReply {
  id: number;
  x: Float32Array;
  /** positions in the batch that could not be decoded (left black), with the reason */
  failed: { at: number; reason: string }[];
}
export interface DecodeIntoRequest {
  id: number;
  into: SharedArrayBuffer;
  /** slot of paths[0] in `into`; slot i starts at byte i·size·size·3 */
  first: number;
  paths: string[];
  size: number;
}
export interface DecodeIntoReply {
  id: number;
  done: number;
}

// No sharp.concurrency()/cache() here: both are process-wide libvips settings, and a run's workers share the app's
// process, so they would change every other decode in the app (imports, thumbnails).

const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!;

async function decodeBatch({ id, paths, size }: DecodeRequest): Promise<DecodeReply> {
  const per = size * size * 3;
  const x = new Float32Array(paths.length * per);
  const failed: DecodeReply['failed'] = [];
  for (let i = 0; i < paths.length; i++) {
    try {
      const data = await decodeRgb(paths[i]!, size, 'truncated');
      const offset = i * per;
      for (let j = 0; j < per; j++) x[offset + j] = data[j]! / 255;
    } catch (err) {
      failed.push({ at: i, reason: firstLine(err) });
    }
  }
  return { id, x, failed };
}

/** Decodes a few files at once: sharp hands each to a libvips thread, so this thread would otherwise sit idle. */
const IN_FLIGHT = 4;

async function decodeInto({ id, into, first, paths, size }: DecodeIntoRequest): Promise<DecodeIntoReply> {
  const per = size * size * 3;
  const bytes = new Uint8Array(into);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < paths.length; i = next++) {
      let data: Uint8Array;
      try {
        data = await decodeRgb(paths[i]!, size);
      } catch (err) {
        throw new Error(`cannot decode ${paths[i]}: ${firstLine(err)}`);
      }
      bytes.set(data, (first + i) * per);
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, paths.length) }, lane));
  return { id, done: paths.length };
}

parentPort?.on('message', (req: DecodeRequest | DecodeIntoRequest) => {
  if ('into' in req) {
    decodeInto(req).then(
      (reply) => parentPort!.postMessage(reply),
      (err: unknown) => parentPort!.postMessage({ id: req.id, error: firstLine(err) }),
    );
    return;
  }
  decodeBatch(req).then(
    (reply) => parentPort!.postMessage(reply, [reply.x.buffer as ArrayBuffer]),
    (err: unknown) => parentPort!.postMessage({ id: req.id, error: String(err) }),
  );
});
