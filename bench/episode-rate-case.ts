import { setTimeout as sleep } from 'node:timers/promises';
import { CodingEnv, EnvboxError, type CodeObservation, type Language } from '../index.js';
import type { BenchCase, BenchCaseContext, BenchCaseMetric, BenchCaseResult } from './bench-case.js';
import { BenchError } from './bench-error.js';
import { MAX_CONSECUTIVE_ERRORS, mergeErrors } from './measure.js';
import { drainState, readLanguagePool, type DrainPolicy, type DrainState, type LanguagePoolHealth } from './pool-drain.js';
import { formatMs, type TargetCheck } from './report.js';
import { nanosecondsToMs, summarizeLatency, type LatencySummary } from './stats.js';

/** Pause between two `GET /health` polls while the pool drains: cheap for the server, short next to a sandbox start. @default 20 ms */
export const DRAIN_POLL_INTERVAL_MS = 20;
/** A drain that has not opened the window after this long is a harness failure (a Pyodide drain at ~2 episodes/s takes ~16 s). @default 120 s */
export const DRAIN_TIMEOUT_MS = 120_000;
/** Once `pool size + extra` episodes ran, how long the drain waits to see the pool empty. @default 3 s */
export const DRAIN_EMPTY_WAIT_MAX_MS = 3_000;

/** What the case's targets are, at one number of workers. */
export interface EpisodeRateTargets {
  /** The number of workers the targets are for, e.g. 16; every worker must finish the window without error. */
  workers: number;
  /** Episodes (reset + one step) per second over the window must be at least this. */
  minEpisodesPerS?: number;
  /** Reset latency p99 over the window must be below this. */
  resetP99MaxMs?: number;
}

/** Options of {@link episodeRateCase}. */
export interface EpisodeRateCaseOptions {
  /** The episodes' language, sent in every reset (`{"language": ...}`). */
  language: Language;
  /** The one step of each episode, e.g. `print(1)`. */
  code: string;
  /** What that step must print; any other observation counts as an error (`UNEXPECTED_OBSERVATION`). */
  expectedStdout: string;
  /** The concurrency levels, e.g. `[1, 16]`: that many workers, each one WebSocket connection. */
  workers: readonly number[];
  /** The timed window of a full run (the issue asks for at least 8 s). */
  durationMs: number;
  /** Of a `--quick` run. */
  quickDurationMs: number;
  /** Episodes beyond the pool size the drain runs before the window (see {@link DrainPolicy}). @default the pool size */
  extraDrainEpisodes?: number;
  targets: EpisodeRateTargets;
}

/** What one concurrency level measured. */
export interface EpisodeRateLevel {
  workers: number;
  /** How the warm pool's initial stock was spent before the window. */
  drain: {
    state: Exclude<DrainState, 'draining'>;
    episodes: number;
    ms: number;
    /** The fewest ready sandboxes `/health` showed while draining. */
    minReady: number;
    poolSize: number;
  };
  /** The pool when the window opened and when it closed. */
  poolAtStart: LanguagePoolHealth;
  poolAtEnd: LanguagePoolHealth;
  durationMs: number;
  /** Episodes whose step answered inside the window. */
  episodes: number;
  episodesPerS: number;
  /** Latency of the resets that answered inside the window; undefined when none did. */
  reset: LatencySummary | undefined;
  /** Latency of the steps that answered inside the window. */
  step: LatencySummary | undefined;
  /** Failed calls over drain and window, by error code. */
  errors: Record<string, number>;
  /** Workers that completed at least one episode in the window without any error. */
  succeeded: number;
}

/**
 * Fresh episodes per second (issue 18): at each level, that many workers, each a loop over ONE
 * WebSocket connection doing `reset({language})` then one step, after the warm pool has been
 * drained (see {@link DrainPolicy}), counted over a timed window. The workers never pause between
 * the drain and the window, so the window sees the steady state. Each level starts from a settled
 * (full) pool; the server's default language should be `language`, so that `settle` waits for
 * this pool.
 */
