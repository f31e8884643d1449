/**
 * The one error root of envbox. Every error the appliance raises on purpose is an
 * {@link EnvboxError} with a stable `code`; the HTTP layer maps it to `status` and the
 * envelope `{"error": {"code", "message", "details"?}}`, and the client maps the code back
 * to the same class with {@link errorFromWire}.
 *
 * Failures of guest code (an exception, a timeout, `sys.exit(3)`) are observations, never
 * errors: throw only when a request is wrong or the appliance itself is broken.
 */

/** Options shared by every {@link EnvboxError}. */
export interface EnvboxErrorOptions {
  /** JSON-serialisable extra facts for the client (zod issue paths, limits, ids). */
  details?: unknown;
  /** The underlying error, kept for logs; never sent to clients. */
  cause?: unknown;
}

/** The root of every error envbox raises on purpose. */
export class EnvboxError extends Error {
  /** Stable machine-readable code, e.g. `SESSION_NOT_FOUND`. */
  readonly code: string;
  /** HTTP status this error maps to. */
  readonly status: number;
  /** Whether `message` may be shown to clients (false: replaced by a generic text). */
  readonly expose: boolean;
  /** Extra facts for the client; must be JSON-serialisable. */
  readonly details: unknown;

  constructor(code: string, status: number, message: string, options: EnvboxErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.expose = status < 500 || status === 501 || status === 503;
    this.details = options.details;
  }

  /** The wire form `{"code", "message", "details"?}` of this error. */
  toWire(): WireError {
    const wire: WireError = {
      code: this.code,
      message: this.expose ? this.message : 'Internal server error; see the server log.',
    };
    if (this.details !== undefined && this.expose) wire.details = this.details;
    return wire;
  }
}

/** The body of an error response, inside `{"error": ...}`. */
export interface WireError {
  code: string;
  message: string;
  details?: unknown;
}

/** 400 `INVALID_JSON`: the body (or a WebSocket message) is not valid JSON or not UTF-8. */
export class InvalidJsonError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('INVALID_JSON', 400, message, options);
  }
}

/**
 * 400 `BAD_REQUEST`: the request is not valid HTTP (a malformed request line, URL or header, a
 * Content-Length that disagrees with the body, conflicting framing).
 */
export class BadRequestError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions & { status?: number }) {
    super('BAD_REQUEST', options?.status ?? 400, message, options);
  }
}

/** 431 `HEADERS_TOO_LARGE`: the request's headers are over Node's limit (16 KiB). */
export class HeadersTooLargeError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('HEADERS_TOO_LARGE', 431, message, options);
  }
}

/** 408 `REQUEST_TIMEOUT`: the request's headers and body did not arrive within `--request-timeout-s`. */
export class RequestTimeoutError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('REQUEST_TIMEOUT', 408, message, options);
  }
}

/** 422 `INVALID_REQUEST`: the JSON is well-formed but fails the route's schema. */
export class InvalidRequestError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('INVALID_REQUEST', 422, message, options);
  }
}

/** 413 `PAYLOAD_TOO_LARGE`: the body is larger than the server's `maxBodyBytes`. */
export class PayloadTooLargeError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('PAYLOAD_TOO_LARGE', 413, message, options);
  }
}

/** 404 `NOT_FOUND`: no such route. */
export class NotFoundError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('NOT_FOUND', 404, message, options);
  }
}

/** 405 `METHOD_NOT_ALLOWED`: the route exists but not with this method. */
export class MethodNotAllowedError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('METHOD_NOT_ALLOWED', 405, message, options);
  }
}

/** 426 `UPGRADE_REQUIRED`: a plain HTTP request reached a WebSocket endpoint (`GET /ws`). */
export class UpgradeRequiredError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('UPGRADE_REQUIRED', 426, message, options);
  }
}

/** 401 `UNAUTHORIZED`: the server requires a bearer token and the request has none, or a wrong one. */
export class UnauthorizedError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('UNAUTHORIZED', 401, message, options);
  }
}

/** 404 `SESSION_NOT_FOUND`: the `X-Session-Id` names no open session. */
export class SessionNotFoundError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('SESSION_NOT_FOUND', 404, message, options);
  }
}

/** 503 `CAPACITY_EXCEEDED`: `maxSessions` sessions are open; retry after `retryAfterS`. */
export class CapacityExceededError extends EnvboxError {
  /** Seconds the client should wait before retrying (sent as `Retry-After`). */
  readonly retryAfterS: number;

