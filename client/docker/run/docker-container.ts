import type { Container as EngineContainer } from 'dockerode';
import type { HealthResponse } from '../../../protocol/index.js';
import { checkHealth, DEFAULT_LOG_TAIL_LINES, type Container, type ContainerState, type HealthCheckOptions } from '../../provider/index.js';
import { containerLogs } from './container-logs.js';
import type { EngineAddress } from './docker-connection.js';
import { dockerError, engineStatus } from './docker-errors.js';
import { untrackContainer } from './exit-cleanup.js';
import { publishedUrl } from './publish-host.js';

/** Seconds a container gets between SIGTERM and SIGKILL when it is closed. @default 5 s */
export const DEFAULT_STOP_TIMEOUT_S = 5;

/** Where the time of a start went, in milliseconds. */
export interface StartTimings {
  /** `POST /containers/create`. */
  createMs: number;
  /** `POST /containers/<id>/start` and the inspect that reads the port. */
  startMs: number;
  /** From started to the first healthy `GET /health`. */
  healthyMs: number;
  /** Health probes made. */
  healthProbes: number;
  /** The whole start. */
  totalMs: number;
}

/** What a {@link DockerContainer} is made of; built by `LocalDockerProvider.start()`. */
export interface DockerContainerInit {
  container: EngineContainer;
  image: string;
  hostPort: number;
  /** Where the port is reached: 127.0.0.1, or a remote engine's host. */
  publishHost: string;
  timings: StartTimings;
  address: EngineAddress;
  endpoint: string;
  stopTimeoutS: number;
  /** The server's bearer token, or undefined when it runs without auth. */
  token: string | undefined;
  /** Told once the container is gone (the provider forgets it). */
  onClosed: (container: DockerContainer) => void;
}

/**
 * A running, healthy appliance container started by `LocalDockerProvider`: the {@link Container}
 * of the local Docker engine. `close()` stops and removes it; until then the process's exit
 * handlers remove it if the process ends.
 */
export class DockerContainer implements Container {
  /** The container's full id. */
  readonly id: string;
  /** The image it runs. */
  readonly image: string;
  /** The ephemeral host port its server is published on (on 127.0.0.1, or on a remote engine's host). */
  readonly hostPort: number;
  /** Where its server answers, e.g. `http://127.0.0.1:49153` (a remote engine: `http://<its host>:<port>`). */
  readonly baseUrl: string;
  /** Where the start's time went. */
  readonly timings: Readonly<StartTimings>;
  readonly #init: DockerContainerInit;
  #closing: Promise<void> | undefined;

  constructor(init: DockerContainerInit) {
    this.#init = init;
    this.id = init.container.id;
    this.image = init.image;
    this.hostPort = init.hostPort;
    this.baseUrl = publishedUrl(init.publishHost, init.hostPort);
    this.timings = init.timings;
  }

  /**
   * The bearer token its server requires (pass it as the client's `token`), or undefined when it
   * runs without auth. A getter over a private field, so logging or JSON-serialising the handle
   * does not print it.
   */
  get token(): string | undefined {
    return this.#init.token;
  }

  /** False once `close()` was called. */
  get alive(): boolean {
    return this.#closing === undefined;
  }

  /**
   * Its server's `GET /health` now, with the token (e.g. `isolation`).
   * @throws {TransportError} when it does not answer healthy within `timeoutMs`
   */
  health(options: HealthCheckOptions = {}): Promise<HealthResponse> {
    return checkHealth(this, options);
  }

  /** Whether the engine says it still runs; undefined when the engine cannot be asked. Never throws. */
  state(): Promise<ContainerState | undefined> {
    return dockerState(this.#init.container);
  }

  /** The last `tailLines` lines it wrote (stdout and stderr). Never throws. */
  logs(tailLines: number = DEFAULT_LOG_TAIL_LINES): Promise<string> {
    return containerLogs(this.#init.container, tailLines);
  }

  /**
   * Stop it (SIGTERM, SIGKILL after `stopTimeoutS`) and remove it with its anonymous volumes.
   * Idempotent; a container already gone is not an error.
   * @throws {DockerUnavailableError} when the engine cannot be reached (the exit handlers still try later)
   * @throws {DockerEngineError} when the engine refuses
   */
  close(): Promise<void> {
    this.#closing ??= this.#remove();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #remove(): Promise<void> {
    const { container, endpoint, stopTimeoutS } = this.#init;
    const context = { action: `remove container ${this.id.slice(0, 12)}`, endpoint, phase: 'engine' as const };
    try {
      await container.stop({ t: stopTimeoutS }).catch((error: unknown) => {
        // 304: already stopped; 404: already gone. Removal below settles both.
        const status = engineStatus(error);
        if (status !== 304 && status !== 404) throw error;
      });
      await container.remove({ force: true, v: true }).catch((error: unknown) => {
        const status = engineStatus(error);
        // 404: gone; 409: removal already in progress (e.g. by the exit handlers).
        if (status !== 404 && status !== 409) throw error;
      });
    } catch (error) {
      throw dockerError(error, context);
    }
    untrackContainer(this.id);
    this.#init.onClosed(this);
  }
}

/**
 * What the engine says of `container`: running or not, with its exit code and why (OOM-killed,
 * the engine's error); `removed` when the engine no longer knows it; undefined when the engine
 * cannot be asked. Never throws.
 */
export async function dockerState(container: EngineContainer): Promise<ContainerState | undefined> {
  try {
    const { State } = await container.inspect();
    const state: ContainerState = {
      running: State.Running,
      status: State.Status,
      exitCode: State.Status === 'exited' || State.Status === 'dead' ? State.ExitCode : null,
    };
    const notes = [...(State.OOMKilled ? ['killed for exceeding its memory limit'] : []), ...(State.Error === '' ? [] : [State.Error])];
    if (notes.length > 0) state.notes = notes;
    return state;
  } catch (error) {
    return engineStatus(error) === 404 ? { running: false, status: 'removed', exitCode: null } : undefined;
  }
}
