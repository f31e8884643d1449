import { EnvboxError } from '../index.js';
import type { BenchClient, BenchEnv, BenchTransport } from './bench-envs.js';
import { median, nanosecondsToMs, summarizeLatency, type LatencySummary } from './stats.js';

/** A throughput worker whose session failed this many calls in a row stops, rather than spin on a dead connection. */
export const MAX_CONSECUTIVE_ERRORS = 10;

/** Latency of one kind of call made back to back by one client, and how many of the calls failed. */
export interface LatencyResult {
  /** Calls attempted. */
  calls: number;
  /** Calls that failed, by error code (`EnvboxError.code`, else the error's name). */
  errors: Record<string, number>;
  /** Summary of the calls that succeeded; undefined when none did. */
  latency: LatencySummary | undefined;
}

/** One timed throughput run: `sessions` clients, each stepping back to back for `durationMs`. */
export interface ThroughputRun {
  /** Steps completed in the measured window, over all sessions. */
  steps: number;
  stepsPerS: number;
  /** Sessions whose first reset succeeded (the server admitted them). */
  admitted: number;
  /** Admitted sessions that completed at least one step in the window and had no error. */
  succeeded: number;
  /** Failed calls (admission and steps), by error code. */
  errors: Record<string, number>;
}

/** Throughput at one level of concurrency, measured `runs.length` times. */
export interface ThroughputResult {
  sessions: number;
  /** Median of the runs' steps/s. */
  medianStepsPerS: number;
  /** The fewest sessions admitted in any run. */
  minAdmitted: number;
  /** The fewest sessions that succeeded in any run. */
  minSucceeded: number;
  /** Failed calls over all runs, by error code. */
  errors: Record<string, number>;
  warmupMs: number;
  durationMs: number;
  runs: ThroughputRun[];
}

/** Options of {@link measureThroughput}. */
export interface ThroughputOptions {
  env: BenchEnv;
  baseUrl: string;
  transport: BenchTransport;
  sessions: number;
  /** Steps before the window are not counted (connections warm, JIT hot). */
  warmupMs: number;
  /** Length of the counted window. */
  durationMs: number;
  /** How many times to measure; the median is reported. */
  repeats: number;
  /** Awaited before the sessions are admitted and again before they start stepping (see `BenchEnv.settle`). */
  settle?: (() => Promise<void>) | undefined;
}

/** How many calls failed, summed over every code. */
export function errorCount(errors: Readonly<Record<string, number>>): number {
  return Object.values(errors).reduce((sum, count) => sum + count, 0);
}

/** Error counts of several measurements, summed by code. */
export function mergeErrors(...counts: readonly Readonly<Record<string, number>>[]): Record<string, number> {
  const merged: Record<string, number> = {};
  for (const errors of counts) for (const [code, count] of Object.entries(errors)) merged[code] = (merged[code] ?? 0) + count;
  return merged;
}

/** Options of {@link measureLatency} and {@link warmUp}. */
export interface LatencyOptions {
  /** Awaited, untimed, before each call (e.g. until the server's warm pool is full again). */
  before?: (() => Promise<void>) | undefined;
}

/** Make `count` calls of `call` back to back to warm the connection and the JIT; only the errors of the result matter. */
export async function warmUp(call: () => Promise<unknown>, count: number, options: LatencyOptions = {}): Promise<LatencyResult> {
  return measureLatency(call, count, options);
}

/**
 * Time `count` calls of `call` made back to back with `process.hrtime.bigint()`.
 * @throws whatever `options.before` throws (a harness failure, not a failed call)
 */
export async function measureLatency(call: () => Promise<unknown>, count: number, options: LatencyOptions = {}): Promise<LatencyResult> {
  const samplesMs: number[] = [];
  const errors: Record<string, number> = {};
  for (let i = 0; i < count; i += 1) {
    await options.before?.();
    const started = process.hrtime.bigint();
    try {
      await call();
      samplesMs.push(nanosecondsToMs(process.hrtime.bigint() - started));
    } catch (error) {
      countError(errors, error);
    }
  }
  return { calls: count, errors, latency: samplesMs.length === 0 ? undefined : summarizeLatency(samplesMs) };
}

