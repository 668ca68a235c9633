import * as tf from '@tensorflow/tfjs';

/**
 * tfjs-backend-wasm 4.22 places every tensor with `wasm._malloc(bytes) >>> 0` and never checks the result. Its heap
 * is wasm32 memory, at most 4 GiB; once that is full, malloc returns 0 (NULL) and the tensor is "placed" at address
 * 0, over the module's own static data (XNNPACK's function-pointer tables among it). The next kernels then fail far
 * from the cause, as "RuntimeError: table index is out of bounds" or "Aborted()", and the backend stays broken
 * for the rest of the process. Seen with DINO on a ViT: its 65,536-way head makes one step need over 4 GiB of
 * tensors even at batch 8.
 *
 * guardWasmHeap makes that allocation throw a plain Error instead, before anything is written: the engine's tidy
 * scopes then free the step's tensors, the backend stays usable, and the run fails with a message that says what
 * ran out and what to change.
 */
export class WasmHeapExhaustedError extends Error {
  constructor(bytes: number, heapBytes: number) {
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    super(
      `the wasm backend's memory is full (${mib(heapBytes)}, wasm32's 4 GiB limit): a ${mib(bytes)} tensor did not fit beside ` +
        `${mib(tf.memory().numBytes)} of live tensors; lower the batch size, image size, crop count or head size, or use the native backend`,
    );
    this.name = 'WasmHeapExhaustedError';
  }
}

interface WasmModuleLike {
  _malloc: (bytes: number) => number;
  HEAPU8: Uint8Array;
  /** the instance's exports; `_malloc` starts as an Emscripten stub that, on its first call, replaces itself with asm.malloc */
  asm?: { malloc?: (bytes: number) => number };
}

const guarded = new WeakSet<object>();

/** Wraps the active wasm backend's allocator once; call after tf.setBackend('wasm'). Returns whether it is guarded. */
export function guardWasmHeap(): boolean {
  const backend = tf.findBackend('wasm') as unknown as { wasm?: WasmModuleLike } | undefined;
  const wasm = backend?.wasm;
  if (!wasm || typeof wasm._malloc !== 'function') return false;
  if (guarded.has(wasm)) return true;
  // Call the export itself: the stub would overwrite Module._malloc, and with it this guard, on first use.
  const malloc = wasm.asm?.malloc ?? wasm._malloc.bind(wasm);
  wasm._malloc = (bytes: number): number => {
    const offset = malloc(bytes);
    if (offset === 0 && bytes > 0) throw new WasmHeapExhaustedError(bytes, wasm.HEAPU8.length);
    return offset;
  };
  guarded.add(wasm);
  return true;
}
