import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));
// Debian's Chromium, not a downloaded browser: `npm ci` must work offline and .ci/run installs it with apt.
export const chromiumPath = process.env.CURIO_CHROMIUM ?? '/usr/bin/chromium';
export const screenshotDir = path.join(root, 'test-results', 'screenshots');

export interface CurioServer {
  url: string;
  origin: string;
  token: string;
  db: string;
  stop(): Promise<void>;
}

/** `curio serve --port 0 --json` on a fresh catalog; resolves with the URL from the last JSON line of stdout. */
export async function startCurio(dbPath: string, options: { port?: number; token?: string } = {}): Promise<CurioServer> {
  for (const built of ['dist/main/cli/main.js', 'dist/renderer/index.html']) {
    if (!fs.existsSync(path.join(root, built))) throw new Error(`${built} is missing: run \`npm run build\` before the browser tests`);
  }
  const args = ['serve', '--port', String(options.port ?? 0), '--json', '--db', dbPath, ...(options.token ? ['--token', options.token] : [])];
  const child = spawn(process.execPath, [path.join(root, 'bin/curio.js'), ...args], {
    cwd: root,
    env: { ...process.env, CURIO_FROM_SOURCE: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const info = await new Promise<{ url: string; token: string }>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`curio serve did not start in 30 s\n${stderr}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const lines = stdout.split('\n').filter((l) => l.trim().startsWith('{'));
      const last = lines[lines.length - 1];
      if (!last) return;
      try {
        const parsed = JSON.parse(last) as { url?: string; token?: string };
        if (parsed.url && parsed.token) {
          clearTimeout(timer);
          resolve({ url: parsed.url, token: parsed.token });
        }
      } catch {
        // a partial line; wait for the rest
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`curio serve exited with ${code}\n${stderr}`));
    });
  });
  return {
    ...info,
    origin: new URL(info.url).origin,
    db: dbPath,
    stop: () => stopChild(child),
  };
}

/** A port that was free a moment ago, for a server that must come back on the same address. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
