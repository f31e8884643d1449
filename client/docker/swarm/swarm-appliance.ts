import type { HealthResponse } from '../../../protocol/index.js';
import { checkHealth, DEFAULT_LOG_TAIL_LINES, type Container, type ContainerState, type HealthCheckOptions } from '../../provider/index.js';
import { DockerEngineError, dockerError, engineStatus, untrackContainer, type DockerEngine } from '../run/index.js';
import { serviceLogs, serviceTasks, taskState, waitUntilNoTasks } from './service-tasks.js';

/** How long `close()` waits for a removed service's task (its container) to be gone. @default 30 s */
export const DEFAULT_REMOVE_TIMEOUT_MS = 30_000;

/** Where the time of a Swarm start went, in milliseconds. */
export interface SwarmStartTimings {
  /** Waiting for a free start slot (`maxConcurrentStarts`). */
  queuedMs: number;
  /** `POST /services/create`. */
  createMs: number;
  /** From created to its task running with a published port. */
  scheduledMs: number;
  /** From running to the first healthy `GET /health`. */
  healthyMs: number;
  /** The whole start, queue included. */
  totalMs: number;
}

/** What a {@link SwarmAppliance} is made of; built by `DockerSwarmProvider.start()`. */
export interface SwarmApplianceInit {
  engine: DockerEngine;
  serviceId: string;
  serviceName: string;
  image: string;
  imageId: string;
  nodeId: string;
  nodeName: string;
  nodeAddress: string;
  hostPort: number;
  token: string;
  timings: SwarmStartTimings;
  endpoint: string;
  removeTimeoutMs: number;
  onClosed: (appliance: SwarmAppliance) => void;
}

/**
 * One appliance running as a one-replica Swarm service, started by `DockerSwarmProvider`: the
 * {@link Container} of a swarm. Its id is the service's id; it answers on its node's address and
 * the host-mode port of its task. `close()` removes the service and waits until its task is gone.
 */
export class SwarmAppliance implements Container {
  /** The service's id. */
  readonly id: string;
  /** The service's name. */
  readonly serviceName: string;
  /** The image it was asked to run (a tag or an id). */
  readonly image: string;
  /** The image ID the service runs. */
  readonly imageId: string;
  /** The swarm node its task runs on: id, hostname and address. */
  readonly node: Readonly<{ id: string; name: string; address: string }>;
  /** The host-mode port its server is published on, on the node's address. */
  readonly hostPort: number;
  /** Where its server answers, e.g. `http://192.168.213.2:30001`. */
  readonly baseUrl: string;
  /** Where the start's time went. */
  readonly timings: Readonly<SwarmStartTimings>;
  readonly #init: SwarmApplianceInit;
  #closing: Promise<void> | undefined;

  constructor(init: SwarmApplianceInit) {
    this.#init = init;
    this.id = init.serviceId;
    this.serviceName = init.serviceName;
    this.image = init.image;
    this.imageId = init.imageId;
    this.node = { id: init.nodeId, name: init.nodeName, address: init.nodeAddress };
    this.hostPort = init.hostPort;
    this.baseUrl = `http://${formatHost(init.nodeAddress)}:${init.hostPort}`;
    this.timings = init.timings;
  }

  /** The bearer token its server requires (always set: host-mode ports listen on every interface of the node). */
  get token(): string {
    return this.#init.token;
  }

  /** False once `close()` was called. */
  get alive(): boolean {
    return this.#closing === undefined;
  }

  /**
   * Its server's `GET /health` now, with the token.
   * @throws {TransportError} when it does not answer healthy within `timeoutMs`
   */
  health(options: HealthCheckOptions = {}): Promise<HealthResponse> {
    return checkHealth(this, options);
  }

  /** Whether its task still runs, as the manager sees it; undefined when the manager cannot be asked. Never throws. */
  async state(): Promise<ContainerState | undefined> {
    try {
      return taskState((await serviceTasks(this.#init.engine, this.id))[0]);
    } catch (error) {
      return engineStatus(error) === 404 ? { running: false, status: 'removed', exitCode: null } : undefined;
    }
  }

  /** The last `tailLines` lines it wrote (through the manager). Never throws. */
  logs(tailLines: number = DEFAULT_LOG_TAIL_LINES): Promise<string> {
    return serviceLogs(this.#init.engine, this.id, tailLines);
  }

  /**
   * Remove the service (SIGTERM to its server, SIGKILL after the grace period) and wait until its
   * task is gone from the manager's list, i.e. its node removed the container. Idempotent; a
   * service already gone is not an error.
   * @throws {DockerEngineError} when the manager refuses, or the task is still there after `removeTimeoutMs`
   */
  close(): Promise<void> {
    this.#closing ??= this.#remove();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #remove(): Promise<void> {
    try {
      await removeService(this.#init.engine, this.id, this.#init.endpoint, this.#init.removeTimeoutMs);
    } finally {
      this.#init.onClosed(this);
    }
  }
}

/**
 * Remove service `serviceId` and wait until its tasks are gone. A service already gone is fine.
 * @throws {DockerEngineError} when the manager refuses, or tasks remain after `timeoutMs`
 */
export async function removeService(engine: DockerEngine, serviceId: string, endpoint: string, timeoutMs: number): Promise<void> {
  const context = { action: `remove service ${serviceId.slice(0, 12)}`, endpoint, phase: 'engine' as const };
  try {
    await engine
      .getService(serviceId)
      .remove()
      .catch((error: unknown) => {
        if (engineStatus(error) !== 404) throw error;
      });
    untrackContainer(serviceId);
    if (await waitUntilNoTasks(engine, serviceId, timeoutMs)) return;
  } catch (error) {
    throw dockerError(error, context);
  }
  throw new DockerEngineError(
    `Cannot ${context.action} on ${endpoint}: its task was still listed ${timeoutMs} ms after the service was removed; is its node down? (docker node ls)`,
  );
}

/** `address` as the host part of a URL (IPv6 in brackets). */
function formatHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}
