import { randomBytes } from 'node:crypto';
import type { Container } from './container.js';
import { ContainerStartError } from './start-errors.js';

/** The label on every container envbox starts; `cleanup()` finds leftovers by it. */
export const MANAGED_LABEL = 'envbox.managed';
/** The label naming the process that owns a container, as `<hostname>:<pid>`. */
export const OWNER_LABEL = 'envbox.owner';
/** The port the appliance listens on inside the container. @default 8000 */
export const DEFAULT_CONTAINER_PORT = 8000;

/**
 * Per-container resource caps; each provider fills in its own defaults (LocalDockerProvider:
 * its hardening options).
 */
export interface ContainerLimits {
  /** Memory cap in bytes, swap included (no swap). */
  memoryLimitBytes?: number;
  /** Cap on tasks (processes and threads). */
  pidsLimit?: number;
  /** CPUs, e.g. `0.5`. */
  cpus?: number;
  /** Size of the `/tmp` tmpfs in bytes (counted in its memory). */
  tmpSizeBytes?: number;
}

/** What to start: the appliance image and how its server runs. */
export interface ContainerSpec {
  /** The image, e.g. `envbox/appliance:latest`. */
  image: string;
  /**
   * Arguments after the image's entrypoint (`envbox serve`), e.g. `['--env', 'echo_env']`.
   * @default the image's CMD (`--env coding_env`)
   */
  command?: readonly string[];
  /** Environment variables of the server, e.g. `{ ENVBOX_PYTHON_BACKEND: 'process' }`. */
  env?: Readonly<Record<string, string>>;
  /**
   * The server's bearer token, passed as `ENVBOX_TOKEN` and kept on the container
   * (`Container.token`) for its clients; `false` runs the server without auth.
   * @default a fresh one per container: 32 random bytes, base64url
   */
  token?: string | false;
  /** A container name. @default one the provider picks */
  name?: string;
  /** Extra labels (the managed and owner labels are always set). */
  labels?: Readonly<Record<string, string>>;
  /** The port the server listens on inside the container. @default {@link DEFAULT_CONTAINER_PORT} */
  containerPort?: number;
  /** The user to run as; never root. @default the provider's (LocalDockerProvider: `10001:10001`) */
  user?: string;
  /** Caps of this container, over the provider's. @default the provider's */
  limits?: ContainerLimits;
  /** How long the server gets to answer `GET /health`. @default {@link DEFAULT_HEALTH_TIMEOUT_MS} */
  healthTimeoutMs?: number;
  /** Seconds between SIGTERM and SIGKILL on close. @default the provider's (LocalDockerProvider: 5 s) */
  stopTimeoutS?: number;
  /** Abort the start (the container, if created, is removed). */
  signal?: AbortSignal;
  /**
   * The dead container this one replaces (`EnvPool` sets it). A provider that picks a machine
   * keeps the new one off the dead one's machine while another can take it: its engine may be
   * dying, yet still listed as ready (Swarm: `DockerSwarmProvider` adds `node.id!=<its node>`).
   */
  replaces?: Container;
}

/**
 * The server's token for `spec.token`: the one given, none for `false`, else a fresh one.
 * @throws {ContainerStartError} for an empty string
 */
export function serverToken(token: string | false | undefined): string | undefined {
  if (token === false) return undefined;
  if (token === '') throw new ContainerStartError('Invalid token: expected a non-empty string or false, received "".');
  return token ?? randomBytes(32).toString('base64url');
}
