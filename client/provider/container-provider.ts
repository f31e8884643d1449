import type { Container } from './container.js';
import type { ContainerSpec } from './container-spec.js';

/** Options of {@link ContainerProvider.cleanup}. */
export interface CleanupOptions {
  /**
   * Remove every envbox container, also those of live processes (including this one's).
   * @default false: only leftovers: those whose owner process (on this host) is gone, and stopped
   *   ones that name no owner
   */
  all?: boolean;
}

/**
 * Where appliance containers run: the local Docker engine (`LocalDockerProvider`), and later a
 * remote engine, Swarm or Kubernetes. `EnvClient.fromProvider(provider, spec)` starts a container
 * through it and returns a client that owns it.
 *
 * @typeParam K the provider's own container class
 */
export interface ContainerProvider<K extends Container = Container> extends AsyncDisposable {
  /** The image this provider starts when the caller names none (e.g. `EnvPool` without `spec.image`), if it has one. */
  readonly defaultImage?: string;
  /**
   * Start a hardened container from `spec`, labelled `MANAGED_LABEL` and `OWNER_LABEL`, and
   * resolve once its server answers `GET /health` healthy (see `waitUntilHealthy`). A container
   * that fails to start is removed before the promise rejects.
   * @throws {ContainerStartError} when it cannot start, stops before it is healthy, or the start is aborted
   * @throws {HealthTimeoutError} when it runs but is not healthy within `spec.healthTimeoutMs`
   */
  start(spec: ContainerSpec): Promise<K>;
  /**
   * Remove leftover envbox containers, found by `MANAGED_LABEL`.
   * @returns the ids removed
   */
  cleanup(options?: CleanupOptions): Promise<string[]>;
  /** Close every container this provider started and refuse new starts. Idempotent. */
  close(): Promise<void>;
}
