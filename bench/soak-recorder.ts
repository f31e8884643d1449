/** How many problems (wrong outputs, failed calls) are kept verbatim in the report (the rest are only counted). */
export const KEPT_PROBLEMS = 20;

/** The error kind of an observation that did not meet its expectation. */
export const WRONG_OUTPUT = 'wrong_output';
/**
 * The error kind of a step answered 137 with the state lost when neither its own code nor a
 * neighbour's stall explains it (e.g. the server gave up on a worker thread); its code never ran.
 */
export const UNEXPECTED_STATE_LOST = 'unexpected_state_lost';

/** Outcomes of one hostile kind in one language. */
export interface HostileTally {
  /** Steps of the kind sent. */
  attempts: number;
  /** Steps that got exactly the expected outcome. */
  expected: number;
  /** Steps that got another observation (also counted under `wrong_output`). */
  wrong: number;
}

/** One wrong observation or failed call, kept to explain the count. */
export interface SoakProblem {
  atS: number;
  /** {@link WRONG_OUTPUT}, {@link UNEXPECTED_STATE_LOST} or a failed call's code. */
  code: string;
  language: string;
  transport: string;
  kind: string;
  problem: string;
}

/** How many of the slowest ordinary steps the report keeps. */
export const KEPT_SLOWEST_STEPS = 10;

/** One slow ordinary step, kept to explain a latency spike. */
export interface SlowStep {
  /** When it was sent, in s since the traffic started. */
  startS: number;
  latencyMs: number;
  language: string;
  transport: string;
  kind: string;
}

/** What one sampling window saw: steps done in it and their latencies. */
export interface WindowCounts {
  steps: number;
  /** Latencies of the window's ordinary (not hostile) steps, in ms. */
  ordinaryLatenciesMs: number[];
}

/**
 * Everything the sessions of a soak report: steps, their latencies (overall, per sampling window
 * and per minute), errors by code or kind, hostile outcomes. Shared by every session; the soak runs
 * in one event loop, so plain counters suffice.
 */
export class SoakRecorder {
  readonly #startedMs: number;
  /** Steps answered (whatever their observation), over the run. */
  steps = 0;
  /** Resets answered, over the run. */
  resets = 0;
  /** Errors by wire code (`CAPACITY_EXCEEDED`), transport failure (`TimeoutError`) or kind (`wrong_output`). */
  readonly errors: Record<string, number> = {};
  /** Outcomes of hostile steps, by `<language>.<kind>`. */
  readonly hostile: Record<string, HostileTally> = {};
  /** Steps of JavaScript episodes whose state a neighbour's stall destroyed (137 by design, not an error). */
  neighbourStalls = 0;
  /** Resets the episode memory budget refused (503 with Retry-After: expected when it is spent, not errors). */
  budgetRefusedResets = 0;
  /** The first {@link KEPT_PROBLEMS} problems. */
  readonly problems: SoakProblem[] = [];
  /** Latencies of every ordinary step, in ms. */
  readonly ordinaryLatenciesMs: number[] = [];
  /** Latencies of every step, hostile ones included, in ms. */
  readonly allLatenciesMs: number[] = [];
  /** Latencies of ordinary steps by minute of the run (index 0: the first minute), in ms. */
  readonly ordinaryLatenciesByMinuteMs: number[][] = [];
  /** The {@link KEPT_SLOWEST_STEPS} slowest ordinary steps, slowest first. */
  readonly slowestSteps: SlowStep[] = [];
  #window: WindowCounts = { steps: 0, ordinaryLatenciesMs: [] };

  constructor(startedMs: number) {
    this.#startedMs = startedMs;
  }

  /** Seconds since the run started. */
  elapsedS(nowMs = performance.now()): number {
    return (nowMs - this.#startedMs) / 1000;
  }

  /** Count an answered step that took `latencyMs`, ended at `endMs` (`performance.now()`). */
  recordStep(latencyMs: number, hostile: boolean, endMs: number): void {
    this.steps += 1;
    this.#window.steps += 1;
    this.allLatenciesMs.push(latencyMs);
    if (hostile) return;
    this.ordinaryLatenciesMs.push(latencyMs);
    this.#window.ordinaryLatenciesMs.push(latencyMs);
    const minute = Math.floor(this.elapsedS(endMs) / 60);
    while (this.ordinaryLatenciesByMinuteMs.length <= minute) this.ordinaryLatenciesByMinuteMs.push([]);
    this.ordinaryLatenciesByMinuteMs[minute]!.push(latencyMs);
  }

  /** Keep the step among the slowest when it is one of them. */
  recordSlow(step: Omit<SlowStep, 'startS'>, startMs: number): void {
    const slowest = this.slowestSteps;
    if (slowest.length === KEPT_SLOWEST_STEPS && slowest[slowest.length - 1]!.latencyMs >= step.latencyMs) return;
    slowest.push({ startS: Math.round(this.elapsedS(startMs) * 100) / 100, ...step, latencyMs: Math.round(step.latencyMs * 10) / 10 });
    slowest.sort((a, b) => b.latencyMs - a.latencyMs);
    slowest.length = Math.min(slowest.length, KEPT_SLOWEST_STEPS);
  }

  /** Count an error of `code`. */
  recordError(code: string): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
  }

  /** Count a problem under its code and keep the first few. */
  recordProblem(wrong: Omit<SoakProblem, 'atS'>): void {
    this.recordError(wrong.code);
    if (this.problems.length < KEPT_PROBLEMS) this.problems.push({ atS: Math.round(this.elapsedS() * 10) / 10, ...wrong });
  }

  /** Count the outcome of a hostile step. */
  recordHostile(language: string, kind: string, asExpected: boolean): void {
    const key = `${language}.${kind}`;
    const tally = (this.hostile[key] ??= { attempts: 0, expected: 0, wrong: 0 });
    tally.attempts += 1;
    if (asExpected) tally.expected += 1;
    else tally.wrong += 1;
  }

  /** The window since the last call, and start a new one. */
  takeWindow(): WindowCounts {
    const window = this.#window;
    this.#window = { steps: 0, ordinaryLatenciesMs: [] };
    return window;
  }
}
