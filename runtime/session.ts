import { SessionClosedError } from '../protocol/index.js';
import type { Environment } from '../protocol/index.js';
import type { Observation, ResetRequest, State } from '../protocol/index.js';

/** How a session was opened: the plain-HTTP default session, `POST /sessions`, a WebSocket, or MCP (`/mcp`, `envbox mcp`). */
export type SessionKind = 'default' | 'http' | 'ws' | 'mcp';

/** Why a session was closed. */
export type CloseReason = 'client' | 'idle' | 'disconnect' | 'shutdown';

/** An {@link Environment} of any types, as sessions hold them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- sessions do not look inside actions
export type AnyEnvironment = Environment<any, Observation, State, ResetRequest>;

/**
 * One session: one environment instance whose calls run one at a time, in arrival order.
 * A second call waits for the first to settle; it never interleaves with it.
 */
export class Session {
  /** The session id (a UUID; `default` for the plain-HTTP default session). */
  readonly id: string;
  readonly kind: SessionKind;
  readonly #env: AnyEnvironment;
  readonly #controller = new AbortController();
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #lastActiveMs = Date.now();
  #closeReason: CloseReason | undefined;
  #closed: Promise<void> | undefined;

  constructor(id: string, kind: SessionKind, env: AnyEnvironment) {
    this.id = id;
    this.kind = kind;
    this.#env = env;
  }

  /** Calls queued or running. */
  get pending(): number {
    return this.#pending;
  }

  /** Milliseconds since the last call started or settled (0 while a call is pending). */
  idleMs(nowMs = Date.now()): number {
    return this.#pending > 0 ? 0 : nowMs - this.#lastActiveMs;
  }

  /** Why the session was closed, or undefined while it is open. */
  get closeReason(): CloseReason | undefined {
    return this.#closeReason;
  }

  /** Aborted when the session closes; handed to environment calls. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * Run `call` on the environment after every earlier call of this session has settled.
   * @throws {SessionClosedError} when the session closes before the call's turn comes
   */
  run<T>(call: (env: AnyEnvironment) => Promise<T> | T): Promise<T> {
    if (this.#closeReason !== undefined) return Promise.reject(this.#closedError());
    this.#pending += 1;
    this.#lastActiveMs = Date.now();
    const turn = this.#tail.then(() => {
      if (this.#closeReason !== undefined) throw this.#closedError();
      return call(this.#env);
    });
    const settled = turn.then(
      () => this.#settle(),
      () => this.#settle(),
    );
    this.#tail = settled;
    return turn;
  }

  /**
   * Close the session: refuse new calls, abort the running one's signal, and close the
   * environment once the running call has settled. Idempotent; resolves when the environment is closed.
   */
  close(reason: CloseReason): Promise<void> {
    if (this.#closed !== undefined) return this.#closed;
    this.#closeReason = reason;
    this.#controller.abort(new SessionClosedError(`Session ${this.id} closed (${reason}).`));
    this.#closed = this.#tail.then(() => this.#env.close());
    return this.#closed;
  }

  /** Close with reason `shutdown` (see {@link Session.close}), for `await using`. Idempotent. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close('shutdown');
  }

  #settle(): void {
    this.#pending -= 1;
    this.#lastActiveMs = Date.now();
  }

  #closedError(): SessionClosedError {
    return new SessionClosedError(
      `Session ${this.id} was closed (${this.#closeReason}) before this call ran; open a new session and call reset().`,
    );
  }
}
