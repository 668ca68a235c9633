// A worker thread of ort-pool.ts: one ONNX Runtime session with one intra-op thread, embedding what it is sent.
import { parentPort, workerData } from 'node:worker_threads';
import { createOnnxEmbedderFromBytes } from '../onnx/runtime.js';

export interface OrtWorkerData {
  bytes: Uint8Array;
  label: string;
}
export type OrtRequest = { id: number; x: Float32Array; n: number } | { close: true };
export type OrtReply = { id: number; y: Float32Array } | { id: number; error: string } | { ready: true } | { failed: string };

const data = workerData as OrtWorkerData;
const port = parentPort!;
createOnnxEmbedderFromBytes(data.bytes, { threads: 1 }, data.label).then(
  (ort) => {
    // a worker terminated inside a native run aborts the whole process, so closing waits for the runs to finish,
    // releases the session and lets the thread end by itself
    let busy = 0;
    let closing = false;
    const finish = async () => {
      if (!closing || busy > 0) return;
      closing = false;
      await ort.close();
      port.close();
    };
    port.on('message', (req: OrtRequest) => {
      if ('close' in req) {
        closing = true;
        void finish();
        return;
      }
      busy++;
      ort
        .embed(req.x, req.n)
        .then(
          (y) => port.postMessage({ id: req.id, y } satisfies OrtReply, [y.buffer as ArrayBuffer]),
          (err: unknown) => port.postMessage({ id: req.id, error: (err as Error).message } satisfies OrtReply),
        )
        .finally(() => {
          busy--;
          void finish();
        });
    });
    port.postMessage({ ready: true } satisfies OrtReply);
  },
  (err: unknown) => port.postMessage({ failed: (err as Error).message } satisfies OrtReply),
);
