// A worker thread of ort-pool.ts: one ONNX Runtime session with one intra-op thread, embedding what it is sent.
import { parentPort, workerData } from 'node:worker_threads';
import { createOnnxEmbedderFromBytes } from '../onnx/runtime.js';

export interface OrtWorkerData {
  bytes: Uint8Array;
  label: string;
}
export interface OrtRequest {
  id: number;
  x: Float32Array;
  n: number;
}
export type OrtReply = { id: number; y: Float32Array } | { id: number; error: string } | { ready: true } | { failed: string };

const data = workerData as OrtWorkerData;
const port = parentPort!;
createOnnxEmbedderFromBytes(data.bytes, { threads: 1 }, data.label).then(
  (ort) => {
    port.on('message', (req: OrtRequest) => {
      ort.embed(req.x, req.n).then(
        (y) => port.postMessage({ id: req.id, y } satisfies OrtReply, [y.buffer as ArrayBuffer]),
        (err: unknown) => port.postMessage({ id: req.id, error: (err as Error).message } satisfies OrtReply),
      );
    });
    port.postMessage({ ready: true } satisfies OrtReply);
  },
  (err: unknown) => port.postMessage({ failed: (err as Error).message } satisfies OrtReply),
);
