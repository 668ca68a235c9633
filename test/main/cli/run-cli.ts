// Runs the real `curio` bin from the TypeScript sources (CURIO_FROM_SOURCE=1), so the CLI tests need no build.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../ingest/fixtures.js';

export const CURIO_BIN = path.join(REPO_ROOT, 'bin', 'curio.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function spawnCurio(args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [CURIO_BIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, CURIO_FROM_SOURCE: '1', NODE_OPTIONS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function runCurio(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const child = spawnCurio(args, env);
  return collect(child);
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0);
}

/** The --json contract: the result is the last line of stdout, one JSON object. */
export function lastJson(r: CliResult): Record<string, unknown> {
  const last = lines(r.stdout).at(-1);
  if (!last) throw new Error(`no stdout; stderr was:\n${r.stderr}`);
  return JSON.parse(last) as Record<string, unknown>;
}

/**
 * Runs the CLI inside the test process (same runCli the bin calls) with stdout and stderr captured: for the many
 * argument checks, where spawning a process each would cost seconds on a loaded machine.
 */
export async function runCurioInProcess(args: readonly string[]): Promise<CliResult> {
  const { runCli } = await import('../../../main/cli/main.js');
  let stdout = '';
  let stderr = '';
  const realOut = process.stdout.write.bind(process.stdout);
  const realErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await runCli([...args]);
    return { code, signal: null, stdout, stderr };
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
  }
}
