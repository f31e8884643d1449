import { StepResponse } from '../../protocol/index.js';
import type { HttpProbe } from './http-probe.js';
import type { SchemaCheck } from './json-schema-check.js';
import type { ValidationReport } from './report.js';
import type { SampleActionSource } from './sample-action.js';
import type { WsPeer } from './ws-peer.js';

/** A check's verdict of failure, with what was expected and what came. */
export class CheckFailed extends Error {
  override readonly name = 'CheckFailed';
}

/** A check that cannot be judged on this server (e.g. no violating action can be built). */
export class CheckSkipped extends Error {
  override readonly name = 'CheckSkipped';
}

/** Fail the running check with `detail`. */
export function fail(detail: string): never {
  throw new CheckFailed(detail);
}

/** One check of the kit: a name, the checks it needs to have passed, and its run. */
export interface ConformanceCheck {
  name: string;
  /** What it checks, one line (for documentation and `--help`). */
  description: string;
  /** Checks that must have passed first; otherwise this one is skipped, naming them. */
  needs: readonly string[];
  /** Run it; the detail of a pass is returned, a failure thrown ({@link fail}). */
  run(context: CheckContext): Promise<string>;
}

/** What the checks learn as they go, and what they hold open (released before the last check). */
export class CheckContext {
  readonly target: string;
  readonly http: HttpProbe;
  readonly token: string | undefined;
  readonly timeoutMs: number;
  readonly givenAction: unknown;
  env: ValidationReport['env'] = null;
  mode: ValidationReport['mode'] = 'unknown';
  /** The paths of `/openapi.json`. */
  openapiPaths: string[] | undefined;
  /** `active_sessions` of the first `/health`, when it says. */
  activeSessionsBefore: number | undefined;
  /** The compiled schemas of `/schema`, and the action schema as served. */
  schemas: { action: SchemaCheck; observation: SchemaCheck; state: SchemaCheck; actionSchema: unknown } | undefined;
  sample: { action: unknown; source: SampleActionSource } | undefined;
  /** HTTP sessions the kit opened (`X-Session-Id`), deleted when it is done. */
  readonly httpSessions: string[] = [];
  /** Steps taken in the first HTTP session and on the first WebSocket. */
  httpSteps = 0;
  wsSteps = 0;
  /**
   * Whether the first HTTP session's (and the first WebSocket's) last step ended the episode: the
   * kit then resets it before stepping again, since what a step after `done` does is the
   * environment's own business (an observation saying so, or an error).
   */
  httpDone = false;
  wsDone = false;
  readonly peers: WsPeer[] = [];

  constructor(init: { target: string; http: HttpProbe; token: string | undefined; timeoutMs: number; givenAction: unknown }) {
    this.target = init.target;
    this.http = init.http;
    this.token = init.token;
    this.timeoutMs = init.timeoutMs;
    this.givenAction = init.givenAction;
  }

  /** The `/ws` URL of the server. */
  get wsUrl(): string {
    return `${this.target.replace(/^http/, 'ws')}/ws`;
  }

  /**
   * Check a reset or step reply: OpenEnv's shape (`observation`, `reward`, `done`, `metadata`), and
   * the observation, put back together as OpenEnv's clients do (`reward` and `done` from beside it),
   * against `/schema`'s observation schema.
   * @param what the call, for the message, e.g. `POST /step`
   */
  checkStepReply(what: string, json: unknown): StepResponse {
    const parsed = StepResponse.safeParse(json);
    if (!parsed.success) fail(`${what} answered ${JSON.stringify(json)?.slice(0, 200)}; expected {"observation", "reward", "done", "metadata"}: ${parsed.error.issues[0]?.message}`);
    const reply = parsed.data;
    const observation = { metadata: reply.metadata ?? {}, ...reply.observation, reward: reply.reward, done: reply.done };
    const problem = this.schemas?.observation.check(observation);
    if (problem != null) fail(`${what}'s observation does not match /schema's observation schema: ${problem}`);
    return reply;
  }

  /**
   * Check a state against `/schema`'s state schema and, when it has `step_count`, its count.
   * @param what the call, for the message, e.g. `GET /state`
   */
  checkState(what: string, state: unknown, expectedSteps: number): Record<string, unknown> {
    if (typeof state !== 'object' || state === null || Array.isArray(state)) fail(`${what} answered ${JSON.stringify(state)?.slice(0, 200)}; expected a state object`);
    const problem = this.schemas?.state.check(state);
    if (problem != null) fail(`${what} does not match /schema's state schema: ${problem}`);
    const record = state as Record<string, unknown>;
    if ('step_count' in record && record.step_count !== expectedSteps) fail(`${what} says step_count ${JSON.stringify(record.step_count)}; expected ${expectedSteps}`);
    return record;
  }

  /** Delete the HTTP sessions and drop the sockets the kit opened. Never throws. */
  async release(): Promise<void> {
    for (const peer of this.peers.splice(0)) peer.close();
    for (const id of this.httpSessions.splice(0)) {
      await this.http.request('DELETE', `/sessions/${encodeURIComponent(id)}`).catch(() => undefined);
    }
  }
}
