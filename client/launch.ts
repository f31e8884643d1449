import type { EnvClientOptions } from '../env-client.js';
import { LocalDockerProvider, type StartContainerOptions } from './local-docker-provider.js';

/** Options of `fromDockerImage`: how to start the container, and how the client talks to it. */
export interface FromDockerImageOptions extends Omit<EnvClientOptions, 'baseUrl' | 'container' | 'token'>, StartContainerOptions {
  /**
   * The provider that starts the container (its engine and hardening: memory, pids, CPUs,
   * runtime). @default a new `LocalDockerProvider()` with the default hardening
   */
  provider?: LocalDockerProvider;
}

/**
 * Start a hardened container of `image`, wait until it is healthy, and make a client of it with
 * `create`. The client owns the container: its `close()` (and `await using`) stops and removes it.
 * The client gets the container's bearer token. If making the client fails, the container is removed at once.
 * @throws {DockerUnavailableError | ImageNotFoundError | ContainerStartError | HealthTimeoutError} see `LocalDockerProvider.start`
 */
export async function launchFromDockerImage<C>(
  image: string,
  options: FromDockerImageOptions,
  create: (clientOptions: EnvClientOptions) => C,
): Promise<C> {
  const { provider = new LocalDockerProvider(), transport, session, headers, timeoutMs, ...start } = options;
  const container = await provider.start(image, start);
  const clientOptions: EnvClientOptions = { baseUrl: container.baseUrl, container };
  // The token the provider gave the server (one per container unless `token: false`).
  if (container.token !== undefined) clientOptions.token = container.token;
  if (transport !== undefined) clientOptions.transport = transport;
  if (session !== undefined) clientOptions.session = session;
  if (headers !== undefined) clientOptions.headers = headers;
  if (timeoutMs !== undefined) clientOptions.timeoutMs = timeoutMs;
  try {
    return create(clientOptions);
  } catch (error) {
    await container.close().catch(() => undefined);
    throw error;
  }
}
