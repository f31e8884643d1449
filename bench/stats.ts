/** Summary statistics of latency samples, all in milliseconds. */
export interface LatencySummary {
  /** How many samples were taken (failed calls excluded). */
  samples: number;
  minMs: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

const NANOSECONDS_PER_MILLISECOND = 1e6;

/** Nanoseconds (from `process.hrtime.bigint()` differences) as fractional milliseconds. */
export function nanosecondsToMs(nanoseconds: bigint): number {
  return Number(nanoseconds) / NANOSECONDS_PER_MILLISECOND;
}

/**
 * The nearest-rank percentile of already sorted (ascending) values: the smallest value such that
 * at least `percent` % of the values are at or below it.
 * @throws {RangeError} when `sorted` is empty or `percent` is outside (0, 100]
 */
export function percentile(sorted: readonly number[], percent: number): number {
  if (sorted.length === 0) throw new RangeError('percentile: expected at least one value, received none.');
  if (!(percent > 0 && percent <= 100)) throw new RangeError(`percentile: expected a percent in (0, 100], received ${percent}.`);
  const rank = Math.ceil((percent / 100) * sorted.length);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1]!;
}

/**
 * The median (nearest-rank p50, so always one of the values) of `values`, in any order.
 * @throws {RangeError} when `values` is empty
 */
export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/**
 * Summarise latency samples in milliseconds.
 * @throws {RangeError} when `samplesMs` is empty
 */
export function summarizeLatency(samplesMs: readonly number[]): LatencySummary {
  if (samplesMs.length === 0) throw new RangeError('summarizeLatency: expected at least one sample, received none.');
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const total = sorted.reduce((sum, value) => sum + value, 0);
  return {
    samples: sorted.length,
    minMs: sorted[0]!,
    meanMs: total / sorted.length,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    maxMs: percentile(sorted, 100),
  };
}
