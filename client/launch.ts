import { LocalDockerProvider, type StartContainerOptions } from './docker/run/index.js';
import type { EnvClientOptions, FromProviderOptions } from './env-client-options.js';
import type { Container, ContainerProvider, ContainerSpec } from './provider/index.js';

/** Options of `fromDockerImage`: how to start the container, and how the client talks to it. */
export interface FromDockerImageOptions extends FromProviderOptions, StartContainerOptions {
  /**
   * The provider that starts the container (its engine and hardening: memory, pids, CPUs,
   * runtime). @default a new `LocalDockerProvider()` with the default hardening
   */
  provider?: LocalDockerProvider;
}

/**
 * Start a container from `spec` through `provider` (which waits until it is healthy), and make a
 * client of it with `create`. The client owns the container: its `close()` (and `await using`)
 * stops and removes it, and gets the container's bearer token. If making the client fails, the
 * container is removed at once.
 * @throws {ContainerStartError | HealthTimeoutError} see `ContainerProvider.start`, and the provider's own errors
 */
export async function launchFromProvider<C>(
  provider: ContainerProvider,
  spec: ContainerSpec,
  options: FromProviderOptions,
  create: (clientOptions: EnvClientOptions) => C,
): Promise<C> {
  const container = await provider.start(spec);
  try {
    return create(clientOptionsFor(container, options));
  } catch (error) {
    await container.close().catch(() => undefined);
    throw error;
  }
}

/**
 * Start a hardened container of `image` on the local Docker engine (`options.provider`, else a
 * new `LocalDockerProvider`) and make a client of it with `create`: {@link launchFromProvider}
 * with the options split into the container's and the client's.
 * @throws {DockerUnavailableError | ImageNotFoundError | ContainerStartError | HealthTimeoutError} see `LocalDockerProvider.start`
 */
export function launchFromDockerImage<C>(
  image: string,
  options: FromDockerImageOptions,
  create: (clientOptions: EnvClientOptions) => C,
): Promise<C> {
  const { provider = new LocalDockerProvider(), transport, session, headers, timeoutMs, ...start } = options;
  const client: FromProviderOptions = {};
  if (transport !== undefined) client.transport = transport;
  if (session !== undefined) client.session = session;
  if (headers !== undefined) client.headers = headers;
  if (timeoutMs !== undefined) client.timeoutMs = timeoutMs;
  return launchFromProvider(provider, { ...start, image }, client, create);
}

/** The client options of `container`: where it answers, its token (one per container unless `token: false`), and `options`. */
function clientOptionsFor(container: Container, options: FromProviderOptions): EnvClientOptions {
  const clientOptions: EnvClientOptions = { ...options, baseUrl: container.baseUrl, container };
  if (container.token !== undefined) clientOptions.token = container.token;
  return clientOptions;
}
