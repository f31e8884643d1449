import type { Registry } from 'prom-client';
import type { z } from 'zod';
import type { ServeConfig } from './config.js';
import type { Observation, ResetRequest, State } from './models.js';

/** Options of one `reset()` call: the validated reset request plus a cancellation signal. */
export type ResetOptions<R extends ResetRequest = ResetRequest> = R & {
  /** Aborted when the session closes while the call runs. */
  signal: AbortSignal;
};

/** Options of one `step()` call. */
export interface StepOptions {
  /** Time budget of this step in milliseconds: the request's `timeout_s`, capped by the server's maximum. */
  timeoutMs: number;
  /** Aborted when the session closes while the step runs. */
  signal: AbortSignal;
  /** The client's `request_id`, if it sent one. */
  requestId?: string;
}

/**
 * One episode-holding environment instance; the server keeps one per session and never calls
 * it concurrently (calls within a session are serialised). Guest failures are observations:
 * throw only when the environment itself is broken.
 */
export interface Environment<A, O extends Observation, S extends State, R extends ResetRequest = ResetRequest> {
  /** Start a new episode and return its first observation. */
  reset(options: ResetOptions<R>): Promise<O> | O;
  /** Act in the current episode. */
  step(action: A, options: StepOptions): Promise<O> | O;
  /** Where the episode stands. */
  state(): Promise<S> | S;
  /** Free everything the instance holds; idempotent. */
  close(): Promise<void> | void;
}

/** What the server needs to serve an environment: its identity, its wire schemas and a factory. */
export interface EnvDefinition<
  A = unknown,
  O extends Observation = Observation,
  S extends State = State,
  R extends ResetRequest = ResetRequest,
> {
  /** Name used by `envbox serve --env <name>`, e.g. `echo_env`. */
  name: string;
  /** One line on what the environment is. */
  description: string;
  /** Version of the environment's contract. */
  version: string;
  /** The environment's README (Markdown), served by `/metadata`. */
  readme?: string;
  /** Schema of the action (strict: unknown fields are rejected). */
  action: z.ZodType<A>;
  /** Schema of the observation, including `done`, `reward` and `metadata`. */
  observation: z.ZodType<O>;
  /** Schema of the state. */
  state: z.ZodType<S>;
  /** Schema of the reset request; defaults to {@link ResetRequest}. */
  resetRequest?: z.ZodType<R>;
  /** Create one environment instance, for one session. */
  create(): Promise<Environment<A, O, S, R>> | Environment<A, O, S, R>;
  /** Extra facts for `GET /health` (e.g. the isolation in force). */
  health?(): Record<string, unknown>;
  /**
   * Register the environment's own metrics (e.g. sandbox starts, pool size) in an app's registry;
   * called once per app, so keep values in the definition and read them in `collect()` callbacks.
   */
  metrics?(registry: Registry): void;
  /** Free what the definition shares between sessions (e.g. a warm sandbox pool); the app calls it on close. */
  close?(): Promise<void> | void;
}

/**
 * Builds an environment's definition from the server's configuration, once at start (where a
 * code-running environment probes its sandboxes and fills its pool).
 */
export type EnvFactory = (config: ServeConfig) => Promise<AnyEnvDefinition> | AnyEnvDefinition;

/** An {@link EnvDefinition} of any types, as registries and the server hold them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance of the definition's type parameters
export type AnyEnvDefinition = EnvDefinition<any, any, any, any>;
