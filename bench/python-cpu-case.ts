import { z } from 'zod';
import type { CodeObservation, EnvClient, EnvClientOptions } from '../index.js';
import type { BenchCase, BenchCaseContext, BenchCaseResult } from './bench-case.js';
import { BenchError } from './bench-error.js';
import { timeOnHostPython, type HostPythonTiming } from './host-python.js';
import { formatMs as ms, type TargetCheck } from './report.js';
import { median, nanosecondsToMs } from './stats.js';

/** Untimed runs before the timed ones, on both sides (the first step of a session pays for imports and caches). */
export const CPU_CASE_WARMUP_RUNS = 1;

/** Options of {@link pythonCpuBoundCase}. */
export interface PythonCpuCaseOptions {
  /** A client of a Python code environment (action `{ code }`, observation with `metadata.duration_ms`). */
  createClient(options: EnvClientOptions): EnvClient<{ code: string }, CodeObservation, unknown>;
  /** The CPU-bound code, e.g. `sum(i*i for i in range(10**6))`; its trailing expression must give the same `repr` in the sandbox and on the host. */
  code: string;
  /**
   * A short name of the workload, e.g. `mixed`, for an environment with more than one CPU case:
   * it goes into the case's name, its metrics (which must differ between cases) and, instead of
   * `code`, into the details. Undefined: the metrics are `cpu step, server` etc. and the details quote `code`.
   */
  label?: string;
  /** Timed runs of a full run; the median is reported. */
  runs: number;
  /** Timed runs of a `--quick` run. */
  quickRuns: number;
  /** The round trip through the server may take at most this many times plain python3 (e.g. 1.3). */
  maxRatio: number;
}

/** `metadata` of a Python step: the server-side duration of the step, in milliseconds. */
const StepMetadata = z.looseObject({ duration_ms: z.number() });

/**
 * A CPU-bound step timed through the server over HTTP keep-alive (client round trip and the
 * server's own `metadata.duration_ms`) against the same code in plain host python3.
 */
export function pythonCpuBoundCase(options: PythonCpuCaseOptions): BenchCase {
  return {
    name: caseName(options),
    run: (context) => runCpuCase(options, context),
  };
}

/** `cpu-bound step`, or `cpu-bound step (<label>)`. */
function caseName(options: PythonCpuCaseOptions): string {
  return options.label === undefined ? 'cpu-bound step' : `cpu-bound step (${options.label})`;
}

/** What the report calls the code: `the <label> workload`, or the code itself. */
function workloadName(options: PythonCpuCaseOptions): string {
  return options.label === undefined ? options.code : `the ${options.label} workload`;
}

/** A metric of this case, e.g. `cpu step vs python3` or `cpu step vs python3 (mixed)`. */
function metricName(options: PythonCpuCaseOptions, metric: string): string {
  return options.label === undefined ? metric : `${metric} (${options.label})`;
}