export function episodeRateCase(options: EpisodeRateCaseOptions): BenchCase {
  return { name: caseName(options.language), run: (context) => runCase(options, context) };
}

function caseName(language: Language): string {
  return `episodes/s (${language})`;
}

/** A metric of this case: e.g. `episodes/s x16 (python)`, `episode reset x16 (python)`. */
export function episodeMetric(kind: 'episodes/s' | 'episode reset', workers: number, language: Language): string {
  return `${kind} x${workers} (${language})`;
}

/** The case's targets compared with what the level of `targets.workers` measured. */
export function episodeRateChecks(language: Language, targets: EpisodeRateTargets, levels: readonly EpisodeRateLevel[]): TargetCheck[] {
  const level = levels.find((candidate) => candidate.workers === targets.workers);
  const checks: TargetCheck[] = [];
  if (targets.minEpisodesPerS !== undefined) {
    const allOk = level !== undefined && level.succeeded === level.workers;
    checks.push({
      transport: 'ws',
      metric: episodeMetric('episodes/s', targets.workers, language),
      target: `>= ${targets.minEpisodesPerS} episodes/s, ${targets.workers}/${targets.workers} ok`,
      ratio: level === undefined ? null : level.episodesPerS / targets.minEpisodesPerS,
      pass: level !== undefined && allOk && level.episodesPerS >= targets.minEpisodesPerS,
    });
  }
  if (targets.resetP99MaxMs !== undefined) {
    const p99Ms = level?.reset?.p99Ms;
    checks.push({
      transport: 'ws',
      metric: episodeMetric('episode reset', targets.workers, language),
      target: `p99 < ${targets.resetP99MaxMs} ms`,
      ratio: p99Ms === undefined ? null : p99Ms / targets.resetP99MaxMs,
      pass: p99Ms !== undefined && p99Ms < targets.resetP99MaxMs,
    });
  }
  return checks;
}

async function runCase(options: EpisodeRateCaseOptions, context: BenchCaseContext): Promise<BenchCaseResult> {
  const durationMs = context.quick ? options.quickDurationMs : options.durationMs;
  const levels: EpisodeRateLevel[] = [];
  for (const workers of options.workers) {
    await context.settle();
    context.progress(`${caseName(options.language)}: ${workers} worker(s), each a WebSocket loop of reset + ${JSON.stringify(options.code)}; draining the pool, then ${durationMs} ms timed`);
    levels.push(await measureLevel(options, context.baseUrl, workers, durationMs));
  }
  const metrics = levels.flatMap((level) => levelMetrics(options, level));
  return {
    name: caseName(options.language),
    metrics,
    checks: episodeRateChecks(options.language, options.targets, levels),
    data: { language: options.language, code: options.code, transport: 'ws', levels },
  };
}

/** The shared clock of one level: the window opens when the drain is done. */
interface LevelClock {
  windowStartNs: bigint | undefined;
  windowEndNs: bigint | undefined;
  /** Set when the level is abandoned (a drain that never ends): every worker stops. */
  stopped: boolean;
  /** Resets completed so far, drain included. */
  resets: number;
  /** Workers still looping. */
  liveWorkers: number;
}

interface WorkerRecord {
  resetMs: number[];
  stepMs: number[];
  episodes: number;
  errors: Record<string, number>;
  errorCount: number;
}