/**
 * Steps/s with `sessions` concurrent sessions, each its own client stepping back to back, counted
 * over a fixed window after a warm-up; repeated `repeats` times with fresh sessions each time.
 * `settle` (if any) is awaited before the sessions are admitted and again before they start
 * stepping, so what admission set off (e.g. a pool refill) stays out of the window.
 */
export async function measureThroughput(options: ThroughputOptions): Promise<ThroughputResult> {
  const runs: ThroughputRun[] = [];
  for (let i = 0; i < options.repeats; i += 1) runs.push(await throughputRun(options));
  const errors = mergeErrors(...runs.map((run) => run.errors));
  return {
    sessions: options.sessions,
    medianStepsPerS: median(runs.map((run) => run.stepsPerS)),
    minAdmitted: Math.min(...runs.map((run) => run.admitted)),
    minSucceeded: Math.min(...runs.map((run) => run.succeeded)),
    errors,
    warmupMs: options.warmupMs,
    durationMs: options.durationMs,
    runs,
  };
}

interface WorkerOutcome {
  steps: number;
  errors: number;
}

async function throughputRun(options: ThroughputOptions): Promise<ThroughputRun> {
  const { env, baseUrl, transport, sessions, settle } = options;
  const clients = Array.from({ length: sessions }, () => env.openClient({ baseUrl, transport }));
  const errors: Record<string, number> = {};
  try {
    await settle?.();
    const admissions = await Promise.allSettled(clients.map((client) => client.reset()));
    const admitted: BenchClient[] = [];
    admissions.forEach((admission, i) => {
      if (admission.status === 'fulfilled') admitted.push(clients[i]!);
      else countError(errors, admission.reason);
    });
    await settle?.();
    const windowStartNs = process.hrtime.bigint() + msToNs(options.warmupMs);
    const windowEndNs = windowStartNs + msToNs(options.durationMs);
    const outcomes = await Promise.all(admitted.map((client) => stepUntil(client, windowStartNs, windowEndNs, errors)));
    const steps = outcomes.reduce((sum, outcome) => sum + outcome.steps, 0);
    return {
      steps,
      stepsPerS: steps / (options.durationMs / 1000),
      admitted: admitted.length,
      succeeded: outcomes.filter((outcome) => outcome.steps > 0 && outcome.errors === 0).length,
      errors,
    };
  } finally {
    await Promise.allSettled(clients.map((client) => client.close()));
  }
}

/** Step back to back until `endNs`; count the steps that complete inside [startNs, endNs). */
async function stepUntil(client: BenchClient, startNs: bigint, endNs: bigint, errors: Record<string, number>): Promise<WorkerOutcome> {
  const outcome: WorkerOutcome = { steps: 0, errors: 0 };
  let consecutiveErrors = 0;
  for (let now = process.hrtime.bigint(); now < endNs; now = process.hrtime.bigint()) {
    try {
      await client.step();
      consecutiveErrors = 0;
      const done = process.hrtime.bigint();
      if (done >= startNs && done < endNs) outcome.steps += 1;
    } catch (error) {
      countError(errors, error);
      outcome.errors += 1;
      consecutiveErrors += 1;
      if (consecutiveErrors >= MAX_CONSECUTIVE_ERRORS) break;
    }
  }
  return outcome;
}

function msToNs(ms: number): bigint {
  return BigInt(Math.round(ms * 1e6));
}

function countError(errors: Record<string, number>, error: unknown): void {
  const code = error instanceof EnvboxError ? error.code : error instanceof Error ? error.name : 'UNKNOWN';
  errors[code] = (errors[code] ?? 0) + 1;
}
