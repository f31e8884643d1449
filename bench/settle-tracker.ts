import type { BenchEnv, SettleOutcome } from './bench-envs.js';

/** Every wait for the server to settle in one run, added up. */
export interface SettleSummary {
  /** Waits made. */
  calls: number;
  /** Total time waited, outside every timed call. */
  waitedMs: number;
  /** Times the harness had to prod the server (see `SettleOutcome.nudges`). */
  nudges: number;
}

/** The environment's `settle` bound to one server, counting what every call took. */
export class SettleTracker {
  readonly #settle: ((baseUrl: string) => Promise<SettleOutcome>) | undefined;
  readonly #baseUrl: string;
  readonly #summary: SettleSummary = { calls: 0, waitedMs: 0, nudges: 0 };

  constructor(env: BenchEnv, baseUrl: string) {
    this.#settle = env.settle;
    this.#baseUrl = baseUrl;
  }

  /** Whether the environment settles at all (false: `settle()` resolves at once). */
  get active(): boolean {
    return this.#settle !== undefined;
  }

  /**
   * Wait until the server has settled.
   * @throws {BenchError} when it does not in time
   */
  readonly settle = async (): Promise<void> => {
    if (this.#settle === undefined) return;
    const outcome = await this.#settle(this.#baseUrl);
    this.#summary.calls += 1;
    this.#summary.waitedMs += outcome.waitedMs;
    this.#summary.nudges += outcome.nudges;
  };

  /** What the waits took so far. */
  summary(): SettleSummary {
    return { ...this.#summary, waitedMs: Math.round(this.#summary.waitedMs) };
  }
}