async function measureLevel(options: EpisodeRateCaseOptions, baseUrl: string, workers: number, durationMs: number): Promise<EpisodeRateLevel> {
  const { language } = options;
  const first = await readLanguagePool(baseUrl, language);
  const policy: DrainPolicy = { poolSize: first.size, extraEpisodes: options.extraDrainEpisodes ?? first.size, emptyWaitMaxMs: DRAIN_EMPTY_WAIT_MAX_MS };
  const clock: LevelClock = { windowStartNs: undefined, windowEndNs: undefined, stopped: false, resets: 0, liveWorkers: workers };
  const clients = Array.from({ length: workers }, () => new CodingEnv({ baseUrl, transport: 'ws' }));
  const drainStarted = performance.now();
  try {
    const running = clients.map((client) => runWorker(client, options, clock));
    let minReady = first.ready;
    let state: DrainState = 'draining';
    try {
      while (state === 'draining') {
        await sleep(DRAIN_POLL_INTERVAL_MS);
        minReady = Math.min(minReady, (await readLanguagePool(baseUrl, language)).ready);
        const elapsedMs = performance.now() - drainStarted;
        state = drainState({ episodes: clock.resets, elapsedMs, minReady }, policy);
        if (state === 'draining' && elapsedMs > DRAIN_TIMEOUT_MS) {
          throw new BenchError(
            `The ${language} pool did not drain in ${DRAIN_TIMEOUT_MS} ms with ${workers} worker(s): ${clock.resets} of ${policy.poolSize + policy.extraEpisodes} episodes, fewest ready ${minReady}/${policy.poolSize}.`,
          );
        }
        if (state === 'draining' && clock.liveWorkers === 0) {
          throw new BenchError(`Every ${language} worker stopped (${MAX_CONSECUTIVE_ERRORS} failed calls in a row) while the pool drained; see the server log.`);
        }
      }
    } catch (error) {
      clock.stopped = true;
      await Promise.allSettled(running);
      throw error;
    }
    const drainMs = performance.now() - drainStarted;
    const drainEpisodes = clock.resets;
    const poolAtStart = await readLanguagePool(baseUrl, language);
    const startNs = process.hrtime.bigint();
    clock.windowStartNs = startNs;
    clock.windowEndNs = startNs + BigInt(Math.round(durationMs * 1e6));
    const records = await Promise.all(running);
    const poolAtEnd = await readLanguagePool(baseUrl, language);
    const episodes = records.reduce((sum, record) => sum + record.episodes, 0);
    const resetMs = records.flatMap((record) => record.resetMs);
    const stepMs = records.flatMap((record) => record.stepMs);
    return {
      workers,
      drain: { state, episodes: drainEpisodes, ms: drainMs, minReady, poolSize: policy.poolSize },
      poolAtStart,
      poolAtEnd,
      durationMs,
      episodes,
      episodesPerS: episodes / (durationMs / 1000),
      reset: resetMs.length === 0 ? undefined : summarizeLatency(resetMs),
      step: stepMs.length === 0 ? undefined : summarizeLatency(stepMs),
      errors: mergeErrors(...records.map((record) => record.errors)),
      succeeded: records.filter((record) => record.episodes > 0 && record.errorCount === 0).length,
    };
  } finally {
    await Promise.allSettled(clients.map((client) => client.close()));
  }
}

/**
 * One worker: reset then one step, back to back, until the window closes. An episode counts when
 * its step answers inside the window (as steps/s counts steps), a reset's latency when it answers
 * inside the window: with sixteen workers an episode may take longer than a short window.
 */
async function runWorker(client: CodingEnv, options: EpisodeRateCaseOptions, clock: LevelClock): Promise<WorkerRecord> {
  const record: WorkerRecord = { resetMs: [], stepMs: [], episodes: 0, errors: {}, errorCount: 0 };
  try {
    await workerLoop(client, options, clock, record);
  } finally {
    clock.liveWorkers -= 1;
  }
  return record;
}

