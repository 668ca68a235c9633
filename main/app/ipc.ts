import type { Reply } from '../../shared/wire.js';
import type { Dispatch } from '../rpc/dispatcher.js';

/** The part of an IPC invoke event the gate looks at (Electron's IpcMainInvokeEvent has it). */
export interface InvokeEventLike {
  senderFrame: { url: string } | null;
}

/**
 * The main side of the one IPC channel: a request is answered only when it comes from the app window's main frame
 * (not from a subframe or some other webContents), and then goes through the same dispatcher, with the same
 * schema checks, as a WebSocket request does. It never throws, so the renderer always gets a Reply.
 */
export function createIpcHandler<E extends InvokeEventLike>(dispatch: Dispatch, isTrustedSender: (event: E) => boolean) {
  return async (event: E, method: unknown, params: unknown): Promise<Reply> => {
    if (!isTrustedSender(event)) {
      return { ok: false, error: { code: 'invalid-input', message: 'request refused: it did not come from the Curio window' } };
    }
    return dispatch(method, params);
  };
}
