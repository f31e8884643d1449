import { EnvboxError, type EnvboxErrorOptions } from '../../../protocol/index.js';
import { ContainerStartError, type ContainerFailureOptions } from '../../provider/index.js';

/**
 * The errors of the Docker boundary. dockerode's own errors (`statusCode`, `json`, socket errors)
 * never leave `client/docker/`: {@link dockerError} maps them here, in one place, keeping the
 * original as `cause`: to Docker's own errors below, or to the provider seam's
 * `ContainerStartError`. Like `TransportError` they are client-side only (status 0).
 */

/** `DOCKER_UNAVAILABLE`: no Docker engine answers (not running, wrong `DOCKER_HOST`, no permission). */
export class DockerUnavailableError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('DOCKER_UNAVAILABLE', 0, message, options);
  }
}

/** `IMAGE_NOT_FOUND`: the image is not present in the engine (and there is no registry to pull it from). */
export class ImageNotFoundError extends EnvboxError {
  /** The image reference that was asked for, e.g. `envbox/appliance:latest`. */
  readonly image: string;

  constructor(image: string, message: string, options?: EnvboxErrorOptions) {
    super('IMAGE_NOT_FOUND', 0, message, options);
    this.image = image;
  }
}

/** `DOCKER_ENGINE`: the engine refused a call outside a start (inspect, exec, stop, remove, list). */
export class DockerEngineError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('DOCKER_ENGINE', 0, message, options);
  }
}

/** What dockerode rejects with: an HTTP error of the engine, or a socket error. */
interface DockerodeFailure {
  /** ssh2's errors (an `ssh://` engine): `client-authentication`, `client-socket`, `client-timeout`, `protocol`, ... */
  level?: unknown;
  message?: unknown;
  statusCode?: unknown;
  code?: unknown;
  json?: unknown;
}

/** Socket errors that mean "no engine here", as opposed to an engine that refused the request. */
const UNREACHABLE_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'EPERM', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET']);

/** TLS handshake and certificate errors (Node's and OpenSSL's codes): an engine there, but no trust either way. */
const TLS_CODES = /^(ERR_SSL_|ERR_TLS_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT))/;

/** The fix printed with a TLS failure. */
const TLS_HINT = 'check the CA, client certificate and key (DOCKER_CERT_PATH with DOCKER_TLS_VERIFY=1, or the ca, cert and key options of new Docker())';

/** The fix printed with every {@link DockerUnavailableError}. */
export const DOCKER_UP_HINT = 'start an engine with `make docker-up` (or point DOCKER_HOST at a running one)';

/** The engine's own message of a failed API call, without dockerode's `(HTTP code 404) no such container -` prefix. */
export function engineMessage(error: unknown): string {
  const failure = (error ?? {}) as DockerodeFailure;
  const json = failure.json as { message?: unknown } | null | undefined;
  if (json !== null && typeof json === 'object' && typeof json.message === 'string') return json.message;
  if (typeof failure.message === 'string') return failure.message.trim();
  return String(error);
}

/** The engine's HTTP status of a failed API call; undefined for socket errors. */
export function engineStatus(error: unknown): number | undefined {
  const status = ((error ?? {}) as DockerodeFailure).statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** What was being done when the engine failed, for the message and the mapping. */
export interface DockerCallContext {
  /** e.g. `create a container of envbox/appliance:latest`. */
  action: string;
  /** The image involved: a 404 "No such image" becomes {@link ImageNotFoundError}. */
  image?: string;
  /** Where the engine was looked for, e.g. `unix:///var/run/docker.sock`. */
  endpoint?: string;
  /** The container involved. */
  containerId?: string;
  /** Which error an engine refusal becomes. @default 'start' ({@link ContainerStartError}); 'engine': {@link DockerEngineError} */
  phase?: 'start' | 'engine';
}

/**
 * Map anything dockerode threw to an envbox error: an unreachable engine becomes
 * {@link DockerUnavailableError}, a missing image {@link ImageNotFoundError}, anything else
 * {@link ContainerStartError} while starting, {@link DockerEngineError} otherwise. Envbox errors
 * pass through unchanged.
 */
export function dockerError(error: unknown, context: DockerCallContext): EnvboxError {
  if (error instanceof EnvboxError) return error;
  const failure = (error ?? {}) as DockerodeFailure;
  const code = typeof failure.code === 'string' ? failure.code : undefined;
  const status = engineStatus(error);
  const message = engineMessage(error);
  const where = context.endpoint === undefined ? 'the Docker engine' : `the Docker engine at ${context.endpoint}`;
  if (status === undefined && code !== undefined && UNREACHABLE_CODES.has(code)) {
    const permission = code === 'EACCES' || code === 'EPERM' ? ' (permission denied: run as root or join the docker group)' : '';
    // A TLS-only engine may reset a plain-HTTP connection before its 400 reaches the client.
    const tls = code === 'ECONNRESET' && context.endpoint?.startsWith('tcp://') === true && !context.endpoint.endsWith('(TLS)') ? ` (an engine that speaks TLS resets plain HTTP: ${TLS_HINT})` : '';
    return new DockerUnavailableError(
      `Cannot ${context.action}: ${where} does not answer (${message})${permission}${tls}; ${DOCKER_UP_HINT}.`,
      { cause: error },
    );
  }
  if (status === undefined && code !== undefined && TLS_CODES.test(code)) {
    return new DockerUnavailableError(`Cannot ${context.action}: ${where.charAt(0).toUpperCase()}${where.slice(1)} and this client do not trust each other over TLS (${code}: ${message.split('\n')[0]}); ${TLS_HINT}.`, {
      cause: error,
    });
  }
  if (status === undefined && typeof failure.level === 'string' && failure.level.startsWith('client-')) {
    const fix =
      failure.level === 'client-authentication'
        ? 'check the user and the key (sshOptions.privateKey, or an agent at SSH_AUTH_SOCK) that its sshd accepts'
        : 'check the host, the port and that an sshd listens there';
    return new DockerUnavailableError(`Cannot ${context.action}: cannot reach ${where} over SSH (${message}); ${fix}.`, { cause: error });
  }
  if (status === 400 && /HTTP request to an HTTPS server/i.test(message)) {
    return new DockerUnavailableError(`Cannot ${context.action}: ${where} speaks TLS only (it answered: Client sent an HTTP request to an HTTPS server); ${TLS_HINT}.`, { cause: error });
  }
  if (status === 404 && context.image !== undefined && /no such image|not found|pull access denied/i.test(message)) {
    return new ImageNotFoundError(
      context.image,
      `Cannot ${context.action}: image ${context.image} is not in the engine (${message}); build it with ` +
        '`envbox build-image --tag ' +
        context.image +
        '` (`make image`) or load it with `docker load`.',
      { cause: error },
    );
  }
  const text = `Cannot ${context.action}: the engine answered ${status ?? code ?? 'an error'} (${message}).`;
  if (context.phase === 'engine') return new DockerEngineError(text, { cause: error });
  const options: ContainerFailureOptions = { cause: error };
  if (context.containerId !== undefined) options.containerId = context.containerId;
  return new ContainerStartError(text, options);
}
