// A decode worker thread: decodes the files the pool sends and answers with the result or the DecodeError text.
import { parentPort } from 'node:worker_threads';
import { DecodeError, type DecodeOptions, decodeImageBlockingRead } from './decode.js';
import type { DecodeReply, DecodeRequest } from './pool.js';

const port = parentPort;
if (!port) throw new Error('decode-worker.ts runs only as a worker thread');

port.on('message', (req: DecodeRequest) => {
  const options: DecodeOptions = { thumbnailDir: req.thumbnailDir, ...(req.maxPixels !== undefined ? { maxPixels: req.maxPixels } : {}) };
  decodeImageBlockingRead(req.path, options).then(
    (value) => port.postMessage({ id: req.id, ok: true, value } satisfies DecodeReply),
    (err: unknown) =>
      port.postMessage({
        id: req.id,
        ok: false,
        decodeError: err instanceof DecodeError,
        message: err instanceof Error ? err.message : String(err),
      } satisfies DecodeReply),
  );
});
