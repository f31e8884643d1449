import { CONTAINER_GONE, EnvboxError, TransportError, type EnvboxErrorOptions } from '../../protocol/index.js';
import type { Container, ContainerState } from './container.js';

/** What the provider said of a container that stopped answering: see {@link ContainerGoneError}. */
export interface ContainerGoneState {
  /** The provider's state name (`exited`, `dead`, `paused`, ...), or `removed` when it no longer knows the container. */
  status: string;
  /** Its exit code, when it exited. */
  exitCode: number | null;
}

/**
 * `CONTAINER_GONE`: a call failed because the container its server runs in is no longer running
 * (stopped, killed, OOM-killed or removed under the client). Every session in it is gone; the
 * client's `close()` still succeeds. `cause` is the transport failure.
 */
export class ContainerGoneError extends EnvboxError {
  /** The container's id. */
  readonly containerId: string;
  /** What the provider said of it. */
  readonly state: ContainerGoneState;

  constructor(container: { id: string; image: string }, state: ContainerGoneState, options?: EnvboxErrorOptions) {
    const exit = state.exitCode === null ? '' : `, exit code ${state.exitCode}`;
    super(
      CONTAINER_GONE,
      0,
      `Container ${container.id.slice(0, 12)} (${container.image}) is not running (${state.status}${exit}); its server and every session in it are gone. ` +
        'close() this client and start a new container with fromDockerImage() (or fromProvider()).',
      options,
    );
    this.containerId = container.id;
    this.state = state;
  }
}

/**
 * What a client should throw for `error`, a call's failure: a {@link ContainerGoneError} naming
 * the container when it is a transport failure and `container` (still open) no longer runs,
 * since a bare connection refusal or reset would not say why; else `error` itself.
 */
export async function explainGone(container: Container | undefined, error: unknown): Promise<unknown> {
  if (!(error instanceof TransportError) || container === undefined || !container.alive) return error;
  const state: ContainerState | undefined = await container.state();
  if (state === undefined || state.running) return error;
  return new ContainerGoneError(container, { status: state.status, exitCode: state.exitCode }, { cause: error });
}
