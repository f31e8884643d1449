import type { BenchCaseResult } from './bench-case.js';
import type { BenchTargets, BenchTransport } from './bench-envs.js';
import type { MachineFacts } from './machine-facts.js';
import type { SettleSummary } from './settle-tracker.js';
import { errorCount, type LatencyResult, type ThroughputResult } from './measure.js';

/** What was measured over one transport. */
export interface TransportResults {
  transport: BenchTransport;
  /** The untimed warm-up steps and resets (only their errors matter). */
  warmup: { calls: number; errors: Record<string, number> };
  /** Single-client `reset()` latency. */
  reset: LatencyResult;
  /** Single-client `step()` latency. */
  step: LatencyResult;
  /** Throughput by concurrency, in increasing order of sessions. */
  throughput: ThroughputResult[];
}

/** One target compared with what was measured. */
export interface TargetCheck {
  /** Through which transport the metric was measured; `local` for a case measured in the bench process itself (e.g. starting a sandbox). */
  transport: BenchTransport | 'local';
  /** e.g. `step p50` or `throughput x16`; unique per transport, and across extra cases. */
  metric: string;
  /** The target in words, e.g. `< 0.3 ms`. */
  target: string;
  /** Measured / target (latency: below 1 is good; throughput: 1 or more is good); null when nothing was measured. */
  ratio: number | null;
  pass: boolean;
}

/** Counts and durations of one run. */
export interface BenchSettings {
  /** Untimed steps before the reset measurement, and again in the fresh episode the step latency is measured in. */
  warmupSteps: number;
  warmupResets: number;
  resetCalls: number;
  stepCalls: number;
  throughputSessions: readonly number[];
  throughputWarmupMs: number;
  throughputDurationMs: number;
  throughputRepeats: number;
  serverMaxSessions: number;
}

/** Everything one run of `run.js` measured, as written to `bench/results/<env>.json`. */
export interface BenchResults {
  /** The `BENCH_ENVS` entry, e.g. `coding_env_pyodide`; also the name of the results file. */
  env: string;
  /** What the server served (`envbox serve --env`), e.g. `coding_env`. */
  serveEnv: string;
  sampleAction: unknown;
  serverUrl: string;
  /** Extra arguments the server was started with (`BenchEnv.serverArgs`). */
  serverArgs: readonly string[];
  machine: MachineFacts;
  /**
   * The untimed waits for the server to settle (`BenchEnv.settle`, e.g. a full warm pool) before
   * each timed reset, the step measurement and each throughput window; null when the environment
   * has none.
   */
  settle: SettleSummary | null;
  /** The counts and durations used: the common ones with the environment's changes. */
  settings: BenchSettings;
  transports: TransportResults[];
  /** The environment's extra cases, in order. */
  cases: BenchCaseResult[];
  /** Every target, those of the transports' measurements and those of the cases. */
  targets: TargetCheck[];
  /** Wall time of the whole run, server start to stop. */
  elapsedMs: number;
}

/** Compare the results of every transport with the environment's targets. */
export function checkTargets(targets: BenchTargets, transports: readonly TransportResults[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const results of transports) {
    const { transport } = results;
    if (targets.resetP50MaxMs !== undefined) {
      const p50Ms = results.reset.latency?.p50Ms;
      checks.push({
        transport,
        metric: 'reset p50',
        target: `< ${targets.resetP50MaxMs} ms`,
        ratio: p50Ms === undefined ? null : p50Ms / targets.resetP50MaxMs,
        pass: p50Ms !== undefined && p50Ms < targets.resetP50MaxMs,
      });
    }
    if (targets.stepP50MaxMs !== undefined) {
      const p50Ms = results.step.latency?.p50Ms;
      checks.push({
        transport,
        metric: 'step p50',
        target: `< ${targets.stepP50MaxMs} ms`,
        ratio: p50Ms === undefined ? null : p50Ms / targets.stepP50MaxMs,
        pass: p50Ms !== undefined && p50Ms < targets.stepP50MaxMs,
      });
    }
    if (targets.throughputMinStepsPerS !== undefined && targets.throughputSessions !== undefined) {
      const sessions = targets.throughputSessions;
      const measured = results.throughput.find((result) => result.sessions === sessions);
      checks.push({
        transport,
        metric: `throughput x${sessions}`,
        target: `>= ${targets.throughputMinStepsPerS} steps/s, ${sessions}/${sessions} admitted`,
        ratio: measured === undefined ? null : measured.medianStepsPerS / targets.throughputMinStepsPerS,
        pass:
          measured !== undefined &&
          measured.medianStepsPerS >= targets.throughputMinStepsPerS &&
          measured.minAdmitted === sessions &&
          measured.minSucceeded === sessions,
      });
    }
  }
  return checks;
}

