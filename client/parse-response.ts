import type { z } from 'zod';
import { ProtocolError } from '../protocol/index.js';

/**
 * Parse a server response with the same zod schema the server used.
 * @param what the call, for the message, e.g. `POST /step`
 * @throws {ProtocolError} when the response does not match
 */
export function parseResponse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new ProtocolError(`${what} answered a body that does not match the protocol: ${parsed.error.message}`, {
    details: value,
    cause: parsed.error,
  });
}
