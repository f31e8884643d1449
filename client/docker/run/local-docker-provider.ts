import type { Container as EngineContainer, ContainerCreateOptions } from 'dockerode';
import {
  ContainerStartError,
  DEFAULT_CONTAINER_PORT,
  MANAGED_LABEL,
  OWNER_LABEL,
  ownerGone,
  ownerLabelValue,
  serverToken,
  waitUntilHealthy,
  withLogs,
  type CleanupOptions,
  type ContainerProvider,
  type ContainerSpec,
  type HealthyStart,
} from '../../provider/index.js';
import { containerLogs } from './container-logs.js';
import { connectDocker, describeEngineAddress, engineAddress, type DockerEngine, type EngineAddress } from './docker-connection.js';
import { DEFAULT_STOP_TIMEOUT_S, DockerContainer, dockerState } from './docker-container.js';
import { dockerError } from './docker-errors.js';
import { trackContainer, untrackContainer } from './exit-cleanup.js';
import { publishedUrl, publishTarget } from './publish-host.js';
import {
  DEFAULT_CONTAINER_USER,
  hardenedHostConfig,
  resolveHardening,
  resolveLimits,
  type HardeningOptions,
  type ResolvedHardening,
} from './hardened-host-config.js';

/** Options of a {@link LocalDockerProvider}: the engine and the hardening every container gets. */
export interface LocalDockerProviderOptions extends HardeningOptions {
  /**
   * The engine to use: a local or remote one (dockerode options: `new Docker({ host, port,
   * protocol: 'https', ca, cert, key })`, `new Docker({ protocol: 'ssh', host, username })`).
   * @default the one `DOCKER_HOST` names (`unix://`, `tcp://` with `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`, `ssh://`), else the local socket
   */
  docker?: DockerEngine;
  /**
   * The address clients reach the engine's machine on. On anything but loopback, ports are
   * published on every interface of that machine and every container gets a token.
   * @default 127.0.0.1 for a unix socket or a loopback address; the engine's host for a remote engine
   */
  publishHost?: string;
}

/** Options of one container start: a {@link ContainerSpec} but for its image. */
export type StartContainerOptions = Omit<ContainerSpec, 'image'>;

/**
 * Starts envbox appliance containers on a local Docker engine, each with the one hardened
 * HostConfig ({@link hardenedHostConfig}), its port published on 127.0.0.1 only (on a remote
 * engine, `DOCKER_HOST=tcp://…` or `ssh://…`: on that host's address, with a token always), labelled
 * `MANAGED_LABEL`, and returns them once `GET /health` answers healthy (`waitUntilHealthy`). Every container is
 * removed by its `close()`, by the provider's `close()`, or when the process ends (see
 * `exit-cleanup.ts`); `cleanup()` removes leftovers of processes that were killed.
 *
 * @example
 * await using provider = new LocalDockerProvider({ memoryLimitBytes: 512 * 1024 ** 2 });
 * const container = await provider.start({ image: 'envbox/appliance:latest' });
 * const env = new CodingEnv({ baseUrl: container.baseUrl });
 */
