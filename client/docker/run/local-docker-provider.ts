import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Container, ContainerCreateOptions } from 'dockerode';
import { containerLogs } from './container-logs.js';
import { connectDocker, describeEngineAddress, engineAddress, type DockerEngine, type EngineAddress } from './docker-connection.js';
import { DEFAULT_STOP_TIMEOUT_S, DockerContainer } from './docker-container.js';
import { ContainerStartError, dockerError, engineStatus, HealthTimeoutError } from './docker-errors.js';
import { trackContainer, untrackContainer } from './exit-cleanup.js';
import { DEFAULT_CONTAINER_USER, hardenedHostConfig, resolveHardening, type HardeningOptions, type ResolvedHardening } from './hardened-host-config.js';
import { DEFAULT_HEALTH_TIMEOUT_MS, waitForHealth, type HealthWait } from './wait-for-health.js';

/** The label on every container envbox creates; `cleanup()` finds leftovers by it. */
export const MANAGED_LABEL = 'envbox.managed';
/** The label naming the process that owns a container, as `<hostname>:<pid>`. */
export const OWNER_LABEL = 'envbox.owner';
/** The port the appliance listens on inside the container. @default 8000 */
export const DEFAULT_CONTAINER_PORT = 8000;
/** How often, while waiting for health, the container is checked for having exited. @default 250 ms */
const EXIT_CHECK_INTERVAL_MS = 250;

/** Options of a {@link LocalDockerProvider}: the engine and the hardening every container gets. */
export interface LocalDockerProviderOptions extends HardeningOptions {
  /** The engine to use. @default the one `DOCKER_HOST` names, else the local socket */
  docker?: DockerEngine;
}

/** Options of one container start. */
export interface StartContainerOptions {
  /**
   * Arguments after the image's entrypoint (`envbox serve`), e.g. `['--env', 'echo_env']`.
   * @default the image's CMD (`--env coding_env`)
   */
  command?: readonly string[];
  /** Environment variables of the server, e.g. `{ ENVBOX_PYTHON_BACKEND: 'process' }`. */
  env?: Readonly<Record<string, string>>;
  /**
   * The server's bearer token, passed as `ENVBOX_TOKEN` and kept on the container
   * (`DockerContainer.token`) for its clients; `false` runs the server without auth.
   * @default a fresh one per container: 32 random bytes, base64url
   */
  token?: string | false;
  /** A container name. @default one the engine picks */
  name?: string;
  /** Extra labels (the managed and owner labels are always set). */
  labels?: Readonly<Record<string, string>>;
  /** The port the server listens on inside the container. @default {@link DEFAULT_CONTAINER_PORT} */
  containerPort?: number;
  /** The user to run as; never root. @default {@link DEFAULT_CONTAINER_USER} */
  user?: string;
  /** How long the server gets to answer `GET /health`. @default {@link DEFAULT_HEALTH_TIMEOUT_MS} */
  healthTimeoutMs?: number;
  /** Seconds between SIGTERM and SIGKILL on close. @default {@link DEFAULT_STOP_TIMEOUT_S} */
  stopTimeoutS?: number;
  /** Abort the start (the container, if created, is removed). */
  signal?: AbortSignal;
}

/** Options of {@link LocalDockerProvider.cleanup}. */
export interface CleanupOptions {
  /**
   * Remove every envbox container, also those of live processes (including this one's).
   * @default false: only leftovers: those whose owner process (on this host) is gone, and stopped
   *   ones that name no owner
   */
  all?: boolean;
}

/**
 * Starts envbox appliance containers on a local Docker engine, each with the one hardened
 * HostConfig ({@link hardenedHostConfig}), its port published on 127.0.0.1 only, labelled
 * {@link MANAGED_LABEL}, and returns them once `GET /health` answers healthy. Every container is
 * removed by its `close()`, by the provider's `close()`, or when the process ends (see
 * `exit-cleanup.ts`); `cleanup()` removes leftovers of processes that were killed.
 *
 * @example
 * await using provider = new LocalDockerProvider({ memoryLimitBytes: 512 * 1024 ** 2 });
 * const container = await provider.start('envbox/appliance:latest');
 * const env = new CodingEnv({ baseUrl: container.baseUrl });
 */
export class LocalDockerProvider {
  readonly #options: LocalDockerProviderOptions;
  readonly #containers = new Set<DockerContainer>();
  #docker: Promise<{ engine: DockerEngine; address: EngineAddress; endpoint: string }> | undefined;
  #hardening: ResolvedHardening | undefined;
  #closed = false;

  constructor(options: LocalDockerProviderOptions = {}) {
    this.#options = options;
  }

