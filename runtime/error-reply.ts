import { BEARER_CHALLENGE } from './bearer-auth.js';
import { CapacityExceededError, toEnvboxError, UnauthorizedError, type WireError } from '../protocol/index.js';
import type { Logger } from './logger.js';

/** An error as an HTTP reply: status, extra headers and the envelope. */
export interface ErrorReply {
  status: number;
  headers: Record<string, string>;
  body: { error: WireError };
}

/**
 * Turn anything thrown while serving `method path` into its reply (the one place errors map to
 * statuses): 5xx are logged with their cause and answered without internals; capacity gets
 * `Retry-After`; a 401 gets `WWW-Authenticate: Bearer`; a 413 closes the connection rather than reading the rest of the body.
 */
export function errorReply(thrown: unknown, logger: Logger, method: string, path: string): ErrorReply {
  const error = toEnvboxError(thrown);
  if (error.status >= 500 && error.status !== 503) logger.error('request failed', { method, path, error: thrown });
  const headers: Record<string, string> = {};
  if (error instanceof CapacityExceededError) headers['Retry-After'] = String(error.retryAfterS);
  if (error instanceof UnauthorizedError) headers['WWW-Authenticate'] = BEARER_CHALLENGE;
  if (error.status === 413) headers.Connection = 'close';
  return { status: error.status, headers, body: { error: error.toWire() } };
}