export class LocalDockerProvider implements ContainerProvider<DockerContainer> {
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
   * Create and start a hardened container of `spec.image` (its `limits` over the provider's
   * hardening), and wait until its server is healthy. Also `start(image, options)`.
   * @throws {DockerUnavailableError} when no engine answers
   * @throws {ImageNotFoundError} when the engine does not have the image
   * @throws {ContainerStartError} when it cannot be created or started, exits before it is
   *   healthy (the message ends with its last log lines), or the start is aborted
   * @throws {HealthTimeoutError} when it runs but is not healthy within `healthTimeoutMs` (with its last log lines)
   */
  start(spec: ContainerSpec): Promise<DockerContainer>;
  start(image: string, options?: StartContainerOptions): Promise<DockerContainer>;
  async start(specOrImage: ContainerSpec | string, options: StartContainerOptions = {}): Promise<DockerContainer> {
    const spec: ContainerSpec = typeof specOrImage === 'string' ? { ...options, image: specOrImage } : specOrImage;
    const { image } = spec;
    if (this.#closed) throw new ContainerStartError('This LocalDockerProvider is closed; create a new one.');
    if (spec.signal?.aborted === true) throw new ContainerStartError(`Start of ${image} was aborted before it began.`, { cause: spec.signal.reason });
    const user = spec.user ?? DEFAULT_CONTAINER_USER;
    if (/^(0|root)(:|$)/.test(user)) {
      throw new ContainerStartError(`Invalid user: expected a non-root user such as ${DEFAULT_CONTAINER_USER}, received ${JSON.stringify(user)}.`);
    }
    this.#hardening ??= resolveHardening(this.#options);
    const hardening = spec.limits === undefined ? this.#hardening : { ...this.#hardening, ...resolveLimits({ ...this.#options, ...spec.limits }) };
    const { engine, address, endpoint } = await this.#connect();
    const publish = publishTarget(engine, this.#options.publishHost);
    if (publish.exposed && spec.token === false) {
      throw new ContainerStartError(
        `Invalid token: expected a string or undefined, received false; the engine at ${endpoint} publishes on ${publish.host}, reachable from other machines, so a token is always set.`,
      );
    }
    const containerPort = spec.containerPort ?? DEFAULT_CONTAINER_PORT;
    const portKey = `${containerPort}/tcp`;
    const stopTimeoutS = spec.stopTimeoutS ?? DEFAULT_STOP_TIMEOUT_S;
    const token = serverToken(spec.token);
    const env = { ...spec.env, ...(token === undefined ? {} : { ENVBOX_TOKEN: token }) };
    const create: ContainerCreateOptions = {
      Image: image,
      User: user,
      Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
      Labels: { ...spec.labels, [MANAGED_LABEL]: 'true', [OWNER_LABEL]: ownerLabelValue() },
      ExposedPorts: { [portKey]: {} },
      StopTimeout: stopTimeoutS,
      HostConfig: hardenedHostConfig(hardening, containerPort, publish.bindIp),
    };
    if (spec.command !== undefined) create.Cmd = [...spec.command];
    if (spec.name !== undefined) create.name = spec.name;

    const started = performance.now();
    let container: EngineContainer;
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
      const binding = info.NetworkSettings.Ports?.[portKey]?.find((entry) => entry.HostIp === publish.bindIp);
      hostPort = Number(binding?.HostPort);
      if (!Number.isInteger(hostPort) || hostPort <= 0) {
        throw new Error(`no ${publish.bindIp} binding of ${portKey} in ${JSON.stringify(info.NetworkSettings.Ports ?? null)}`);
      }
    } catch (error) {
      const logs = await containerLogs(container);
      const message = `Container ${short} of ${image} started, but its published port cannot be read (${(error as Error).message})`;
      return fail(new ContainerStartError(withLogs(message, logs), { cause: error, containerId: container.id, logs }));
    }

    const running = performance.now();
    let healthy: HealthyStart;
    try {
      const starting = {
        id: container.id,
        image,
        baseUrl: publishedUrl(publish.host, hostPort),
        token,
        logs: (tailLines?: number) => containerLogs(container, tailLines),
        state: () => dockerState(container),
      };
      const waitOptions: { timeoutMs?: number; signal?: AbortSignal } = {};
      if (spec.healthTimeoutMs !== undefined) waitOptions.timeoutMs = spec.healthTimeoutMs;
      if (spec.signal !== undefined) waitOptions.signal = spec.signal;
      healthy = await waitUntilHealthy(starting, waitOptions);
    } catch (error) {
      return fail(error as Error);
    }

    const done = performance.now();
    const handle = new DockerContainer({
      container,
      image,
      hostPort,
      publishHost: publish.host,
      timings: {
        createMs: Math.round(created - started),
        startMs: Math.round(running - created),
        healthyMs: Math.round(done - running),
        healthProbes: healthy.attempts,
        totalMs: Math.round(done - started),
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
   * Remove leftover envbox containers, found by the `MANAGED_LABEL` label: those whose owner
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
async function removeQuietly(container: EngineContainer): Promise<void> {
  // A failure here is reported by whatever the caller is already throwing; the label finds the rest.
  await container.remove({ force: true, v: true }).catch(() => undefined);
}

/**
 * Whether a managed container is a leftover: its owner process is gone, or, without an owner
 * label (e.g. `make run-docker`'s), it is no longer running. An owner on another host counts as
 * alive: it cannot be checked from here.
 */
function isLeftover(state: string, owner: string | undefined): boolean {
  if (owner === undefined) return state !== 'running';
  return ownerGone(owner);
}
