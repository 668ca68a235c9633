import { RpcError, isRequestName, requests } from '../../../shared/contract/index.js';

/** Checks one reply against the contract; returns what is wrong with it, or null. */
export function replyProblem(method: unknown, reply: unknown): string | null {
  if (!reply || typeof reply !== 'object') return `reply is ${typeof reply}`;
  const r = reply as { ok?: unknown; result?: unknown; error?: unknown };
  if (r.ok === true) {
    if (!isRequestName(method)) return 'ok reply to an unknown method';
    const parsed = requests[method].output.safeParse(r.result);
    return parsed.success ? null : `ok result does not match the output schema: ${parsed.error.issues[0]?.message}`;
  }
  if (r.ok !== false) return `reply.ok is ${String(r.ok)}`;
  const parsed = RpcError.safeParse(r.error);
  if (!parsed.success) return `malformed error: ${JSON.stringify(r.error)}`;
  if (parsed.data.message.trim() === '') return 'empty error message';
  if (/\n\s+at .+:\d+:\d+/.test(parsed.data.message)) return 'error message carries a stack trace';
  if (parsed.data.code === 'failed') return `a handler crashed: ${parsed.data.message}`;
  return null;
}