/** The results as a plain-text table: one row per transport and metric, targets beside their metric. */
export function formatReport(results: BenchResults): string {
  const { machine, settings } = results;
  const commit = machine.gitCommit === null ? 'no git' : `commit ${machine.gitCommit}${machine.gitDirty === true ? ' (dirty)' : ''}`;
  const header = [
    `envbox bench: ${results.env} (${results.serveEnv === results.env ? '' : `${results.serveEnv} at `}${results.serverUrl}${results.serverArgs.length === 0 ? '' : ` ${results.serverArgs.join(' ')}`}), ${machine.quick ? 'QUICK smoke run (not a measurement)' : 'full run'}`,
    `node ${machine.node}, ${machine.platform} ${machine.arch}, ${machine.cpuCount} x ${machine.cpuModel}, ${commit}, ${machine.date}`,
    results.transports.length === 0
      ? 'the extra cases only (--cases-only): no per-transport rows'
      : `single client: ${settings.warmupSteps} warm-up steps + ${settings.warmupResets} resets, then ${settings.resetCalls} resets; ` +
        `in a fresh episode ${settings.warmupSteps} warm-up steps, then ${settings.stepCalls} steps; ` +
        `throughput: ${settings.throughputWarmupMs} ms warm-up + ${settings.throughputDurationMs} ms window, median of ${settings.throughputRepeats}`,
    ...(results.settle === null ? [] : [settleLine(results.settle)]),
  ];
  const rows: string[][] = [['transport', 'metric', 'result', 'detail', 'target', 'vs target', 'verdict']];
  const checkCells = (found: TargetCheck | undefined): string[] => {
    if (found === undefined) return ['', '', ''];
    return [found.target, found.ratio === null ? '-' : `${found.ratio.toFixed(2)}x`, found.pass ? 'PASS' : 'MISS'];
  };
  for (const transportResults of results.transports) {
    const { transport } = transportResults;
    const check = (metric: string): string[] =>
      checkCells(results.targets.find((target) => target.transport === transport && target.metric === metric));
    rows.push([transport, 'reset latency', latencyCell(transportResults.reset), latencyDetail(transportResults.reset), ...check('reset p50')]);
    rows.push([transport, 'step latency', latencyCell(transportResults.step), latencyDetail(transportResults.step), ...check('step p50')]);
    for (const throughput of transportResults.throughput) {
      const runs = throughput.runs.map((run) => Math.round(run.stepsPerS)).join('/');
      const detail = `admitted ${throughput.minAdmitted}/${throughput.sessions}, ok ${throughput.minSucceeded}/${throughput.sessions}, ${errorsCell(throughput.errors)}; runs ${runs}`;
      rows.push([
        transport,
        `throughput x${throughput.sessions}`,
        `${Math.round(throughput.medianStepsPerS)} steps/s`,
        detail,
        ...check(`throughput x${throughput.sessions}`),
      ]);
    }
  }
  for (const result of results.cases) {
    for (const line of result.metrics) {
      rows.push([line.via, line.metric, line.result, line.detail, ...checkCells(result.checks.find((check) => check.metric === line.metric))]);
    }
  }
  return `${header.join('\n')}\n\n${formatTable(rows)}\n`;
}

function settleLine(settle: SettleSummary): string {
  const nudges =
    settle.nudges === 0
      ? 'no nudges'
      : `${settle.nudges} NUDGES (the server did not settle by itself, e.g. a stalled pool refill restarted by a throwaway reset)`;
  return `each timed reset, the step measurement and each throughput window waited, untimed, for the server to settle: ${settle.calls} waits, ${(settle.waitedMs / 1000).toFixed(1)} s, ${nudges}`;
}

function latencyCell(result: LatencyResult): string {
  const latency = result.latency;
  if (latency === undefined) return 'all calls failed';
  return `p50 ${formatMs(latency.p50Ms)} p90 ${formatMs(latency.p90Ms)} p99 ${formatMs(latency.p99Ms)} ms`;
}

function latencyDetail(result: LatencyResult): string {
  const max = result.latency === undefined ? '' : `, max ${formatMs(result.latency.maxMs)} ms`;
  return `${result.calls} calls, ${errorsCell(result.errors)}${max}`;
}

function errorsCell(errors: Readonly<Record<string, number>>): string {
  const total = errorCount(errors);
  if (total === 0) return '0 errors';
  const codes = Object.entries(errors).map(([code, count]) => `${code} ${count}`);
  return `${total} errors (${codes.join(', ')})`;
}

/** Milliseconds as printed in the report: three decimals below 10 ms, one above. */
export function formatMs(value: number): string {
  return value < 10 ? value.toFixed(3) : value.toFixed(1);
}

/** Left-aligned columns separated by two spaces, with a rule under the first row. */
function formatTable(rows: readonly string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const line = (row: readonly string[]): string => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  const [head, ...body] = rows;
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [line(head!), rule, ...body.map(line)].join('\n');
}
