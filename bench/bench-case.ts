import type { TargetCheck } from './report.js';

/** What the harness hands an extra case: the server under test and how long the run may take. */
export interface BenchCaseContext {
  /** Base URL of the server under test. */
  baseUrl: string;
  /** Process id of the server under test (its memory can be read from /proc). */
  serverPid: number;
  /** Whether this is a `--quick` run (the case should shrink its counts). */
  quick: boolean;
  /** Wait until the server is back in its steady state (see `BenchEnv.settle`); resolves at once for environments without one. */
  settle(): Promise<void>;
  /** Report progress on stderr. */
  progress(message: string): void;
}

/** One line of an extra case in the report. */
export interface BenchCaseMetric {
  /** What it went through, shown in the transport column: `http`, `ws`, or e.g. `host` for a baseline. */
  via: string;
  /** e.g. `cpu step, server`. */
  metric: string;
  /** The headline number, e.g. `median 22.6 ms`. */
  result: string;
  /** How it was measured. */
  detail: string;
}

/** What an extra case measured. */
export interface BenchCaseResult {
  /** The case's name, e.g. `cpu-bound step`. */
  name: string;
  /** Report lines, in order. */
  metrics: BenchCaseMetric[];
  /** Targets of this case; a check whose `metric` equals a line's is printed on that line. */
  checks: TargetCheck[];
  /** Raw numbers, written to the results file as they are. */
  data: Record<string, unknown>;
}

/**
 * A measurement only some environments have (e.g. a CPU-bound step against plain python3), run
 * once per server after the per-transport measurements.
 */
export interface BenchCase {
  /** e.g. `cpu-bound step`. */
  name: string;
  /**
   * Measure.
   * @throws {BenchError} when the case could not measure anything (a missed target is a check, not a throw)
   */
  run(context: BenchCaseContext): Promise<BenchCaseResult>;
}