  constructor(message: string, options: EnvboxErrorOptions & { retryAfterS?: number } = {}) {
    super('CAPACITY_EXCEEDED', 503, message, options);
    this.retryAfterS = options.retryAfterS ?? 1;
  }
}

/** 409 `SESSION_CLOSED`: the session was closed while this call waited for its turn. */
export class SessionClosedError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('SESSION_CLOSED', 409, message, options);
  }
}

/**
 * 501 `NOT_SUPPORTED`: the environment lacks the capability the route serves (the Task API or
 * `/evaluate` of an environment without tasks).
 */
export class NotSupportedError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('NOT_SUPPORTED', 501, message, options);
  }
}

/**
 * 400 `INVALID_TASK`: a task selection names no task: an unknown split, an index out of range, an
 * unknown task id, or a submission in an episode without a task.
 */
export class InvalidTaskError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('INVALID_TASK', 400, message, options);
  }
}

/** 500 `INTERNAL`: a bug or a broken dependency; the message is not shown to clients. */
export class InternalError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('INTERNAL', 500, message, options);
  }
}

/** Client side: the server could not be reached, or the connection broke mid-call. */
export class TransportError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('TRANSPORT', 0, message, options);
  }
}

/** Client side: the server answered with something that does not match the protocol. */
export class ProtocolError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('PROTOCOL', 0, message, options);
  }
}

/**
 * 503 `SANDBOX_UNAVAILABLE`: a sandbox could not be started (the appliance is broken or
 * overloaded). When the cause passes (the episode memory budget is spent), `retryAfterS` says when
 * to try again (sent as `Retry-After`).
 */
export class SandboxUnavailableError extends EnvboxError {
  /** Seconds the client should wait before retrying, when retrying can help. */
  readonly retryAfterS: number | undefined;

  constructor(message: string, options: EnvboxErrorOptions & { retryAfterS?: number } = {}) {
    super('SANDBOX_UNAVAILABLE', 503, message, options);
    this.retryAfterS = options.retryAfterS;
  }
}

/**
 * Client side, `CONTAINER_GONE`: a call failed because the container its server ran in stopped
 * (the client's `ContainerGoneError`, which also names the container and its state).
 */
export const CONTAINER_GONE = 'CONTAINER_GONE';

type ErrorClass = new (message: string, options?: EnvboxErrorOptions) => EnvboxError;

const ERROR_CLASSES: Readonly<Record<string, ErrorClass>> = {
  INVALID_JSON: InvalidJsonError,
  BAD_REQUEST: BadRequestError,
  REQUEST_TIMEOUT: RequestTimeoutError,
  HEADERS_TOO_LARGE: HeadersTooLargeError,
  INVALID_REQUEST: InvalidRequestError,
  PAYLOAD_TOO_LARGE: PayloadTooLargeError,
  NOT_FOUND: NotFoundError,
  METHOD_NOT_ALLOWED: MethodNotAllowedError,
  UNAUTHORIZED: UnauthorizedError,
  UPGRADE_REQUIRED: UpgradeRequiredError,
  SESSION_NOT_FOUND: SessionNotFoundError,
  CAPACITY_EXCEEDED: CapacityExceededError,
  SESSION_CLOSED: SessionClosedError,
  INTERNAL: InternalError,
  NOT_SUPPORTED: NotSupportedError,
  INVALID_TASK: InvalidTaskError,
  SANDBOX_UNAVAILABLE: SandboxUnavailableError,
};


/**
 * Rebuild the error a server sent: the class registered for `wire.code`, or a plain
 * {@link EnvboxError} carrying the unknown code and `status`.
 */
export function errorFromWire(wire: WireError, status = 0): EnvboxError {
  const Class = ERROR_CLASSES[wire.code];
  const options = wire.details === undefined ? {} : { details: wire.details };
  if (Class === BadRequestError) return new BadRequestError(wire.message, { ...options, ...(status >= 400 ? { status } : {}) });
  if (Class !== undefined) return new Class(wire.message, options);
  return new EnvboxError(wire.code, status, wire.message, options);
}

/**
 * Wrap anything thrown into an {@link EnvboxError}: a client error of a dependency (an
 * `http-errors` 4xx, such as a malformed URL) becomes `BAD_REQUEST` with its status; anything
 * else becomes `INTERNAL`.
 */
export function toEnvboxError(error: unknown): EnvboxError {
  if (error instanceof EnvboxError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new BadRequestError(message, { status, cause: error });
  }
  return new InternalError(message, { cause: error });
}
