import type { z } from 'zod';

/** One request of the contract: what the caller sends and what main answers, both as schemas. */
export interface RequestSpec<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  readonly input: I;
  readonly output: O;
  readonly summary: string;
}

export function request<I extends z.ZodType, O extends z.ZodType>(
  summary: string,
  input: I,
  output: O,
): RequestSpec<I, O> {
  return { summary, input, output };
}
