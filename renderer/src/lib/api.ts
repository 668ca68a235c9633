/**
 * The renderer's only way to reach main: a typed client for the contract in shared/. Two transports offer the same
 * surface (PreloadApi): Electron's preload on `window.curio`, or a WebSocket to `curio serve` in a plain browser.
 * Which one is picked once, at start.
 */
import type { EventName, EventPayload, RequestInput, RequestName, RequestOutput, RpcError } from '../../../shared/contract/index.js';
import { events } from '../../../shared/contract/events.js';
import { mediaPaths, WS_PATH, type EventFrame, type PreloadApi, type Reply, type RequestFrame, type ResponseFrame } from '../../../shared/wire.js';

declare global {
  interface Window {
    curio?: PreloadApi;
  }
}

/** An error reply from main; `message` is written for the user. */
export class ApiError extends Error {
  readonly code: RpcError['code'];
  constructor(error: RpcError) {
    super(error.message);
    this.name = 'ApiError';
    this.code = error.code;
  }
}

export type ConnectionState = 'connecting' | 'open' | 'closed';

interface Pending {
  resolve: (reply: Reply) => void;
  frame: RequestFrame;
}

const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5000;

/**
 * The browser transport: one WebSocket, request ids matched to replies, events fanned out. When the socket drops,
 * requests in flight fail (their answer is lost) and new ones wait for the reconnect, which backs off up to 5 s.
 */
class WebSocketTransport implements PreloadApi {
  readonly mediaBase = '/';
  private socket: WebSocket | null = null;
  private nextId = 1;
  private readonly inFlight = new Map<number, Pending>();
  private readonly queued: Pending[] = [];
  private readonly listeners = new Set<(name: string, payload: unknown) => void>();
  private readonly stateListeners = new Set<(state: ConnectionState, detail: string) => void>();
  private retryMs = RECONNECT_MIN_MS;
  state: ConnectionState = 'connecting';
  detail = '';

  constructor(private readonly url: string) {
    this.connect();
  }

  invoke(method: string, params: unknown): Promise<Reply> {
    return new Promise((resolve) => {
      const pending: Pending = { resolve, frame: { type: 'request', id: this.nextId++, method, params } };
      if (this.socket?.readyState === WebSocket.OPEN) this.send(pending);
      else this.queued.push(pending);
    });
  }

  onEvent(listener: (name: string, payload: unknown) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onState(listener: (state: ConnectionState, detail: string) => void): () => void {
    this.stateListeners.add(listener);
    listener(this.state, this.detail);
    return () => this.stateListeners.delete(listener);
  }

  getPathForFile(): string {
    return '';
  }

  private setState(state: ConnectionState, detail: string): void {
    this.state = state;
    this.detail = detail;
    for (const l of this.stateListeners) l(state, detail);
  }

  private send(pending: Pending): void {
    this.inFlight.set(pending.frame.id, pending);
    this.socket!.send(JSON.stringify(pending.frame));
  }

  private connect(): void {
    this.setState('connecting', '');
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.onopen = () => {
      this.retryMs = RECONNECT_MIN_MS;
      this.setState('open', '');
      for (const p of this.queued.splice(0)) this.send(p);
    };
    socket.onmessage = (ev) => this.receive(ev.data);
    socket.onclose = () => {
      for (const [, p] of this.inFlight) {
        p.resolve({ ok: false, error: { code: 'failed', message: `${p.frame.method}: the connection to Curio dropped before it answered` } });
      }
      this.inFlight.clear();
      this.socket = null;
      this.setState('closed', 'Lost the connection to Curio; reconnecting…');
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(RECONNECT_MAX_MS, this.retryMs * 2);
    };
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string') return;
    let frame: ResponseFrame | EventFrame;
    try {
      frame = JSON.parse(data) as ResponseFrame | EventFrame;
    } catch {
      return;
    }
    if (frame.type === 'response') {
      const pending = this.inFlight.get(frame.id);
      if (!pending) return;
      this.inFlight.delete(frame.id);
      pending.resolve(frame.ok ? { ok: true, result: frame.result } : { ok: false, error: frame.error });
    } else if (frame.type === 'event') {
      for (const l of this.listeners) l(frame.name, frame.payload);
    }
  }
}

function browserSocketUrl(): string {
  const token = new URLSearchParams(location.search).get('token');
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  // Without ?token= the HttpOnly cookie set on the first page load authenticates the upgrade.
  return `${scheme}//${location.host}${WS_PATH}${token ? `?token=${encodeURIComponent(token)}` : ''}`;
}

export type EventHandler<N extends EventName> = (payload: EventPayload<N>) => void;

export class Api {
  readonly mode: 'electron' | 'browser';
  private readonly transport: PreloadApi;
  private readonly socket: WebSocketTransport | null;
  private readonly handlers = new Map<EventName, Set<(payload: never) => void>>();

  constructor(preload: PreloadApi | undefined) {
    if (preload) {
      this.mode = 'electron';
      this.transport = preload;
      this.socket = null;
    } else {
      this.mode = 'browser';
      this.socket = new WebSocketTransport(browserSocketUrl());
      this.transport = this.socket;
    }
    this.transport.onEvent((name, payload) => this.dispatchEvent(name, payload));
  }

  /** Calls one request of the contract; throws ApiError with main's message when it answers with an error. */
  async call<N extends RequestName>(name: N, input: RequestInput<N>): Promise<RequestOutput<N>> {
    const reply = await this.transport.invoke(name, input);
    if (!reply.ok) throw new ApiError(reply.error);
    return reply.result as RequestOutput<N>;
  }

  /** Subscribes to an event main pushes; returns the unsubscribe function. */
  on<N extends EventName>(name: N, handler: EventHandler<N>): () => void {
    let set = this.handlers.get(name);
    if (!set) this.handlers.set(name, (set = new Set()));
    set.add(handler as (payload: never) => void);
    return () => set.delete(handler as (payload: never) => void);
  }

  /** Connection state of the browser transport; Electron IPC is always open. */
  onConnection(listener: (state: ConnectionState, detail: string) => void): () => void {
    if (!this.socket) {
      listener('open', '');
      return () => {};
    }
    return this.socket.onState(listener);
  }

  thumbnailUrl(sha256: string): string {
    return this.transport.mediaBase + mediaPaths.thumbnail(sha256);
  }

  originalUrl(imageId: number): string {
    return this.transport.mediaBase + mediaPaths.original(imageId);
  }

  /** Filesystem path of a dropped file or folder; '' in a plain browser, which never reveals it. */
  pathForFile(file: File): string {
    return this.transport.getPathForFile(file);
  }

  private dispatchEvent(name: string, payload: unknown): void {
    if (!Object.prototype.hasOwnProperty.call(events, name)) return;
    const eventName = name as EventName;
    const set = this.handlers.get(eventName);
    if (!set || set.size === 0) return;
    // Main is trusted, but an event from a newer or older build must not corrupt the UI's state.
    const parsed = events[eventName].safeParse(payload);
    if (!parsed.success) {
      console.warn(`Curio: ignored a malformed ${eventName} event`, parsed.error.issues[0]?.message);
      return;
    }
    for (const h of set) (h as (p: unknown) => void)(parsed.data);
  }
}

/** Message for any error a call may throw, for showing to the user. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

export const api = new Api(typeof window !== 'undefined' ? window.curio : undefined);
