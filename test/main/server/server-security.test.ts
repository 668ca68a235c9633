// The headless server's guards: the token, the Host and Origin checks, the loopback default, static files that
// cannot escape the renderer folder, and media that needs the token too.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WS_PATH } from '../../../shared/wire.js';
import { DEFAULT_HOST, startServer, type RunningServer } from '../../../main/server/server.js';
import { thumbnailPath } from '../../../main/ingest/decode.js';
import { makeTempDir, seededServices, type SeededServices } from '../rpc/fixtures.js';
import { FrameReader, upgradeStatus } from './ws-client.js';

const TOKEN = 'a'.repeat(16) + 'b'.repeat(16);

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A GET with full control over the path and headers (fetch would normalize `..` and refuse a Host header). */
function rawGet(port: number, rawPath: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method: 'GET', headers: { Host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends bytes as they are and returns whatever the server answers before it closes. */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(request));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
  });
}

describe('headless server security', () => {
  let seeded: SeededServices;
  let server: RunningServer;
  let rendererDir: string;
  let outside: string;
  let port: number;
  let sha: string;

  beforeAll(async () => {
    seeded = await seededServices('server-security');
    // A renderer folder with a page and a secret file beside it that must never be served.
    const root = makeTempDir('server-static');
    rendererDir = path.join(root, 'renderer');
    fs.mkdirSync(path.join(rendererDir, 'assets'), { recursive: true });
    fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>Curio</title>');
    fs.writeFileSync(path.join(rendererDir, 'assets', 'app.js'), 'console.log(1)');
    outside = path.join(root, 'secret.txt');
    fs.writeFileSync(outside, 'TOP SECRET');
    fs.mkdirSync(path.join(root, 'renderer-evil'));
    fs.writeFileSync(path.join(root, 'renderer-evil', 'x.txt'), 'TOP SECRET');
    server = await startServer(seeded.services, { port: 0, token: TOKEN, rendererDir });
    port = server.port;
    sha = seeded.services.catalog.listImages({ datasetId: seeded.datasetId, offset: 0, limit: 1, status: 'ok' }).items[0]!.sha256!;
  });

  afterAll(async () => {
    await server?.close();
    seeded?.cleanup();
    if (rendererDir) fs.rmSync(path.dirname(rendererDir), { recursive: true, force: true });
  });

  it('binds to loopback by default and prints a URL with the token', () => {
    expect(DEFAULT_HOST).toBe('127.0.0.1');
    expect(server.url).toBe(`http://127.0.0.1:${port}/?token=${TOKEN}`);
  });

  it('is not reachable on a non-loopback address by default', async () => {
    const os = await import('node:os');
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal);
    if (!external) {
      console.info('SKIP part: this machine has no non-loopback IPv4 address to try');
      return;
    }
    const reached = await new Promise<boolean>((resolve) => {
      const req = http.get({ host: external.address, port, path: `/?token=${TOKEN}`, timeout: 2000 }, (res) => {
        res.resume();
        resolve(true);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => {
        req.destroy();
        resolve(false);
      });
    });
    expect(reached).toBe(false);
  });

  it('generates a fresh random token when none is given', async () => {
    const other = await startServer(seeded.services, { port: 0, rendererDir });
    try {
      expect(other.token).toMatch(/^[0-9a-f]{48}$/);
      expect(other.token).not.toBe(TOKEN);
      expect((await rawGet(other.port, '/')).status).toBe(401);
      expect((await rawGet(other.port, `/?token=${other.token}`)).status).toBe(200);
    } finally {
      await other.close();
    }
  });

  it('requires the token over HTTP (401), accepts it in the query and then as the cookie it sets', async () => {
    expect((await rawGet(port, '/')).status).toBe(401);
    expect((await rawGet(port, '/?token=wrong')).status).toBe(401);
    expect((await rawGet(port, `/?token=${TOKEN.slice(0, -1)}`)).status).toBe(401);
    expect((await rawGet(port, '/', { Cookie: 'curio_token=nope' })).status).toBe(401);
    const ok = await rawGet(port, `/?token=${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).toContain('<title>Curio</title>');
    expect(ok.headers['content-security-policy']).toContain("script-src 'self'");
    const cookie = String(ok.headers['set-cookie']);
    expect(cookie).toContain(`curio_token=${TOKEN}`);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect((await rawGet(port, '/assets/app.js', { Cookie: `curio_token=${TOKEN}` })).status).toBe(200);
  });

  it('requires the token on the WebSocket upgrade (403) and serves the contract with it', async () => {
    const base = `ws://127.0.0.1:${port}${WS_PATH}`;
    expect(await upgradeStatus(base)).toBe(403);
    expect(await upgradeStatus(`${base}?token=wrong`)).toBe(403);
    expect(await upgradeStatus(`ws://127.0.0.1:${port}/elsewhere?token=${TOKEN}`)).toBe(403);
    expect(await upgradeStatus(base, { Cookie: `curio_token=${TOKEN}` })).toBe(101);
    const client = await FrameReader.connect(`${base}?token=${TOKEN}`);
    client.ws.send(JSON.stringify({ type: 'request', id: 1, method: 'app.info', params: {} }));
    const reply = (await client.nextResponse()) as { id: number; ok: boolean; result: { mode: string } };
    expect(reply).toMatchObject({ type: 'response', id: 1, ok: true, result: { mode: 'browser' } });
    await client.close();
  });

  it('rejects a foreign Host header (DNS rebinding) on HTTP and on the upgrade', async () => {
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1.evil.example:${port}`, `127.0.0.1:${port + 1}`, `127.0.0.1:${port}@evil.example`]) {
      expect((await rawGet(port, `/?token=${TOKEN}`, { Host: host })).status, `Host: ${host}`).toBe(421);
    }
    for (const host of [`localhost:${port}`, `LOCALHOST:${port}`, `127.0.0.1:${port}`]) {
      expect((await rawGet(port, `/?token=${TOKEN}`, { Host: host })).status, `Host: ${host}`).toBe(200);
    }
    expect(await upgradeStatus(`ws://127.0.0.1:${port}${WS_PATH}?token=${TOKEN}`, { Host: `evil.example:${port}` })).toBe(403);
    // HTTP/1.0 lets a client leave the Host out; that is not our host either.
    const noHost = await rawExchange(port, `GET /?token=${TOKEN} HTTP/1.0\r\n\r\n`);
    expect(noHost).toMatch(/^HTTP\/1\.[01] 421 /);
    // An absolute-form target names a host inside the request line; it is refused, not proxied or served.
    const absolute = await rawExchange(port, `GET http://evil.example/?token=${TOKEN} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
    expect(absolute).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('rejects a foreign Origin on the WebSocket upgrade (cross-site WebSocket hijacking)', async () => {
    const url = `ws://127.0.0.1:${port}${WS_PATH}?token=${TOKEN}`;
    for (const origin of ['https://evil.example', `http://evil.example:${port}`, 'null', 'file://', `http://127.0.0.1:${port + 1}`, `ftp://127.0.0.1:${port}`, 'not a url']) {
      expect(await upgradeStatus(url, { Origin: origin }), `Origin: ${origin}`).toBe(403);
    }
    expect(await upgradeStatus(url, { Origin: `http://127.0.0.1:${port}` })).toBe(101);
    expect(await upgradeStatus(url, { Origin: `http://localhost:${port}` })).toBe(101);
  });

  it('does not let a static path escape the renderer folder', async () => {
    const auth = { Cookie: `curio_token=${TOKEN}` };
    const attempts = [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/..%2Fsecret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/%2e%2e%2fsecret.txt',
      '/..%5csecret.txt',
      '//..%2f..%2fsecret.txt',
      `/${'..%2f'.repeat(12)}etc%2fpasswd`,
      `/${path.relative('/', outside)}`,
      `/%2f${encodeURIComponent(outside.slice(1))}`,
      '/..%2frenderer-evil%2fx.txt',
      '/assets%00/app.js',
      '/%E0%A4%A',
    ];
    for (const p of attempts) {
      const res = await rawGet(port, p, auth);
      expect([400, 404], `${p} -> ${res.status}`).toContain(res.status);
      expect(res.body.toString()).not.toContain('TOP SECRET');
    }
  });

  it('serves thumbnails and originals only with the token, and only for what the catalog holds', async () => {
    const auth = { Cookie: `curio_token=${TOKEN}` };
    expect((await rawGet(port, `/thumbs/${sha}.webp`)).status).toBe(401);
    const thumb = await rawGet(port, `/thumbs/${sha}.webp`, auth);
    expect(thumb.status).toBe(200);
    expect(thumb.headers['content-type']).toBe('image/webp');
    expect(thumb.body.equals(fs.readFileSync(thumbnailPath(seeded.services.thumbnailDir, sha)))).toBe(true);
    expect((await rawGet(port, `/thumbs/${sha.toUpperCase()}.webp`, auth)).status).toBe(404);
    expect((await rawGet(port, `/thumbs/${'0'.repeat(64)}.webp`, auth)).status).toBe(404);

    const image = seeded.services.catalog.listImages({ datasetId: seeded.datasetId, offset: 0, limit: 1, status: 'ok' }).items[0]!;
    expect((await rawGet(port, `/images/${image.id}`)).status).toBe(401);
    const original = await rawGet(port, `/images/${image.id}`, auth);
    expect(original.status).toBe(200);
    expect(original.body.equals(fs.readFileSync(image.path))).toBe(true);
    for (const p of ['/images/999999', '/images/0', '/images/-1', '/images/1.5', `/images/${'9'.repeat(30)}`, '/images/1/../../secret.txt']) {
      const res = await rawGet(port, p, auth);
      expect([400, 404], `${p} -> ${res.status}`).toContain(res.status);
    }
  });

  it('refuses methods other than GET and HEAD', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: `/?token=${TOKEN}`, method: 'POST' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('x');
    });
    expect(status).toBe(405);
  });
});
