import type { MachineFacts } from './machine-facts.js';
import { errorCount } from './measure.js';
import type { ProcessSnapshot, ServerReport } from './server-probe.js';
import type { CrowdRecord } from './soak-crowd.js';
import type { HostileTally, SlowStep, SoakProblem } from './soak-recorder.js';
import { percentile } from './stats.js';

/** The settings a soak ran with (`SOAK_*` environment variables). */
export interface SoakSettings {
  durationS: number;
  maxSteps: number;
  sessions: number;
  sampleIntervalS: number;
  hostileIntervalS: number;
  stallIntervalS: number;
  resetProbability: number;
  /** How many times, after the traffic, a hostile kind that never ran was sent again at most (0: never). */
  hostileCoverAttempts: number;
  /** Least time between two memory crowds, in s. */
  crowdIntervalS: number;
  /** Most members of a memory crowd (half of each language). */
  crowdSessions: number;
  seed: number;
  serverArgs: readonly string[];
}

/** One periodic sample: the window since the previous one, and the server at its end. */
export interface SoakSample {
  /** Seconds since the traffic started, at the end of the window. */
  tS: number;
  /** Steps answered in the window. */
  steps: number;
  stepsPerS: number;
  /** p50 and p99 of the window's ordinary steps, in ms; null when none finished in it. */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Errors so far, by code. */
  errors: Record<string, number>;
  process: ProcessSnapshot;
  server: ServerReport;
}

/** The server before the traffic (pools full) or after it (every session closed, pools full again). */
export interface SoakSnapshot {
  /** Seconds since the traffic started (0 before it; after the last sample at the end). */
  tS: number;
  process: ProcessSnapshot;
  server: ServerReport;
}

/** The run's outcome in a few numbers. */
export interface SoakSummary {
  /** Length of the traffic, in s (the overtime included). */
  durationS: number;
  /** Seconds spent after the planned end sending the hostile kinds that had not run yet. */
  overtimeS: number;
  steps: number;
  resets: number;
  stepsPerS: number;
  /** Errors by code or kind (`wrong_output`); empty when none. */
  errors: Record<string, number>;
  /** Steps of JavaScript episodes whose state a neighbour's stall destroyed (by design; not errors). */
  neighbourStalls: number;
  /** Every memory crowd, by how many sessions of each language filled memory at once. */
  memoryCrowds: CrowdRecord[];
  /**
   * Refusals of the JavaScript episode memory budget: `resets` the sessions saw refused
   * (503 SANDBOX_UNAVAILABLE naming the budget; expected outcomes, retried after Retry-After, not
   * errors), `server` every refusal the server counted (`envbox_episode_memory_refusals_total`,
   * episodes and growths, the warm pool's refills included). 0 when the budget was never reached.
   */
  budgetRefusals: { resets: number; server: number };
  /** Ordinary steps' latency over the run, in ms. */
  ordinaryP50Ms: number | null;
  ordinaryP99Ms: number | null;
  /** Every step's (hostile included: a timeout takes its 1 s) p99, in ms. */
  allP99Ms: number | null;
  /** p99 of ordinary steps in each minute of the run, in ms. */
  p99ByMinuteMs: (number | null)[];
  /** Hostile outcomes by `<language>.<kind>`. */
  hostile: Record<string, HostileTally>;
  /** `<language>.<kind>` of the hostile kinds that never got an observation (empty when each ran). */
  hostileMissing: string[];
  /** `<language>.<kind>` of the hostile kinds that got another outcome at least once. */
  hostileWrong: string[];
  /** Whether every hostile kind ran at least once and always got its expected outcome. */
  hostileAllExpected: boolean;
  /** Whether the server's process was alive when the traffic stopped. */
  serverAlive: boolean;
  /** Whether /health and /metrics counted 0 sessions once every client closed. */
  sessionsReleased: boolean;
  /** Whether the process tree was back to at most as many processes as at the start. */
  sandboxesReleased: boolean;
}

/** Everything `bench/results/soak.json` holds. */
export interface SoakReport {
  kind: 'soak';
  env: 'coding_env';
  serverUrl: string;
  machine: MachineFacts;
  settings: SoakSettings;
  summary: SoakSummary;
  start: SoakSnapshot;
  end: SoakSnapshot;
  samples: SoakSample[];
  /** The slowest ordinary steps, slowest first. */
  slowestSteps: SlowStep[];
  /** The first few wrong observations and failed calls, verbatim. */
  problems: SoakProblem[];
}