async function workerLoop(client: CodingEnv, options: EpisodeRateCaseOptions, clock: LevelClock, record: WorkerRecord): Promise<void> {
  let consecutiveErrors = 0;
  while (!clock.stopped && consecutiveErrors < MAX_CONSECUTIVE_ERRORS) {
    const startedNs = process.hrtime.bigint();
    if (clock.windowEndNs !== undefined && startedNs >= clock.windowEndNs) break;
    try {
      await client.reset({ language: options.language });
      clock.resets += 1;
      const resetNs = process.hrtime.bigint();
      const { observation } = await client.step({ code: options.code });
      const doneNs = process.hrtime.bigint();
      const problem = observationProblem(options, observation);
      if (problem !== undefined) throw new UnexpectedEpisodeError(problem);
      consecutiveErrors = 0;
      const { windowStartNs: start, windowEndNs: end } = clock;
      if (start !== undefined && end !== undefined) {
        if (doneNs >= start && doneNs < end) record.episodes += 1;
        if (resetNs >= start && resetNs < end) record.resetMs.push(nanosecondsToMs(resetNs - startedNs));
        if (doneNs >= start && doneNs < end) record.stepMs.push(nanosecondsToMs(doneNs - resetNs));
      }
    } catch (error) {
      const code = error instanceof EnvboxError || error instanceof UnexpectedEpisodeError ? error.code : error instanceof Error ? error.name : 'UNKNOWN';
      record.errors[code] = (record.errors[code] ?? 0) + 1;
      record.errorCount += 1;
      consecutiveErrors += 1;
    }
  }
}

/** A step of a fresh episode that did not print what it should: counted, never thrown out of the case. */
class UnexpectedEpisodeError extends Error {
  readonly code = 'UNEXPECTED_OBSERVATION';
  override readonly name = 'UnexpectedEpisodeError';
}

function observationProblem(options: EpisodeRateCaseOptions, observation: CodeObservation): string | undefined {
  if (observation.exit_code === 0 && observation.stdout === options.expectedStdout) return undefined;
  return `${options.code} gave exit code ${observation.exit_code}, stdout ${JSON.stringify(observation.stdout)}, stderr ${JSON.stringify(observation.stderr.slice(-200))}`;
}

function levelMetrics(options: EpisodeRateCaseOptions, level: EpisodeRateLevel): BenchCaseMetric[] {
  const { drain } = level;
  const errors = Object.entries(level.errors);
  const errorText = errors.length === 0 ? '0 errors' : `${errors.reduce((sum, [, n]) => sum + n, 0)} errors (${errors.map(([code, n]) => `${code} ${n}`).join(', ')})`;
  const drained =
    drain.state === 'pool-emptied'
      ? `pool drained first: ${drain.episodes} episodes in ${(drain.ms / 1000).toFixed(1)} s, /health showed it empty (0/${drain.poolSize} ready)`
      : `pool drained first: ${drain.episodes} episodes in ${(drain.ms / 1000).toFixed(1)} s (its ${drain.poolSize} spent), never seen empty (fewest ready ${drain.minReady}/${drain.poolSize}): the refill kept up`;
  const latency = (summary: LatencySummary | undefined): string =>
    summary === undefined ? 'none completed' : `p50 ${formatMs(summary.p50Ms)} p90 ${formatMs(summary.p90Ms)} p99 ${formatMs(summary.p99Ms)} ms`;
  return [
    {
      via: 'ws',
      metric: episodeMetric('episodes/s', level.workers, options.language),
      result: `${level.episodesPerS.toFixed(1)} episodes/s`,
      detail:
        `${level.episodes} fresh episodes (reset + ${JSON.stringify(options.code)}) in ${(level.durationMs / 1000).toFixed(1)} s, ok ${level.succeeded}/${level.workers} workers, ${errorText}; ` +
        `${drained}; pool ready ${level.poolAtStart.ready} -> ${level.poolAtEnd.ready}/${drain.poolSize} over the window`,
    },
    {
      via: 'ws',
      metric: episodeMetric('episode reset', level.workers, options.language),
      result: latency(level.reset),
      detail: `resets answered in the window, each a fresh sandbox; the steps ${latency(level.step)}`,
    },
  ];
}
