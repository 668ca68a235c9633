import type { z } from 'zod';
import { invalid } from '../common/errors.js';

/** Parses curation options with their schema (CLI and RPC alike), reporting the first problem as one clear line. */
export function parseCurateOptions<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`);
    throw invalid(issues[0]!, issues);
  }
  return r.data;
}
