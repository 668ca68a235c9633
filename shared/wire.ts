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

/**
 * What the Electron preload exposes on `window.curio` through contextBridge: one call, one event stream, and the
 * two things only the preload can do. The browser transport offers the same surface over the WebSocket.
 */
export interface PreloadApi {
  invoke(method: string, params: unknown): Promise<Reply>;
  onEvent(listener: (name: string, payload: unknown) => void): () => void;
  /** Where media is served: thumbnails at `${mediaBase}thumbs/<sha256>.webp`, originals at `${mediaBase}images/<id>`. */
  mediaBase: string;
  /** The filesystem path of a dropped File (Electron's webUtils.getPathForFile); '' where unknown. */
  getPathForFile(file: File): string;
}

/** Media URLs relative to a transport's mediaBase ('/' in browser mode, 'curio://media/' in Electron). */
export const mediaPaths = {
  thumbnail: (sha256: string) => `thumbs/${sha256}.webp`,
  original: (imageId: number) => `images/${imageId}`,
};
