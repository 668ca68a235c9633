/**
 * The whole bridge between the sandboxed renderer and main: `window.curio`, exactly the PreloadApi of shared/wire.ts.
 * Sandboxed preloads run as CommonJS and may require only `electron`, so the channel names are written out here;
 * test/main/app/preload.test.ts checks that they equal IPC_CHANNEL and IPC_EVENT_CHANNEL.
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import type { EventFrame, PreloadApi, Reply } from '../../shared/wire.js';

const RPC_CHANNEL = 'curio:rpc';
const EVENT_CHANNEL = 'curio:event';

const api: PreloadApi = {
  invoke(method: string, params: unknown): Promise<Reply> {
    return ipcRenderer.invoke(RPC_CHANNEL, method, params) as Promise<Reply>;
  },
  onEvent(listener: (name: string, payload: unknown) => void): () => void {
    // The renderer never sees the IpcRendererEvent (it holds `sender`, a way back into ipcRenderer).
    const forward = (_event: IpcRendererEvent, frame: EventFrame) => {
      if (frame && frame.type === 'event' && typeof frame.name === 'string') listener(frame.name, frame.payload);
    };
    ipcRenderer.on(EVENT_CHANNEL, forward);
    return () => {
      ipcRenderer.removeListener(EVENT_CHANNEL, forward);
    };
  },
  mediaBase: 'curio://media/',
  getPathForFile(file: File): string {
    try {
      return webUtils.getPathForFile(file);
    } catch {
      return '';
    }
  },
};

contextBridge.exposeInMainWorld('curio', api);
