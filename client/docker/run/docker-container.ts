import type { Container } from 'dockerode';
import type { HealthResponse } from '../../protocol/index.js';
import { containerLogs, DEFAULT_LOG_TAIL_LINES } from './container-logs.js';
import type { EngineAddress } from './docker-connection.js';
import { dockerError, engineStatus, type ContainerGoneState } from './docker-errors.js';
import { untrackContainer } from './exit-cleanup.js';

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
  container: Container;
  image: string;
  hostPort: number;
  /** The first healthy `GET /health` body. */
  health: HealthResponse;
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
 * A running, healthy appliance container started by `LocalDockerProvider`. `close()` stops and
 * removes it; until then the process's exit handlers remove it if the process ends.
 */
export class DockerContainer {
  /** The container's full id. */
  readonly id: string;
  /** The image it runs. */
  readonly image: string;
  /** The ephemeral port on 127.0.0.1 its server is published on. */
  readonly hostPort: number;
  /** Where its server answers, e.g. `http://127.0.0.1:49153`. */
  readonly baseUrl: string;
  /** What `GET /health` answered when it became healthy (e.g. `isolation`). */
  readonly health: Readonly<HealthResponse>;
  /** Where the start's time went. */
  readonly timings: Readonly<StartTimings>;
  readonly #init: DockerContainerInit;
  #closing: Promise<void> | undefined;

  constructor(init: DockerContainerInit) {
    this.#init = init;
    this.id = init.container.id;
    this.image = init.image;
    this.hostPort = init.hostPort;
    this.baseUrl = `http://127.0.0.1:${init.hostPort}`;
    this.health = init.health;
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
   * Whether the engine says it is still running: undefined when it is (or the engine cannot be
   * asked), else its state (`removed` when the engine no longer knows it). Never throws.
   */
  async notRunning(): Promise<ContainerGoneState | undefined> {
    try {
      const { State } = await this.#init.container.inspect();
      return State.Running ? undefined : { status: State.Status, exitCode: State.Status === 'exited' ? State.ExitCode : null };
    } catch (error) {
      return engineStatus(error) === 404 ? { status: 'removed', exitCode: null } : undefined;
    }
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
