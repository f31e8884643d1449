import type { z } from 'zod';
import type { ResetRequest, StepResponse } from '../runtime/index.js';
import { HttpTransport, type HttpSession } from './http-transport.js';
import { parseResponse } from './parse-response.js';
import type { CallOptions, Transport } from './transport.js';
import { WsTransport } from './ws-transport.js';

/** Give up on a call after this long, unless the step's own timeout is longer. @default 60 s */
export const DEFAULT_CLIENT_TIMEOUT_MS = 60_000;
/** Slack added to a step's `timeoutS` before the client gives up waiting. @default 10 s */
export const STEP_TIMEOUT_SLACK_MS = 10_000;

/** The zod schemas a typed client parses responses with: the environment's own. */
export interface EnvSchemasOf<O, S> {
  observation: z.ZodType<O>;
  state: z.ZodType<S>;
}

/** Options of an {@link EnvClient}. */
export interface EnvClientOptions {
  /** The server, e.g. `http://127.0.0.1:8000`. */
  baseUrl: string;
  /** `http` (keep-alive; default) or `ws` (one WebSocket, one session). */
  transport?: 'http' | 'ws';
  /** HTTP only: which session to act on. @default 'new' (a session of its own) */
  session?: HttpSession;
  /** Extra headers on every request and on the WebSocket upgrade. */
  headers?: Readonly<Record<string, string>>;
  /** Per-call timeout. @default 60 s */
  timeoutMs?: number;
}

/** Options of one call. */
export interface ClientCallOptions {
  /** Abort waiting for the answer. */
  signal?: AbortSignal;
  /** Give up after this many milliseconds. @default the client's `timeoutMs` */
  timeoutMs?: number;
}

/** Options of `step()`. */
export interface StepCallOptions extends ClientCallOptions {
  /** The step's time budget on the server, in seconds (capped by the server's maximum). */
  timeoutS?: number;
}

/** What `reset()` and `step()` return: the typed observation, its reward and whether the episode is over. */
export interface StepResult<O> {
  observation: O;
  reward: number | null;
  done: boolean;
}

/**
 * A typed client of one environment session, over HTTP keep-alive or WebSocket. Responses are
 * parsed with the environment's own zod schemas; server errors come back as the same error
 * classes (`SessionNotFoundError`, `CapacityExceededError`, ...). Close it when done.
 *
 * @typeParam A the action as the caller writes it (zod input type: `metadata` optional)
 * @typeParam O the observation
 * @typeParam S the state
 */
export class EnvClient<A, O, S> {
  readonly #schemas: EnvSchemasOf<O, S>;
  readonly #transport: Transport;
  readonly #timeoutMs: number;

  constructor(schemas: EnvSchemasOf<O, S>, options: EnvClientOptions) {
    this.#schemas = schemas;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
    const headers = options.headers ?? {};
    this.#transport =
      options.transport === 'ws'
        ? new WsTransport({ baseUrl: options.baseUrl, headers })
        : new HttpTransport({ baseUrl: options.baseUrl, session: options.session ?? 'new', headers });
  }

  /** Start a new episode. */
  async reset(request: ResetRequest = {}, options: ClientCallOptions = {}): Promise<StepResult<O>> {
    return this.#result(await this.#transport.reset(request, this.#callOptions(options)), 'reset');
  }

  /** Act in the current episode. */
  async step(action: A, options: StepCallOptions = {}): Promise<StepResult<O>> {
    const call = this.#callOptions(options);
    if (options.timeoutS !== undefined && options.timeoutMs === undefined) {
      call.timeoutMs = Math.max(call.timeoutMs, options.timeoutS * 1000 + STEP_TIMEOUT_SLACK_MS);
    }
    return this.#result(await this.#transport.step(action, options.timeoutS, call), 'step');
  }

  /** Where the episode stands. */
  async state(options: ClientCallOptions = {}): Promise<S> {
    return parseResponse(this.#schemas.state, await this.#transport.state(this.#callOptions(options)), 'state');
  }

  /** Close the session (a `new` HTTP session is deleted; a WebSocket is closed). Idempotent. */
  async close(): Promise<void> {
    await this.#transport.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #callOptions(options: ClientCallOptions): CallOptions {
    const call: CallOptions = { timeoutMs: options.timeoutMs ?? this.#timeoutMs };
    if (options.signal !== undefined) call.signal = options.signal;
    return call;
  }

  #result(response: StepResponse, call: string): StepResult<O> {
    const observation = parseResponse(
      this.#schemas.observation,
      { ...response.observation, reward: response.reward, done: response.done },
      call,
    );
    return { observation, reward: response.reward, done: response.done };
  }
}
