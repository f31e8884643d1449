import { setTimeout as sleep } from 'node:timers/promises';
import { CodingEnv, type Language } from '../envs/coding_env/index.js';
import { SandboxUnavailableError } from '../protocol/index.js';
import type { SeededRandom } from './seeded-random.js';
import type { HostileCoverage } from './soak-coverage.js';
import type { CrowdTicket, MemoryCrowd } from './soak-crowd.js';
import { UNEXPECTED_STATE_LOST, WRONG_OUTPUT, type SoakRecorder } from './soak-recorder.js';
import { crowdReleaseStep, hostileKinds, hostileStep, isNeighbourStall, mismatch, ordinaryStep, setupStep, type EpisodeModel, type SoakStep } from './soak-workload.js';

/** After this many failed calls in a row a session pauses, rather than spin against a broken server. */
const ERRORS_BEFORE_PAUSE = 5;
/** How long it pauses. @default 1 s */
const ERROR_PAUSE_MS = 1_000;
/**
 * Calls a session may make per kind it claims after the traffic (a reset, the setup, the hostile step
 * and one spare): bounds the overtime even when the server answers nothing but errors.
 */
const CALLS_PER_CLAIM = 4;

/** Options of {@link runSoakSession}. */
export interface SoakSessionOptions {
  /** Index of the session among the soak's, e.g. to stagger its hostile steps. */
  index: number;
  baseUrl: string;
  language: Language;
  /** `http` (a session of its own, `X-Session-Id`) or `ws` (a connection of its own). */
  transport: 'http' | 'ws';
  recorder: SoakRecorder;
  random: SeededRandom;
  /** A hostile step every this many ms (staggered between sessions). */
  hostileIntervalMs: number;
  /** Chance that an ordinary step is replaced by a reset, in [0, 1]. */
  resetProbability: number;
  /** Whether the traffic is over (duration or step budget spent, or the server gone). */
  stopped: () => boolean;
  /**
   * Every hostile step is reported to it; once the traffic is over, the session keeps sending the
   * kinds of its language it {@link HostileCoverage.claim}s (kinds that never ran), then stops.
   */
  coverage: HostileCoverage;
  /** Take one step from the run's budget; false when it is spent. */
  takeStep: () => boolean;
  /** Whether a `stall` may run now (rate-limited across the run: it terminates a worker thread). */
  mayStall: () => boolean;
  /** The run's memory crowd: a `memory_crowd` turn calls it (rate-limited); other sessions join it at their next step. */
  crowd: MemoryCrowd;
}

/**
 * Drive one session until the traffic stops: reset, set the episode's state up, then ordinary steps
 * with a hostile one every `hostileIntervalMs` (each session cycles through its language's hostile
 * kinds, starting at its own offset) and the odd reset. Then, until `coverage` has no kind left to
 * claim for its language, the hostile kinds that never ran (so that a brief soak checks every kind
 * whatever the machine's speed). Every observation is checked against its expectation; a wrong one
 * is counted and the episode reset to resynchronise. A failed call is counted by its code and the
 * session reopened. The client is always closed.
 */
