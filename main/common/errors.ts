import type { ErrorCode } from '../../shared/contract/common.js';

/** An error meant for the user: its message is shown as it is, and its code crosses the transport. */
export class CurioError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly issues?: string[],
  ) {
    super(message);
    this.name = 'CurioError';
  }
}

export const notFound = (what: string) => new CurioError('not-found', what);
export const invalid = (message: string, issues?: string[]) => new CurioError('invalid-input', message, issues);
export const conflict = (message: string) => new CurioError('conflict', message);

export class CancelledError extends CurioError {
  constructor(message = 'cancelled') {
    super('cancelled', message);
    this.name = 'CancelledError';
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