  /** The containers started by this provider and not yet closed. */
  get containers(): readonly DockerContainer[] {
    return [...this.#containers];
  }

  /**
   * Create and start a hardened container of `image`, and wait until its server is healthy.
   * @throws {DockerUnavailableError} when no engine answers
   * @throws {ImageNotFoundError} when the engine does not have `image`
   * @throws {ContainerStartError} when it cannot be created or started, exits before it is
   *   healthy (the message ends with its last log lines), or the start is aborted
   * @throws {HealthTimeoutError} when it runs but is not healthy within `healthTimeoutMs` (with its last log lines)
   */
  async start(image: string, options: StartContainerOptions = {}): Promise<DockerContainer> {
    if (this.#closed) throw new ContainerStartError('This LocalDockerProvider is closed; create a new one.');
    if (options.signal?.aborted === true) throw new ContainerStartError(`Start of ${image} was aborted before it began.`, { cause: options.signal.reason });
    const user = options.user ?? DEFAULT_CONTAINER_USER;
    if (/^(0|root)(:|$)/.test(user)) {
      throw new ContainerStartError(`Invalid user: expected a non-root user such as ${DEFAULT_CONTAINER_USER}, received ${JSON.stringify(user)}.`);
    }
    this.#hardening ??= resolveHardening(this.#options);
    const { engine, address, endpoint } = await this.#connect();
    const containerPort = options.containerPort ?? DEFAULT_CONTAINER_PORT;
    const portKey = `${containerPort}/tcp`;
    const stopTimeoutS = options.stopTimeoutS ?? DEFAULT_STOP_TIMEOUT_S;
    const token = options.token === false ? undefined : (options.token ?? randomBytes(32).toString('base64url'));
    if (token === '') throw new ContainerStartError('Invalid token: expected a non-empty string or false, received "".');
    const env = { ...options.env, ...(token === undefined ? {} : { ENVBOX_TOKEN: token }) };
    const create: ContainerCreateOptions = {
      Image: image,
      User: user,
      Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
      Labels: { ...options.labels, [MANAGED_LABEL]: 'true', [OWNER_LABEL]: `${hostname()}:${process.pid}` },
      ExposedPorts: { [portKey]: {} },
      StopTimeout: stopTimeoutS,
      HostConfig: hardenedHostConfig(this.#hardening, containerPort),
    };
    if (options.command !== undefined) create.Cmd = [...options.command];
    if (options.name !== undefined) create.name = options.name;

    const started = performance.now();
    let container: Container;
    try {
      container = await engine.createContainer(create);
    } catch (error) {
      throw dockerError(error, { action: `create a container of ${image}`, image, endpoint });
    }
    const created = performance.now();
    const short = container.id.slice(0, 12);
    trackContainer({ id: container.id, address });
    const fail = async (error: Error): Promise<never> => {
      await removeQuietly(container);
      untrackContainer(container.id);
      throw error;
    };

    try {
      await container.start();
    } catch (error) {
      const logs = await containerLogs(container);
      const mapped = dockerError(error, { action: `start container ${short} of ${image}`, image, endpoint, containerId: container.id });
      return fail(new ContainerStartError(withLogs(mapped.message, logs), { cause: error, containerId: container.id, logs }));
    }

    let hostPort: number;
    try {
      const info = await container.inspect();
      const binding = info.NetworkSettings.Ports?.[portKey]?.find((entry) => entry.HostIp === '127.0.0.1');
      hostPort = Number(binding?.HostPort);
      if (!Number.isInteger(hostPort) || hostPort <= 0) {
        throw new Error(`no 127.0.0.1 binding of ${portKey} in ${JSON.stringify(info.NetworkSettings.Ports ?? null)}`);
      }
    } catch (error) {
      const logs = await containerLogs(container);
      const message = `Container ${short} of ${image} started, but its published port cannot be read (${(error as Error).message})`;
      return fail(new ContainerStartError(withLogs(message, logs), { cause: error, containerId: container.id, logs }));
    }

    const running = performance.now();
    const healthUrl = `http://127.0.0.1:${hostPort}/health`;
    const timeoutMs = options.healthTimeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS;
    let lastExitCheck = performance.now();
    const waitOptions: Parameters<typeof waitForHealth>[1] = {
      timeoutMs,
      stopReason: async () => {
        if (performance.now() - lastExitCheck < EXIT_CHECK_INTERVAL_MS) return undefined;
        lastExitCheck = performance.now();
        return exitReason(container);
      },
    };
    if (options.signal !== undefined) waitOptions.signal = options.signal;
    // With the token, /health answers its full body (isolation facts) rather than liveness only.
    if (token !== undefined) waitOptions.headers = { authorization: `Bearer ${token}` };
    const wait = await waitForHealth(healthUrl, waitOptions);
    if (!wait.healthy) {
      const logs = await containerLogs(container);
      return fail(unhealthyError(wait, { image, id: container.id, healthUrl, timeoutMs, logs, signal: options.signal }));
    }

    const healthy = performance.now();
    const handle = new DockerContainer({
      container,
      image,
      hostPort,
      health: wait.body,
      timings: {
        createMs: Math.round(created - started),
        startMs: Math.round(running - created),
        healthyMs: Math.round(healthy - running),
        healthProbes: wait.attempts,
        totalMs: Math.round(healthy - started),
      },
      address,
      endpoint,
      stopTimeoutS,
      token,
      onClosed: (closed) => this.#containers.delete(closed),
    });
    this.#containers.add(handle);
    return handle;
  }

  /**
   * Remove leftover envbox containers, found by the {@link MANAGED_LABEL} label: those whose owner
   * process (on this host) is gone (killed before its exit handlers could run), and stopped ones
   * that name no owner. With `all`, every envbox container.
   * @returns the ids removed
   * @throws {DockerUnavailableError} when no engine answers
   * @throws {DockerEngineError} when the engine refuses to list them
   */
  async cleanup(options: CleanupOptions = {}): Promise<string[]> {
    const { engine, endpoint } = await this.#connect();
    let listed: Awaited<ReturnType<DockerEngine['listContainers']>>;
    try {
      listed = await engine.listContainers({ all: true, filters: { label: [`${MANAGED_LABEL}=true`] } });
    } catch (error) {
      throw dockerError(error, { action: 'list envbox containers', endpoint, phase: 'engine' });
    }
    const leftovers = listed.filter((info) => options.all === true || isLeftover(info.State, info.Labels[OWNER_LABEL]));
    await Promise.all(
      leftovers.map(async (info) => {
        await removeQuietly(engine.getContainer(info.Id));
        untrackContainer(info.Id);
      }),
    );
    return leftovers.map((info) => info.Id);
  }

  /** Close every container this provider started and refuse new starts. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const results = await Promise.allSettled([...this.#containers].map((container) => container.close()));
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #connect(): Promise<{ engine: DockerEngine; address: EngineAddress; endpoint: string }> {
    this.#docker ??= (async () => {
      const engine = await connectDocker(this.#options.docker);
      const address = await engineAddress(engine);
      return { engine, address, endpoint: describeEngineAddress(address) };
    })();
    return this.#docker;
  }
}

/** Force-remove a container, never throwing: one already gone is fine, other failures are left to `cleanup()`. */
async function removeQuietly(container: Container): Promise<void> {
  // A failure here is reported by whatever the caller is already throwing; the label finds the rest.
  await container.remove({ force: true, v: true }).catch(() => undefined);
}

/** Why waiting for health is pointless (the container stopped), or undefined while it runs. */
async function exitReason(container: Container): Promise<string | undefined> {
  try {
    const { State } = await container.inspect();
    if (State.Running) return undefined;
    return `the container exited with code ${State.ExitCode}${State.OOMKilled ? ' (killed for exceeding its memory limit)' : ''}${State.Error === '' ? '' : ` (${State.Error})`}`;
  } catch (error) {
    return engineStatus(error) === 404 ? 'the container was removed' : undefined;
  }
}

/**
 * Whether a managed container is a leftover: its owner process is gone, or, without an owner
 * label (e.g. `make run-docker`'s), it is no longer running. An owner on another host counts as
 * alive: it cannot be checked from here.
 */
function isLeftover(state: string, owner: string | undefined): boolean {
  if (owner === undefined) return state !== 'running';
  const match = /^(.*):(\d+)$/.exec(owner);
  if (match === null) return true;
  if (match[1] !== hostname()) return false;
  try {
    process.kill(Number(match[2]), 0);
    return false;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code !== 'EPERM';
  }
}

function withLogs(message: string, logs: string): string {
  const trimmed = message.replace(/[.;]\s*$/, '');
  return logs === '' ? `${trimmed}; it printed nothing.` : `${trimmed}. Its last log lines:\n${logs}`;
}

interface UnhealthyFacts {
  image: string;
  id: string;
  healthUrl: string;
  timeoutMs: number;
  logs: string;
  signal: AbortSignal | undefined;
}

function unhealthyError(wait: Extract<HealthWait, { healthy: false }>, facts: UnhealthyFacts): Error {
  const short = facts.id.slice(0, 12);
  const options = { containerId: facts.id, logs: facts.logs };
  if (wait.reason === 'timed out') {
    const message =
      `Container ${short} of ${facts.image} did not answer GET ${facts.healthUrl} healthy within ${facts.timeoutMs} ms ` +
      `(${wait.attempts} probes, the last: ${wait.detail}); raise healthTimeoutMs if it is only slow`;
    return new HealthTimeoutError(withLogs(message, facts.logs), { ...options, timeoutMs: facts.timeoutMs });
  }
  if (wait.reason === 'aborted') {
    return new ContainerStartError(`Start of container ${short} of ${facts.image} was aborted; the container was removed.`, {
      ...options,
      cause: facts.signal?.reason,
    });
  }
  return new ContainerStartError(withLogs(`Container ${short} of ${facts.image} stopped before it was healthy: ${wait.detail}`, facts.logs), options);
}
