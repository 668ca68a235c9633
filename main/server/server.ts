import { randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import { WS_PATH, type EventFrame, type ResponseFrame } from '../../shared/wire.js';
import { CurioError } from '../common/errors.js';
import { thumbnailPath } from '../ingest/decode.js';
import { createServiceDispatcher } from '../rpc/handlers.js';
import type { Services } from '../services.js';

/** Loopback unless the caller asks otherwise: a page on another machine must not reach the catalog. */
export const DEFAULT_HOST = '127.0.0.1';

export interface ServerOptions {
  /** DEFAULT_HOST (127.0.0.1) unless given */
  host?: string;
  port: number;
  /** fixed token (tests); a random one otherwise */
  token?: string;
  /** folder with the built renderer; found next to the build by default */
  rendererDir?: string;
}

export interface RunningServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const COOKIE = 'curio_token';
const RequestFrameSchema = z.object({
  type: z.literal('request'),
  id: z.number().int().nonnegative(),
  method: z.string().max(200),
  params: z.unknown(),
});

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

export function findRendererDir(): string | null {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // Compiled, the server sits in dist/main/server and the UI in dist/renderer; from the sources (tsx) it is
  // dist/renderer again. Only a built UI counts: the source renderer/ also has an index.html, which cannot run.
  for (const candidate of [path.resolve(here, '../../renderer'), path.resolve(here, '../../dist/renderer')]) {
    if (fs.existsSync(path.join(candidate, 'index.html')) && fs.existsSync(path.join(candidate, 'assets'))) return candidate;
  }
  return null;
}

/**
 * Headless mode: the renderer and the contract over HTTP and a WebSocket. It listens on loopback by default and
 * requires the random token from the printed URL; it rejects any Host or Origin but its own, so a web page in the
 * user's browser cannot reach it (DNS rebinding, cross-site WebSocket hijacking).
 */
export async function startServer(services: Services, options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? DEFAULT_HOST;
  const token = options.token ?? randomBytes(24).toString('hex');
  const rendererDir = options.rendererDir ?? findRendererDir();
  const dispatch = createServiceDispatcher(services);
  let allowedHosts = new Set<string>();

  const server = http.createServer((req, res) => {
    handleHttp(req, res).catch((err) => {
      services.bus.log('error', 'server', `HTTP ${req.url}: ${(err as Error).message}`);
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error');
      else res.destroy();
    });
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });

  const authorized = (req: http.IncomingMessage, url: URL): boolean => {
    const given = url.searchParams.get('token') ?? readCookie(req.headers.cookie, COOKIE);
    return given !== null && safeEqual(given, token);
  };
  const hostAllowed = (req: http.IncomingMessage) => allowedHosts.has((req.headers.host ?? '').toLowerCase());
  const originAllowed = (req: http.IncomingMessage) => {
    const origin = req.headers.origin;
    if (origin === undefined) return true; // non-browser clients send none; the token still guards them
    try {
      const o = new URL(origin);
      return (o.protocol === 'http:' || o.protocol === 'https:') && allowedHosts.has(o.host.toLowerCase());
    } catch {
      return false;
    }
  };

  async function handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!hostAllowed(req)) return send(res, 421, 'text/plain; charset=utf-8', 'unknown Host');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed');
    const url = requestUrl(req);
    if (!url) return send(res, 400, 'text/plain; charset=utf-8', 'malformed request target');
    if (!authorized(req, url)) {
      return send(res, 401, 'text/plain; charset=utf-8', 'Curio: missing or wrong token. Open the URL that `curio serve` printed.');
    }
    const headers: Record<string, string> = {};
    if (url.searchParams.has('token')) {
      headers['Set-Cookie'] = `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`;
    }
    const thumb = /^\/thumbs\/([0-9a-f]{64})\.webp$/.exec(url.pathname);
    if (thumb) return sendFile(res, thumbnailPath(services.thumbnailDir, thumb[1]!), 'image/webp', { ...headers, 'Cache-Control': 'private, max-age=31536000, immutable' });
    const original = /^\/images\/([1-9]\d{0,14})$/.exec(url.pathname);
    if (original) {
      let image: { path: string };
      try {
        image = services.catalog.getImage(Number(original[1]));
      } catch (err) {
        if (err instanceof CurioError && err.code === 'not-found') return send(res, 404, 'text/plain; charset=utf-8', 'no such image');
        throw err;
      }
      const type = MIME[path.extname(image.path).toLowerCase()] ?? 'application/octet-stream';
      return sendFile(res, image.path, type.startsWith('image/') ? type : 'application/octet-stream', headers);
    }
    if (!rendererDir) {
      return send(res, 503, 'text/plain; charset=utf-8', 'The renderer is not built. Run `npm run build`, then restart `curio serve`.');
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(url.pathname);
    } catch {
      return send(res, 400, 'text/plain; charset=utf-8', 'malformed path');
    }
    const rel = url.pathname === '/' ? 'index.html' : decoded.replace(/^\/+/, '');
    const file = path.resolve(rendererDir, rel);
    if (!file.startsWith(rendererDir + path.sep)) return send(res, 404, 'text/plain; charset=utf-8', 'not found');
    const type = MIME[path.extname(file)] ?? 'application/octet-stream';
    if (type.startsWith('text/html')) {
      headers['Content-Security-Policy'] = contentSecurityPolicy();
    }
    return sendFile(res, file, type, headers);
  }

  server.on('upgrade', (req, socket, head) => {
    const url = requestUrl(req);
    if (!url || url.pathname !== WS_PATH || !hostAllowed(req) || !originAllowed(req) || !authorized(req, url)) {
      socket.write('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket) => {
    // ws reports a protocol violation (a frame over maxPayload, invalid UTF-8) as an 'error' event and then closes
    // the socket; without a listener that event would throw and take the whole server down.
    ws.on('error', (err) => services.bus.log('warn', 'server', `WebSocket client dropped: ${err.message}`));
    ws.on('message', (data, isBinary) => {
      void (async () => {
        let id = -1;
        try {
          if (isBinary) throw new Error('binary frames are not part of the contract');
          const raw: unknown = JSON.parse(data.toString());
          // Echo the caller's id when it is one a well-formed frame could carry (not NaN, Infinity or -3), so the
          // client can match the error to its request; otherwise the reply carries -1.
          const rawId: unknown = raw && typeof raw === 'object' ? (raw as { id?: unknown }).id : undefined;
          if (typeof rawId === 'number' && Number.isSafeInteger(rawId) && rawId >= 0) id = rawId;
          const frame = RequestFrameSchema.safeParse(raw);
          if (!frame.success) throw new Error(`malformed frame: ${frame.error.issues[0]?.message ?? 'invalid'}`);
          id = frame.data.id;
          const reply = await dispatch(frame.data.method, frame.data.params);
          sendFrame(ws, { type: 'response', id, ...reply } as ResponseFrame);
        } catch (err) {
          sendFrame(ws, { type: 'response', id, ok: false, error: { code: 'invalid-input', message: (err as Error).message } });
        }
      })();
    });
  });

  const unsubscribe = services.bus.subscribe((name, payload) => {
    const frame: EventFrame = { type: 'event', name, payload };
    const text = JSON.stringify(frame);
    for (const client of wss.clients) if (client.readyState === client.OPEN) client.send(text);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `${hostForUrl}:${port}`.toLowerCase()]);
  const url = `http://${hostForUrl}:${port}/?token=${token}`;
  return {
    url,
    port,
    token,
    async close() {
      unsubscribe();
      for (const c of wss.clients) c.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function contentSecurityPolicy(): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "connect-src 'self' ws: wss:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * The request target as a URL. Only the origin form (`/path?query`) is accepted; it is appended to a fixed origin
 * rather than resolved against it, so `//host/...` stays a path instead of naming another host.
 */
function requestUrl(req: http.IncomingMessage): URL | null {
  const target = req.url ?? '/';
  if (!target.startsWith('/')) return null;
  try {
    return new URL(`http://localhost${target}`);
  } catch {
    return null;
  }
}

function sendFrame(ws: WebSocket, frame: ResponseFrame): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'X-Content-Type-Options': 'nosniff' });
  res.end(body);
}

async function sendFile(res: http.ServerResponse, file: string, type: string, headers: Record<string, string>): Promise<void> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(file);
    if (!st.isFile()) throw new Error('not a file');
  } catch {
    return send(res, 404, 'text/plain; charset=utf-8', 'not found');
  }
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': st.size, 'X-Content-Type-Options': 'nosniff', ...headers });
  fs.createReadStream(file).on('error', () => res.destroy()).pipe(res);
}

function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return null;
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
