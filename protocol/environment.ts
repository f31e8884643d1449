import type { Registry } from 'prom-client';
import type { z } from 'zod';
import type { Observation, ResetRequest, State } from './models.js';
import type { AnyEnvTool } from './tool.js';

/** Prefix of every metric name envbox exports, environments' own included. */
export const METRICS_PREFIX = 'envbox_';

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
  /**
   * The environment's MCP tools (`/mcp`, `envbox mcp`); without them the server offers generic
   * `reset`, `step` (the action schema as input) and `state` tools.
   */
  tools?: readonly AnyEnvTool[];
  /**
   * The environment's task set, for OpenEnv's Task API (`GET /list_environments`,
   * `GET /{env}/splits`, `POST /{env}/tasks|num_tasks|task|task_range`); without it those routes
   * answer 501 `NOT_SUPPORTED`.
   */
  tasks?: TaskProvider;
  /** Batch judging without episodes (`POST /evaluate`); without it the route answers 501 `NOT_SUPPORTED`. */
  evaluate?: BatchEvaluator;
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

/** A split of a task set as OpenEnv's Task API shows it: `type` is `train`, `validation` or `test`. */
export interface TaskSplit {
  name: string;
  type: string;
}

/**
 * The tasks of a dataset-backed environment, as the server's Task API serves them. Specs are
 * public JSON objects: never a task's tests or reference solution. Calls are side-effect free.
 */
export interface TaskProvider {
  /** The splits, in a stable order. */
  splits(): readonly TaskSplit[];
  /** The public specs of `split`'s tasks, in index order; undefined for a split the set lacks. */
  list(split: string): readonly Record<string, unknown>[] | undefined;
}

/**
 * Judges a batch of submissions without episodes (`POST /evaluate`). The server validates the body
 * with `request` and answers `run`'s result as the body; per-item failures belong in the result.
 */
export interface BatchEvaluator<Q = unknown> {
  /** Schema of the request body (e.g. `{ items: [...] }` with the environment's own limits). */
  request: z.ZodType<Q>;
  /** Judge the batch. */
  run(request: Q, options: { signal: AbortSignal }): Promise<unknown>;
}

/** Structured log sink an environment may write to (the server's logger satisfies it). */
export interface EnvLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** What the server gives an environment's factory besides its options. */
export interface EnvContext {
  /** The server's logger, at the server's level. */
  logger: EnvLogger;
}

/**
 * What `envbox serve --env <name>` resolves a name to: the environment's own option schema and
 * how to build its definition from those options, once at start (where a code-running
 * environment probes its sandboxes and fills its pool). `envbox serve` derives each option's
 * flag (`pythonBackend` → `--python-backend`), variable (`ENVBOX_PYTHON_BACKEND`), `--help` line
 * and error message from the schema (see {@link envOption}).
 */
export interface EnvFactory<O extends z.ZodObject = z.ZodObject> {
  /** The environment's options; each field needs {@link envOption}'s metadata. None when absent. */
  options?: O;
  /** Build the definition from the parsed options. */
  create(options: z.output<O>, context: EnvContext): Promise<AnyEnvDefinition> | AnyEnvDefinition;
}

/** An {@link EnvDefinition} of any types, as registries and the server hold them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance of the definition's type parameters
export type AnyEnvDefinition = EnvDefinition<any, any, any, any>;
