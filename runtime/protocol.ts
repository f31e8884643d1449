import { z } from 'zod';
import type { AppConfig } from './config.js';
import { performance } from 'node:perf_hooks';
import type { AnyEnvDefinition } from '../protocol/index.js';
import { InvalidRequestError } from '../protocol/index.js';
import { ResetRequest, StepRequest, type MetadataResponse, type Observation, type StepResponse } from '../protocol/index.js';
import type { AppMetrics } from './metrics.js';
import type { Session } from './session.js';

/** One schema failure, as sent in `details.issues` of a 422. */
export interface WireIssue {
  /** Where in the body, e.g. `["action", "message"]`. */
  path: (string | number)[];
  message: string;
  code: string;
}

/**
 * Validate `value` with `schema`.
 * @param what how to name the input in the message, e.g. `Step request`
 * @throws {InvalidRequestError} with every zod issue's path, message and code in `details.issues`
 */
export function validate<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues: WireIssue[] = parsed.error.issues.map((issue) => ({
    path: issue.path.map((key) => (typeof key === 'number' ? key : String(key))),
    message: issue.message,
    code: issue.code,
  }));
  const first = issues[0]!;
  const where = first.path.length === 0 ? '' : ` at ${first.path.join('.')}`;
  throw new InvalidRequestError(`${what} is invalid${where}: ${first.message}.`, { details: { issues } });
}

/** Split an observation into the wire form: `reward` and `done` beside it, `metadata` in and beside it. */
export function serializeObservation(observation: Observation): StepResponse {
  const { reward, done, ...rest } = observation;
  return { observation: rest, reward: reward ?? null, done: done ?? false, metadata: rest.metadata ?? {} };
}

/** JSON Schemas of an environment's wire types, as `GET /schema` serves them. */
export interface EnvSchemas {
  action: unknown;
  observation: unknown;
  state: unknown;
  reset: unknown;
}

/**
 * The OpenEnv operations (reset, step, state) of one environment, shared by the HTTP routes and
 * the WebSocket protocol: input validation, the step time budget, and the observation's wire form.
 */
export class EnvProtocol {
  readonly definition: AnyEnvDefinition;
  readonly resetRequest: z.ZodType<ResetRequest>;
  readonly stepRequest: z.ZodType<StepRequest>;
  readonly schemas: EnvSchemas;
  readonly metadata: MetadataResponse;
  readonly #stepTimeoutMs: number;
  readonly #metrics: AppMetrics | undefined;

  /** @param metrics where answered resets and steps are counted */
  constructor(definition: AnyEnvDefinition, config: AppConfig, metrics?: AppMetrics) {
    this.definition = definition;
    this.#metrics = metrics;
    this.resetRequest = definition.resetRequest ?? ResetRequest;
    this.stepRequest = StepRequest.extend({ action: definition.action });
    this.#stepTimeoutMs = config.stepTimeoutMs;
    this.schemas = {
      action: toJsonSchema(definition.action, 'input'),
      observation: toJsonSchema(definition.observation, 'output'),
      state: toJsonSchema(definition.state, 'output'),
      reset: toJsonSchema(this.resetRequest, 'input'),
    };
    const readme = definition.readme ?? null;
    this.metadata = {
      name: definition.name,
      description: definition.description,
      version: definition.version,
      readme,
      readme_content: readme,
      author: 'envbox',
      documentation_url: null,
    };
  }

  /** Validate a reset body and start a new episode in `session`. */
  async reset(session: Session, body: unknown): Promise<StepResponse> {
    return serializeObservation(await this.resetObservation(session, body));
  }

  /** {@link EnvProtocol.reset}, answering the observation itself rather than its wire form (MCP tools). */
  async resetObservation(session: Session, body: unknown): Promise<Observation> {
    const request = validate(this.resetRequest, body, 'Reset request');
    const observation = await session.run((env) => env.reset({ ...request, signal: session.signal }));
    this.#metrics?.recordReset();
    return observation;
  }

  /** Validate a step body (`{"action": ..., "timeout_s"?, "request_id"?}`) and act in `session`. */
  async step(session: Session, body: unknown): Promise<StepResponse> {
    const startMs = performance.now();
    const request = validate(this.stepRequest, body, 'Step request');
    return serializeObservation(await this.#step(session, request.action, request.timeout_s, request.request_id, startMs));
  }

  /** Validate a bare action (the WebSocket `step` message's `data`) and act in `session`. */
  async stepAction(session: Session, action: unknown, timeoutS?: number | null): Promise<StepResponse> {
    return serializeObservation(await this.stepObservation(session, action, timeoutS));
  }

  /** {@link EnvProtocol.stepAction}, answering the observation itself rather than its wire form (MCP tools). */
  async stepObservation(session: Session, action: unknown, timeoutS?: number | null): Promise<Observation> {
    const startMs = performance.now();
    const parsed = validate(this.definition.action, action, 'Action');
    return this.#step(session, parsed, timeoutS, undefined, startMs);
  }

  /** The state of the episode in `session`. */
  async state(session: Session): Promise<unknown> {
    return session.run((env) => env.state());
  }

  async #step(session: Session, action: unknown, timeoutS: number | null | undefined, requestId: string | null | undefined, startMs: number): Promise<Observation> {
    const timeoutMs = timeoutS == null ? this.#stepTimeoutMs : Math.min(timeoutS * 1000, this.#stepTimeoutMs);
    const options = requestId == null ? { timeoutMs, signal: session.signal } : { timeoutMs, signal: session.signal, requestId };
    const observation = await session.run((env) => env.step(action, options));
    this.#metrics?.recordStep(observation, (performance.now() - startMs) / 1000);
    return observation;
  }
}

function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): unknown {
  return z.toJSONSchema(schema, { io, unrepresentable: 'any' });
}