/** p50 and p99 of `values` (any order), or nulls when there are none. */
export function p50p99(values: readonly number[]): { p50Ms: number | null; p99Ms: number | null } {
  if (values.length === 0) return { p50Ms: null, p99Ms: null };
  const sorted = [...values].sort((a, b) => a - b);
  return { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
}

const MIB = 1024 * 1024;

function ms(value: number | null): string {
  if (value === null) return '–';
  return value < 10 ? value.toFixed(2) : value.toFixed(value < 100 ? 1 : 0);
}

function signed(value: number, digits = 0): string {
  return `${value >= 0 ? '+' : ''}${value.toFixed(digits)}`;
}

/** The report as Markdown: settings, the summary table, start vs end, hostile outcomes. */
export function formatSoakMarkdown(report: SoakReport): string {
  const { summary, settings, start, end, machine } = report;
  const errors = Object.entries(summary.errors)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, count]) => `${code} ${count}`)
    .join(', ');
  const lines = [
    '# Soak: coding_env (process backend), mixed Python and JavaScript',
    '',
    `${settings.sessions} concurrent sessions (half Python, half JavaScript; half HTTP with X-Session-Id, half WebSocket) against \`envbox serve ${settings.serverArgs.join(' ')}\` on loopback, a hostile step every ${settings.hostileIntervalS} s per session (at most one JavaScript stall every ${settings.stallIntervalS} s and one memory crowd of up to ${settings.crowdSessions} sessions every ${settings.crowdIntervalS} s; afterwards each kind that never ran, up to ${settings.hostileCoverAttempts} times), a reset with probability ${settings.resetProbability} per step. Machine: ${machine.cpuCount} × ${machine.cpuModel}, Node ${machine.node}, commit ${machine.gitCommit ?? 'unknown'}${machine.gitDirty === true ? ' (dirty)' : ''}, ${machine.date}. Latencies are client-side, over ordinary steps (hostile ones take their time limit by design). The machine was shared: read medians and p99s, not single numbers.`,
    '',
    '| metric | value |',
    '| --- | --- |',
    `| duration | ${summary.durationS.toFixed(1)} s${summary.overtimeS > 0 ? ` (of which ${summary.overtimeS.toFixed(1)} s after the planned end, for hostile kinds that had not run)` : ''} |`,
    `| steps | ${summary.steps} (resets ${summary.resets}) |`,
    `| steps/s | ${summary.stepsPerS.toFixed(1)} |`,
    `| errors by code | ${errorCount(summary.errors) === 0 ? 'none' : errors} |`,
    `| JS steps whose state a neighbour's stall destroyed (by design) | ${summary.neighbourStalls} |`,
    `| memory crowds (Python + JavaScript sessions filling memory at once) | ${summary.memoryCrowds.length === 0 ? 'none' : summary.memoryCrowds.map((crowd) => `${crowd.python} + ${crowd.javascript}`).join(', ')} |`,
    `| episode memory budget refusals (expected when reached; not errors) | resets refused ${summary.budgetRefusals.resets}, server-counted ${summary.budgetRefusals.server} |`,
    `| step p50 / p99, ordinary | ${ms(summary.ordinaryP50Ms)} / ${ms(summary.ordinaryP99Ms)} ms |`,
    `| step p99, all (hostile included) | ${ms(summary.allP99Ms)} ms |`,
    `| step p99 per minute | ${summary.p99ByMinuteMs.map(ms).join(', ')} ms${summary.durationS % 60 > 0 && summary.p99ByMinuteMs.length > Math.floor(summary.durationS / 60) ? ` (the last over ${(summary.durationS % 60).toFixed(1)} s)` : ''} |`,
    `| server RSS start → end | ${(start.process.serverRssBytes / MIB).toFixed(1)} → ${(end.process.serverRssBytes / MIB).toFixed(1)} MiB (${signed((end.process.serverRssBytes - start.process.serverRssBytes) / MIB, 1)}) |`,
    `| tree PSS start → end | ${(start.process.treePssBytes / MIB).toFixed(1)} → ${(end.process.treePssBytes / MIB).toFixed(1)} MiB (${signed((end.process.treePssBytes - start.process.treePssBytes) / MIB, 1)}) |`,
    `| server fds start → end | ${start.process.serverFds} → ${end.process.serverFds} (${signed(end.process.serverFds - start.process.serverFds)}) |`,
    `| processes start → end | ${start.process.processes} → ${end.process.processes} (${signed(end.process.processes - start.process.processes)}) |`,
    `| threads start → end | ${start.process.threads} → ${end.process.threads} (${signed(end.process.threads - start.process.threads)}) |`,
    `| sessions at the end | ${end.server.activeSessions} (${summary.sessionsReleased ? 'released' : 'NOT released'}); sandboxes ${summary.sandboxesReleased ? 'released' : 'NOT released'} |`,
    '',
    `Slowest ordinary steps: ${report.slowestSteps.slice(0, 5).map((step) => `${ms(step.latencyMs)} ms (${step.language} ${step.kind} over ${step.transport}, sent at ${step.startS.toFixed(1)} s)`).join('; ')}.`,
    '',
    '| hostile step | attempts | expected outcome | wrong |',
    '| --- | --- | --- | --- |',
    ...Object.entries(summary.hostile)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([kind, tally]) => `| ${kind} | ${tally.attempts} | ${tally.expected} | ${tally.wrong} |`),
    ...summary.hostileMissing.map((kind) => `| ${kind} | 0 (never ran) | 0 | 0 |`),
    '',
    summary.hostileMissing.length === 0 ? 'Every hostile kind ran.' : `Hostile kinds that never ran: ${summary.hostileMissing.join(', ')}.`,
    '',
    'A hostile step whose sandbox was already gone when it arrived (answered 137, its code never ran) is counted under `unexpected_state_lost`, not in this table.',
    '',
  ];
  if (report.problems.length > 0) {
    lines.push(
      `First ${report.problems.length} problems:`,
      '',
      ...report.problems.map((p) => `- ${p.atS} s, ${p.code}, ${p.language} ${p.kind} over ${p.transport}: ${p.problem.replace(/\|/g, '\\|')}`),
      '',
    );
  }
  return lines.join('\n');
}
