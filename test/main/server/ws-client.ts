// A WebSocket client for the transport tests that hands out incoming frames one at a time, in order.
import WebSocket from 'ws';

export class FrameReader {
  private readonly queue: { data: string; isBinary: boolean }[] = [];
  private waiter: (() => void) | null = null;
  closed: { code: number; reason: string } | null = null;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      this.queue.push({ data: (data as Buffer).toString(), isBinary });
      this.waiter?.();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.waiter?.();
    });
  }

  static async connect(url: string, headers: Record<string, string> = {}): Promise<FrameReader> {
    const ws = new WebSocket(url, { headers, maxPayload: 64 * 1024 * 1024 });
    const reader = new FrameReader(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return reader;
  }

  /** The next frame as parsed JSON (the raw text when it is not JSON); rejects on close or after timeoutMs. */
  async next(timeoutMs = 10_000): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = null;
    }
    const { data } = this.queue.shift()!;
    try {
      return JSON.parse(data) as unknown;
    } catch {
      return data;
    }
  }

  /** The next frame that is not a pushed event (events interleave with replies). */
  async nextResponse(timeoutMs = 10_000): Promise<unknown> {
    for (;;) {
      const frame = await this.next(timeoutMs);
      if (!(frame && typeof frame === 'object' && (frame as { type?: unknown }).type === 'event')) return frame;
    }
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

/** Opens a WebSocket and reports how the server answered the upgrade: 101 (opened) or the HTTP status it sent. */
export async function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', (err) => reject(err));
  });
}
