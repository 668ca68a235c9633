import { z } from 'zod';

export const Id = z.number().int().positive();
export const DatasetName = z
  .string()
  .trim()
  .min(1, 'dataset name is empty')
  .max(200, 'dataset name is longer than 200 characters')
  .regex(/^[^\u0000-\u001f/\\]+$/, 'dataset name may not contain slashes or control characters');

/** A filesystem path sent by a client. Main still checks that it exists before it acts. */
export const FsPath = z
  .string()
  .min(1, 'path is empty')
  .max(4096, 'path is longer than 4096 characters')
  .refine((p) => !p.includes('\u0000'), 'path contains a NUL byte');

export const Empty = z.object({}).strict();
export const Ok = z.object({ ok: z.literal(true) });

/** Error codes that cross a transport. `invalid-input` means the payload failed its schema. */
export const ErrorCode = z.enum(['invalid-input', 'unknown-request', 'not-found', 'conflict', 'cancelled', 'failed']);
export type ErrorCode = z.infer<typeof ErrorCode>;
export const RpcError = z.object({ code: ErrorCode, message: z.string(), issues: z.array(z.string()).optional() });
export type RpcError = z.infer<typeof RpcError>;
