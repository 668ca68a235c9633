import { parentPort, workerData } from 'node:worker_threads';
import { runSession, type SessionControl } from './session.js';
import type { ControlMessage, SessionInput, WorkerMessage } from './protocol.js';

/**
 * The training thread. It owns the tfjs engine, so training never blocks the app's main thread; only plain data
 * crosses the port (metrics, logs, control), never tensors.
 */
if (!parentPort) throw new Error('worker.ts runs as a worker thread');
const port = parentPort;
const post = (m: WorkerMessage) => port.postMessage(m);

let pauseRequested = false;
let stopRequested = false;
let wake: (() => void) | null = null;

const control: SessionControl = {
  get stopRequested() {
    return stopRequested;
  },
  get pauseRequested() {
    return pauseRequested;
  },
  waitForResume() {
    if (!pauseRequested || stopRequested) return Promise.resolve();
    return new Promise<void>((resolve) => (wake = resolve));
  },
};

port.on('message', (m: ControlMessage) => {
  if (m.type === 'pause') pauseRequested = true;
  if (m.type === 'resume') pauseRequested = false;
  if (m.type === 'stop') stopRequested = true;
  if ((m.type === 'resume' || m.type === 'stop') && wake) {
    const w = wake;
    wake = null;
    w();
  }
});

runSession(workerData as SessionInput, post, control).then(
  (summary) => post({ type: 'done', summary, stopped: stopRequested }),
  (err: unknown) => post({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
);
