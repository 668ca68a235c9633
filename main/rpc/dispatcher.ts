import { requests, isRequestName } from '../../shared/contract/index.js';
import type { RpcError } from '../../shared/contract/common.js';
import type { Reply } from '../../shared/wire.js';
import { CurioError } from '../common/errors.js';
import type { Handlers } from './types.js';

export type Dispatch = (method: unknown, params: unknown) => Promise<Reply>;

/**
 * The one gate between a transport and the services. A renderer is untrusted input, so the method name and the
 * params are checked against the contract before any handler runs; whatever a handler throws comes back as an
 * error reply, never as a crash or a stack trace.
 */
export function createDispatcher(handlers: Handlers, onUnexpected?: (err: unknown, method: string) => void): Dispatch {
  return async (method, params) => {
    if (!isRequestName(method)) {
      return fail({ code: 'unknown-request', message: `unknown request: ${describe(method)}` });
    }
    const spec = requests[method];
    let parsed: ReturnType<typeof spec.input.safeParse>;
    try {
      parsed = spec.input.safeParse(params === undefined ? {} : params);
    } catch (err) {
      // safeParse reports schema mismatches, but a payload whose getters or proxy traps throw escapes it
      return fail({ code: 'invalid-input', message: `invalid ${method} payload: it could not be read (${errorText(err)})` });
    }
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(payload)'}: ${i.message}`);
      return fail({ code: 'invalid-input', message: `invalid ${method} payload: ${issues[0]}`, issues });
    }
    try {
      const handler = handlers[method] as (input: unknown) => unknown;
      const result = await handler(parsed.data);
      return { ok: true, result: spec.output.parse(result) };
    } catch (err) {
      if (err instanceof CurioError) {
        return fail({ code: err.code, message: err.message, ...(err.issues ? { issues: err.issues } : {}) });
      }
      onUnexpected?.(err, method);
      return fail({ code: 'failed', message: `${method} failed: ${err instanceof Error ? err.message : String(err)}` });
    }
  };
}

function fail(error: RpcError): Reply {
  return { ok: false, error };
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 200);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.slice(0, 80));
  return typeof v;
}
