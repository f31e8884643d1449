import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import { toEnvboxError } from '../../protocol/index.js';
import { errorReply, type ErrorSink } from '../error-reply.js';

/** JSON-RPC 2.0 error codes envbox answers (the SDK's `ErrorCode` plus the generic server error). */
export const RPC_ERROR = Object.freeze({
  parse: ErrorCode.ParseError,
  invalidRequest: ErrorCode.InvalidRequest,
  methodNotFound: ErrorCode.MethodNotFound,
  invalidParams: ErrorCode.InvalidParams,
  internal: ErrorCode.InternalError,
  /** Implementation-defined server error: capacity, a sandbox that cannot be had, a closed session. */
  server: -32000,
} as const);

/**
 * A JSON-RPC error to answer: `code`, `message` and `data`. The SDK's protocol layer sends
 * `code`, `message` and `data` of whatever a handler throws, so this serves both the SDK's
 * servers and OpenEnv's plain JSON-RPC.
 */
export class RpcError extends Error {
  readonly code: number;
  readonly data: unknown;

  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
    this.data = data;
  }
}

/**
 * Turn anything a tool call threw into its JSON-RPC error, through {@link errorReply} (so it is
 * logged and counted in `envbox_errors_total` as on every other route): a request the environment
 * refused (4xx but 404/409) is -32602 invalid params, an internal failure -32603 (without
 * internals), anything else (capacity, a closed session, no sandbox) -32000; `data` is the envbox
 * error code beside its details (capacity: `active_sessions`, `max_sessions`, as OpenEnv sends them).
 */
export function toRpcError(thrown: unknown, sink: ErrorSink, origin: Record<string, unknown>): RpcError {
  if (thrown instanceof RpcError) return thrown;
  const { error } = errorReply(thrown, sink, origin).body;
  const status = toEnvboxError(thrown).status;
  const code = status === 500 ? RPC_ERROR.internal : status >= 400 && status < 500 && status !== 404 && status !== 409 ? RPC_ERROR.invalidParams : RPC_ERROR.server;
  const { details } = error;
  const data = typeof details === 'object' && details !== null && !Array.isArray(details) ? { code: error.code, ...details } : details === undefined ? { code: error.code } : { code: error.code, details };
  return new RpcError(code, error.message, data);
}
