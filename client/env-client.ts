import type { z } from 'zod';
import type { ResetRequest, StepResponse } from '../protocol/index.js';
import { DEFAULT_IMAGE_TAG } from './docker/build/index.js';
import type { EnvClientOptions, FromProviderOptions } from './env-client-options.js';
import { HttpTransport } from './http-transport.js';
import { launchFromDockerImage, launchFromProvider, type FromDockerImageOptions } from './launch.js';
import { parseResponse } from './parse-response.js';
import { explainGone, type Container, type ContainerProvider, type ContainerSpec } from './provider/index.js';
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

/** A typed client class, as `fromProvider` and `fromDockerImage` need it: constructible from client options alone. */
export interface EnvClientClass<C> {
  new (options: EnvClientOptions): C;
  /** See {@link EnvClient.dockerCommand}. */
  readonly dockerCommand?: readonly string[] | undefined;
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
  /** The container this client was launched in ({@link EnvClient.fromProvider}), closed with it. */
  readonly container: Container | undefined;
  readonly #schemas: EnvSchemasOf<O, S>;
  readonly #transport: Transport;
  readonly #timeoutMs: number;
  readonly #baseUrl: string;
  readonly #headers: Readonly<Record<string, string>>;
  /** Requests outside the session (`post()`), made on first use: the session's transport may be a WebSocket. */
  #sessionless: HttpTransport | undefined;

  /**
   * The arguments after the appliance's `envbox serve` that {@link EnvClient.fromProvider} and
   * {@link EnvClient.fromDockerImage} run this client's environment with, unless the spec names
   * its own `command`; undefined: the image's CMD (`--env coding_env`).
   */
  static readonly dockerCommand: readonly string[] | undefined = undefined;

  /**
   * Start an appliance container from `spec` through `provider` (any {@link ContainerProvider}:
   * `LocalDockerProvider`, ...), wait until it is healthy, and return a client of this class that
   * owns it: `close()` and `await using` also stop and remove the container; a call made after it
   * stopped throws `ContainerGoneError`. The client gets the container's token. Called on a typed
   * client: `CodingEnv.fromProvider(provider, { image })`. For an untyped `EnvClient`, see
   * {@link launchFromProvider}.
   * @throws {ContainerStartError} when the container cannot start or stops first (with its last log lines)
   * @throws {HealthTimeoutError} when it is not healthy within `spec.healthTimeoutMs` (with its last log lines)
   * and the provider's own errors (LocalDockerProvider: `DockerUnavailableError`, `ImageNotFoundError`)
   */
  static async fromProvider<C>(
    this: EnvClientClass<C>,
    provider: ContainerProvider,
    spec: ContainerSpec,
    options: FromProviderOptions = {},
  ): Promise<C> {
    const command = spec.command ?? this.dockerCommand;
    return launchFromProvider(provider, command === undefined ? spec : { ...spec, command }, options, (clientOptions) => new this(clientOptions));
  }

  /**
   * Start a hardened appliance container of `image` (`envbox build-image` makes
   * `envbox/appliance:latest`, the default), wait until it is healthy, and return a client of this
   * class that owns it: `close()` and `await using` also stop and remove the container. Called on
   * a typed client, OpenEnv's `from_docker_image` classmethod: `CodingEnv.fromDockerImage()`.
   * Sugar over {@link EnvClient.fromProvider} with a `LocalDockerProvider` (`options.provider`, else
   * a new one). For an untyped `EnvClient`, see {@link launchFromDockerImage}.
   * @throws {DockerUnavailableError} when no Docker engine answers (fix: `make docker-up`)
   * @throws {ImageNotFoundError} when the engine lacks `image` (fix: `make image`)
   * @throws {ContainerStartError} when the container cannot start or exits first (with its last log lines)
   * @throws {HealthTimeoutError} when it is not healthy within `healthTimeoutMs` (with its last log lines)
   */
  static async fromDockerImage<C>(
    this: EnvClientClass<C>,
    image: string = DEFAULT_IMAGE_TAG,
    options: FromDockerImageOptions = {},
  ): Promise<C> {
    const command = options.command ?? this.dockerCommand;
    const start = command === undefined ? options : { ...options, command };
    return launchFromDockerImage(image, start, (clientOptions) => new this(clientOptions));
  }

  constructor(schemas: EnvSchemasOf<O, S>, options: EnvClientOptions) {
    this.container = options.container;
    this.#schemas = schemas;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
    const headers = options.token === undefined ? (options.headers ?? {}) : { ...options.headers, authorization: `Bearer ${options.token}` };
    this.#baseUrl = options.baseUrl;
    this.#headers = headers;
    this.#transport =
      options.transport === 'ws'
        ? new WsTransport({ baseUrl: options.baseUrl, headers })
        : new HttpTransport({ baseUrl: options.baseUrl, session: options.session ?? 'new', headers });
  }

  /**
   * Start a new episode.
   * @throws {ContainerGoneError} when the client owns a container that is no longer running
   */
  async reset(request: ResetRequest = {}, options: ClientCallOptions = {}): Promise<StepResult<O>> {
    return this.#result(await this.#explained(this.#transport.reset(request, this.#callOptions(options))), 'reset');
  }

  /**
   * Act in the current episode.
   * @throws {ContainerGoneError} when the client owns a container that is no longer running
   */
  async step(action: A, options: StepCallOptions = {}): Promise<StepResult<O>> {
    const call = this.#callOptions(options);
    if (options.timeoutS !== undefined && options.timeoutMs === undefined) {
      call.timeoutMs = Math.max(call.timeoutMs, options.timeoutS * 1000 + STEP_TIMEOUT_SLACK_MS);
    }
    return this.#result(await this.#explained(this.#transport.step(action, options.timeoutS, call)), 'step');
  }

  /**
   * Where the episode stands.
   * @throws {ContainerGoneError} when the client owns a container that is no longer running
   */
  async state(options: ClientCallOptions = {}): Promise<S> {
    return parseResponse(this.#schemas.state, await this.#explained(this.#transport.state(this.#callOptions(options))), 'state');
  }

  /**
   * Close the session (a `new` HTTP session is deleted; a WebSocket is closed), then the container
   * the client owns, if any. Idempotent. A failure to close the session does not keep the container
   * alive; the first failure is thrown.
   */
  async close(): Promise<void> {
    let sessionError: { error: unknown } | undefined;
    try {
      await this.#sessionless?.close();
      await this.#transport.close();
    } catch (error) {
      sessionError = { error };
    }
    try {
      await this.container?.close();
    } catch (error) {
      // The session's failure came first and is the one to see; a container left behind is still
      // removed by the exit handlers or `cleanup()`.
      if (sessionError === undefined) throw error;
    }
    if (sessionError !== undefined) throw sessionError.error;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * POST `body` to `path` outside the session (over HTTP, whatever the client's transport), for an
   * environment's own routes such as `/evaluate`; typed clients parse the answer.
   * @throws {ContainerGoneError} when the client owns a container that is no longer running
   */
  protected async post(path: string, body: unknown, options: ClientCallOptions = {}): Promise<unknown> {
    this.#sessionless ??= new HttpTransport({ baseUrl: this.#baseUrl, session: 'default', headers: this.#headers });
    return this.#explained(this.#sessionless.request('POST', path, body, this.#callOptions(options)));
  }

  /**
   * `call`, but a transport failure of a client whose container is no longer running becomes a
   * `ContainerGoneError` naming the container (a bare connection refusal or reset would not).
   */
  async #explained<T>(call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (error) {
      throw await explainGone(this.container, error);
    }
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