export async function runSoakSession(options: SoakSessionOptions): Promise<void> {
  const { language, recorder, random } = options;
  const open = (): CodingEnv => new CodingEnv({ baseUrl: options.baseUrl, transport: options.transport });
  const kinds = hostileKinds(language);
  let client = open();
  const model: EpisodeModel = { counter: 0 };
  let needsReset = true;
  let needsSetup = true;
  let hostileCount = 0;
  let consecutiveErrors = 0;
  /** What was in flight, for the report of a failed call. */
  let call = 'reset';
  let nextHostileMs = performance.now() + random.next() * options.hostileIntervalMs;
  /** After the traffic: the kind claimed from `coverage` (on its way until `coverage.end`), until its step is sent. */
  let claimed: string | undefined;
  /** After the traffic: calls left before the session gives up on its claims. */
  let overtimeCalls = 0;
  /** Once this session's crowd step is answered: resolves when every member of its crowd's is. */
  let crowdHeld: Promise<void> | undefined;
  try {
    for (;;) {
      if (options.stopped()) {
        if (claimed === undefined) {
          claimed = options.coverage.claim(language);
          if (claimed === undefined) break;
          overtimeCalls += CALLS_PER_CLAIM;
        }
        if (overtimeCalls <= 0) break;
        overtimeCalls -= 1;
      }
      try {
        if (needsReset) {
          call = 'reset';
          await client.reset({ language });
          recorder.resets += 1;
          needsReset = false;
          needsSetup = true;
        }
        call = 'step';
        let step: SoakStep;
        let fromClaim = false;
        if (needsSetup) step = setupStep(language);
        else if (claimed !== undefined) {
          step = hostileStep(language, claimed, model);
          claimed = undefined;
          fromClaim = true;
        } else if (options.stopped()) continue;
        else if (options.crowd.wants(language)) step = hostileStep(language, 'memory_crowd', model);
        else if (performance.now() >= nextHostileMs) {
          let kind = kinds[(options.index + hostileCount) % kinds.length]!;
          hostileCount += 1;
          // Rate-limited kinds whose time has not come give their turn to the next kind.
          while ((kind === 'stall' && !options.mayStall()) || (kind === 'memory_crowd' && !options.crowd.mayCall(language))) {
            kind = kinds[(options.index + hostileCount) % kinds.length]!;
            hostileCount += 1;
          }
          step = hostileStep(language, kind, model);
          nextHostileMs = Math.max(nextHostileMs + options.hostileIntervalMs, performance.now());
        } else if (random.next() < options.resetProbability) {
          needsReset = true;
          continue;
        } else step = ordinaryStep(language, model, random);
        call = `step ${step.kind}`;

        // Steps after the traffic (at most CALLS_PER_CLAIM per claim) are outside the step budget.
        if (!options.stopped() && !options.takeStep()) continue;
        const hostileKind = step.hostile ? step.kind : undefined;
        if (hostileKind !== undefined && !fromClaim) options.coverage.begin(language, hostileKind);
        // A crowd's member fills when the crowd has gathered, and holds until every member has.
        const ticket: CrowdTicket | undefined = step.kind === 'memory_crowd' ? options.crowd.join(language, !fromClaim) : undefined;
        if (ticket !== undefined) await ticket.gathered;
        const startMs = performance.now();
        const { observation } = await client.step({ code: step.code }, step.timeoutS === undefined ? {} : { timeoutS: step.timeoutS }).finally(() => {
          if (hostileKind !== undefined) options.coverage.end(language, hostileKind);
          // Failed or not, the others must not wait for this member.
          if (ticket !== undefined) crowdHeld = ticket.filled();
        });
        const endMs = performance.now();
        recorder.recordStep(endMs - startMs, step.hostile, endMs);
        if (!step.hostile) recorder.recordSlow({ latencyMs: endMs - startMs, language, transport: options.transport, kind: step.kind }, startMs);
        consecutiveErrors = 0;

        if (step.kind !== 'stall' && isNeighbourStall(language, observation)) {
          recorder.neighbourStalls += 1;
          needsSetup = true;
          continue;
        }
        const problem = mismatch(step.expect, observation);
        if (problem !== undefined && step.expect.stateLost !== true && observation.exit_code === 137 && observation.metadata.state_lost === true) {
          // The sandbox was gone before the step's code ran: not a wrong answer to that code.
          recorder.recordProblem({ code: UNEXPECTED_STATE_LOST, language, transport: options.transport, kind: step.kind, problem });
          needsSetup = true;
          continue;
        }
        if (step.hostile) recorder.recordHostile(language, step.kind, problem === undefined);
        if (problem !== undefined) {
          recorder.recordProblem({ code: WRONG_OUTPUT, language, transport: options.transport, kind: step.kind, problem });
          needsReset = true;
          continue;
        }
        if (!step.keepsState) needsSetup = true;
        else {
          if (step.kind === 'setup') needsSetup = false;
          model.counter = step.counterAfter ?? model.counter;
        }
        if (step.kind === 'memory_crowd') {
          await crowdHeld;
          crowdHeld = undefined;
          call = 'step crowd_release';
          const release = crowdReleaseStep(language, model);
          const releaseStartMs = performance.now();
          const released = (await client.step({ code: release.code })).observation;
          recorder.recordStep(performance.now() - releaseStartMs, true, performance.now());
          const releaseProblem = mismatch(release.expect, released);
          if (releaseProblem !== undefined) {
            recorder.recordProblem({ code: WRONG_OUTPUT, language, transport: options.transport, kind: release.kind, problem: releaseProblem });
            needsReset = true;
            continue;
          }
          // A JavaScript episode's memory goes back to the budget only when the episode closes.
          if (language === 'javascript') needsReset = true;
        }
      } catch (error) {
        if (call === 'reset' && isBudgetRefusal(error)) {
          // The episode memory budget is spent for now (a memory crowd): expected, retried when told.
          recorder.budgetRefusedResets += 1;
          await sleep((error.retryAfterS ?? 1) * 1000);
          continue;
        }
        recorder.recordProblem({ code: errorCode(error), language, transport: options.transport, kind: call, problem: error instanceof Error ? error.message : String(error) });
        consecutiveErrors += 1;
        // The session may be gone (closed, or the connection dropped): start over in a new one.
        await client.close().catch(() => undefined);
        client = open();
        needsReset = true;
        if (consecutiveErrors >= ERRORS_BEFORE_PAUSE) await sleep(ERROR_PAUSE_MS);
      }
    }
  } finally {
    if (claimed !== undefined) options.coverage.end(language, claimed);
    await client.close().catch((error: unknown) => recorder.recordError(`close_${errorCode(error)}`));
  }
}

/** Whether `error` is a reset refused because the JavaScript episode memory budget could not give the episode its minimum. */
function isBudgetRefusal(error: unknown): error is SandboxUnavailableError {
  return error instanceof SandboxUnavailableError && typeof (error.details as { episode_memory_budget_bytes?: unknown } | undefined)?.episode_memory_budget_bytes === 'number';
}

/** The error's wire code (`EnvboxError.code`), else its name (`TimeoutError`, `TypeError`). */
function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const { code, name } = error as { code?: unknown; name?: unknown };
    if (typeof code === 'string') return code;
    if (typeof name === 'string') return name;
  }
  return 'unknown';
}
