import type { JobProgress } from '../../shared/contract/jobs.js';
import type { EventBus } from '../common/event-bus.js';

/**
 * Where a command writes. With --json the result is the last line of stdout and everything else goes to stderr,
 * so `curio … --json | tail -n1 | jq` always works.
 */
export class Output {
  constructor(readonly json: boolean) {}

  /** Human text: stdout normally, stderr under --json. */
  info(line: string): void {
    (this.json ? process.stderr : process.stdout).write(`${line}\n`);
  }

  /** The command's result: one JSON line under --json, else the human rendering. */
  result(value: unknown, human?: () => string): void {
    if (this.json) process.stdout.write(`${JSON.stringify(value)}\n`);
    else process.stdout.write(`${human ? human() : JSON.stringify(value, null, 2)}\n`);
  }
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

export function formatProgress(p: JobProgress): string {
  const total = p.total === null ? '' : `/${p.total}`;
  const pct = p.total ? ` ${((100 * p.done) / p.total).toFixed(1)}%` : '';
  const failed = p.failed ? `, ${p.failed} failed` : '';
  const rate = p.rate > 0 ? `, ${p.rate.toFixed(p.rate < 10 ? 1 : 0)}/s` : '';
  const eta = p.state === 'running' && p.total ? `, ETA ${formatDuration(p.etaSeconds)}` : '';
  const msg = p.message ? ` ${p.message}` : '';
  return `${p.kind} ${p.phase}: ${p.done}${total}${pct}${failed}${rate}${eta}${msg}`;
}

/** Progress on stderr: redrawn in place on a terminal, a line every few seconds otherwise. */
export function attachProgress(bus: EventBus, quiet = false): () => void {
  if (quiet) return () => undefined;
  const tty = process.stderr.isTTY === true;
  let lastLine = 0;
  const unsubscribe = bus.subscribe((name, payload) => {
    if (name !== 'onDidProgress') return;
    const p = payload as JobProgress;
    const line = formatProgress(p);
    const now = Date.now();
    if (tty) {
      process.stderr.write(`\r\x1b[2K${line}${p.state !== 'running' ? '\n' : ''}`);
    } else if (p.state !== 'running' || now - lastLine > 2000) {
      process.stderr.write(`${line}\n`);
      lastLine = now;
    }
  });
  return unsubscribe;
}

/** Ctrl-C cancels the running job (keeping its work); a second Ctrl-C exits at once. */
export function cancelOnSigint(cancel: () => void): () => void {
  let count = 0;
  const onSigint = () => {
    count++;
    if (count === 1) {
      process.stderr.write('\ncancelling… (Ctrl-C again to quit now)\n');
      cancel();
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  return () => process.off('SIGINT', onSigint);
}