async function runCpuCase(options: PythonCpuCaseOptions, context: BenchCaseContext): Promise<BenchCaseResult> {
  const runs = context.quick ? options.quickRuns : options.runs;
  context.progress(`${caseName(options)}: ${runs} runs of ${options.label === undefined ? JSON.stringify(options.code) : workloadName(options)} over http, then on the host python3`);
  const roundTripMs: number[] = [];
  const serverMs: number[] = [];
  let sandboxResult: string | null = null;
  const client = options.createClient({ baseUrl: context.baseUrl, transport: 'http' });
  try {
    await client.reset();
    await context.settle();
    for (let i = 0; i < CPU_CASE_WARMUP_RUNS + runs; i += 1) {
      const started = process.hrtime.bigint();
      const { observation } = await client.step({ code: options.code });
      const elapsedMs = nanosecondsToMs(process.hrtime.bigint() - started);
      if (observation.exit_code !== 0) {
        throw new BenchError(
          `The cpu-bound step ${JSON.stringify(options.code)} exited with ${observation.exit_code} in the sandbox (stderr: ${JSON.stringify(observation.stderr.slice(-400))}); its timing would mean nothing.`,
        );
      }
      sandboxResult = observation.metadata.result;
      if (i < CPU_CASE_WARMUP_RUNS) continue;
      roundTripMs.push(elapsedMs);
      const metadata = StepMetadata.safeParse(observation.metadata);
      if (!metadata.success) throw new BenchError(`The step's metadata has no duration_ms (expected a number, received ${JSON.stringify(observation.metadata)}).`);
      serverMs.push(metadata.data.duration_ms);
    }
  } finally {
    await client.close().catch((error: unknown) => context.progress(`closing the cpu-bound client failed: ${String(error)}`));
  }
  const host = await timeOnHostPython(options.code, CPU_CASE_WARMUP_RUNS + runs);
  const hostMs = host.samplesMs.slice(CPU_CASE_WARMUP_RUNS);
  if (host.result !== sandboxResult) {
    throw new BenchError(`The sandbox and ${host.pythonPath} disagree on ${JSON.stringify(options.code)}: ${JSON.stringify(sandboxResult)} against ${JSON.stringify(host.result)}.`);
  }
  return summarize(options, runs, { roundTripMs, serverMs, hostMs, host });
}

interface CpuSamples {
  roundTripMs: number[];
  serverMs: number[];
  hostMs: number[];
  host: HostPythonTiming;
}

function summarize(options: PythonCpuCaseOptions, runs: number, samples: CpuSamples): BenchCaseResult {
  const roundTrip = median(samples.roundTripMs);
  const server = median(samples.serverMs);
  const host = median(samples.hostMs);
  const roundTripRatio = roundTrip / host;
  const serverRatio = server / host;
  const ratioMetric = metricName(options, 'cpu step vs python3');
  const workload = workloadName(options);
  const check: TargetCheck = {
    transport: 'http',
    metric: ratioMetric,
    target: `<= ${options.maxRatio}x python3`,
    ratio: roundTripRatio / options.maxRatio,
    pass: roundTripRatio <= options.maxRatio,
  };
  const spread = (values: readonly number[]): string => `min ${ms(Math.min(...values))}, max ${ms(Math.max(...values))} ms`;
  return {
    name: caseName(options),
    metrics: [
      { via: 'http', metric: metricName(options, 'cpu step, server'), result: `median ${ms(server)} ms`, detail: `metadata.duration_ms of ${runs} steps of ${workload}, ${spread(samples.serverMs)}` },
      { via: 'http', metric: metricName(options, 'cpu step, round trip'), result: `median ${ms(roundTrip)} ms`, detail: `client-timed, the same ${runs} steps over http keep-alive, ${spread(samples.roundTripMs)}` },
      {
        via: 'host',
        metric: metricName(options, 'cpu step, python3'),
        result: `median ${ms(host)} ms`,
        detail: `${samples.host.pythonPath} ${samples.host.pythonVersion} on the host, perf_counter over ${runs} runs in one process, ${spread(samples.hostMs)}`,
      },
      { via: 'http', metric: ratioMetric, result: `${roundTripRatio.toFixed(2)}x`, detail: `round trip / python3 (server-side ${serverRatio.toFixed(2)}x)` },
    ],
    checks: [check],
    data: {
      ...(options.label === undefined ? {} : { label: options.label }),
      code: options.code,
      runs,
      warmupRuns: CPU_CASE_WARMUP_RUNS,
      transport: 'http',
      pythonPath: samples.host.pythonPath,
      pythonVersion: samples.host.pythonVersion,
      serverMedianMs: server,
      roundTripMedianMs: roundTrip,
      hostMedianMs: host,
      roundTripRatio,
      serverRatio,
      serverSamplesMs: samples.serverMs,
      roundTripSamplesMs: samples.roundTripMs,
      hostSamplesMs: samples.hostMs,
    },
  };
}
