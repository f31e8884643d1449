import { BEARER_CHALLENGE } from './bearer-auth.js';
import type { EnvService } from './env-service.js';
import type { Logger } from './logger.js';
import type { AppMetrics } from './metrics.js';
import type { HttpReply } from './http-reply.js';
import { CapacityExceededError, SandboxUnavailableError, toEnvboxError, UnauthorizedError, type WireError } from '../protocol/index.js';

/** An error as a reply: status, extra headers and the envelope (a WebSocket sends `body.error` as its error frame's `data`). */
export type ErrorReply = HttpReply<{ error: WireError }>;

/** Where error replies are logged and counted ({@link EnvService} is one). */
export interface ErrorSink {
  readonly logger: Logger;
  readonly metrics: Pick<AppMetrics, 'recordError'>;
}

/**
 * Turn anything thrown while serving a request into its reply: the one place errors map to
 * statuses, for Koa's routes, the HTTP fast path, raw sockets and WebSocket frames alike.
 * Every reply is counted in `envbox_errors_total`. The one 5xx rule: a 5xx other than 503 (which
 * says "busy", not "broken") is logged at error level with its cause, and answered without
 * internals (`INTERNAL`'s generic message). Capacity, and a sandbox refused for a passing cause, get `Retry-After`; a 401 gets
 * `WWW-Authenticate: Bearer`; a 413 closes the connection rather than reading the rest of the body.
 * @param origin what was being served, for the log line, e.g. `{method, path}` or `{path: '/ws', session_id}`
 */
export function errorReply(thrown: unknown, sink: ErrorSink, origin: Record<string, unknown>): ErrorReply {
  const error = toEnvboxError(thrown);
  if (error.status >= 500 && error.status !== 503) sink.logger.error('request failed', { ...origin, error: thrown });
  sink.metrics.recordError(error.code);
  const headers: Record<string, string> = {};
  if ((error instanceof CapacityExceededError || error instanceof SandboxUnavailableError) && error.retryAfterS !== undefined) {
    headers['Retry-After'] = String(error.retryAfterS);
  }
  if (error instanceof UnauthorizedError) headers['WWW-Authenticate'] = BEARER_CHALLENGE;
  if (error.status === 413) headers.Connection = 'close';
  return { status: error.status, headers, body: { error: error.toWire() } };
}
