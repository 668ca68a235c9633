/**
 * The frames both transports carry. Electron IPC sends them through one prefixed channel; the WebSocket
 * sends them as JSON text. A response always says ok or not, so an error never throws across the boundary.
 */
import type { RpcError } from './contract/common.js';

export const IPC_CHANNEL = 'curio:rpc';
export const IPC_EVENT_CHANNEL = 'curio:event';
export const WS_PATH = '/rpc';

export interface RequestFrame {
  type: 'request';
  id: number;
  method: string;
  params: unknown;
}
export type ResponseFrame =
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: RpcError };
export interface EventFrame {
  type: 'event';
  name: string;
  payload: unknown;
}
export type Reply = { ok: true; result: unknown } | { ok: false; error: RpcError };
