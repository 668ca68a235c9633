/** Slots of the Int32 control block shared by the softmax objective and its workers. */
export const CONTROL = { generation: 0, rows: 1, done: 2, stop: 3, failed: 4, ready: 5, length: 6 } as const;

export interface SoftmaxWorkerData {
  control: Int32Array;
  X: Float32Array;
  labels: Int32Array;
  dim: number;
  numClasses: number;
  params: Float64Array;
  /** This worker's gradient buffer. */
  grad: Float64Array;
  /** One loss slot per thread (slot 0 is the calling thread's). */
  losses: Float64Array;
  index: number;
  threads: number;
}

/** Thread t's share [start, end) of rows [0, rows), cut at multiples of 4 so the row blocks stay whole. */
export function workerRows(rows: number, t: number, threads: number): [number, number] {
  const blocks = Math.ceil(rows / 4);
  const cut = (k: number) => Math.min(rows, 4 * Math.floor((blocks * k) / threads));
  return [cut(t), t === threads - 1 ? rows : cut(t + 1)];
}
