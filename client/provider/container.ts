import type { HealthResponse } from '../../protocol/index.js';

/** How many log lines a start failure carries, and `logs()` returns by default. @default 40 */
export const DEFAULT_LOG_TAIL_LINES = 40;

/** What a provider says of a container's process; see {@link Container.state}. */
export interface ContainerState {
  /** Whether its process still runs. */
  running: boolean;
  /**
   * The provider's name for the state (`running`, `exited`, `dead`, `paused`, ...), or `removed`
   * when the provider no longer knows the container.
   */
  status: string;
  /** Its exit code, once it exited. */
  exitCode: number | null;
  /** What else the provider knows of why it stopped, e.g. `killed for exceeding its memory limit`. */
  notes?: readonly string[];
}

/** Options of {@link Container.health}. */
export interface HealthCheckOptions {
  /** Give up after this many milliseconds. @default {@link DEFAULT_HEALTH_CHECK_TIMEOUT_MS} */
  timeoutMs?: number;
  /** Abort the check. */
  signal?: AbortSignal;
}

/** How long `Container.health()` waits for `GET /health`. @default 5 s */
export const DEFAULT_HEALTH_CHECK_TIMEOUT_MS = 5_000;

/**
 * A running, healthy envbox server in a container, started by a {@link ContainerProvider}: where
 * it answers, its token, and how to ask whether it still runs. Provider-neutral: the client's
 * health, start and gone handling only ever see this interface. `close()` stops and removes it.
 */
export interface Container extends AsyncDisposable {
  /** The provider's id of the container (a Docker container id, a pod name, ...). */
  readonly id: string;
  /** The image it runs. */
  readonly image: string;
  /** Where its server answers, e.g. `http://127.0.0.1:49153`. */
  readonly baseUrl: string;
  /** The bearer token its server requires, or undefined when it runs without auth. */
  readonly token: string | undefined;
  /** False once `close()` was called. */
  readonly alive: boolean;
  /**
   * Ask its server's `GET /health` now (with the token, so the full body).
   * @throws {TransportError} when it does not answer healthy within `timeoutMs`
   */
  health(options?: HealthCheckOptions): Promise<HealthResponse>;
  /** The last `tailLines` lines it wrote (stdout and stderr). Never throws. */
  logs(tailLines?: number): Promise<string>;
  /**
   * Whether it still runs, as its provider sees it; undefined when the provider cannot be asked
   * now. Never throws.
   */
  state(): Promise<ContainerState | undefined>;
  /** Stop and remove it. Idempotent; a container already gone is not an error. */
  close(): Promise<void>;
}
