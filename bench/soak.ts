#!/usr/bin/env node
/**
 * The envbox soak: serves coding_env (process backend, loopback only) in a child process and drives
 * `SOAK_SESSIONS` concurrent sessions (half Python, half JavaScript; half HTTP with `X-Session-Id`,
 * half WebSocket) with ordinary steps and periodic hostile ones (among them a memory crowd: up to
 * `SOAK_CROWD_SESSIONS` sessions filling memory at once, at most one crowd every
 * `SOAK_CROWD_INTERVAL_S`; bench/soak-crowd.ts), checking every observation, until
 * `SOAK_DURATION_S` have passed or `SOAK_MAX_STEPS` steps were taken; then sessions send each hostile
 * kind that never ran (up to `SOAK_HOSTILE_COVER_ATTEMPTS` times), so that every kind is checked
 * however few steps the machine's speed let through. Every `SOAK_SAMPLE_INTERVAL_S`
 * it samples steps/s, latency, errors and the server's memory, fds, processes, sessions and
 * metrics. Then it closes every session, checks that the server released them, prints a table and
 * writes `soak.json`, `soak.md` and `soak.png` to `SOAK_OUTPUT_DIR` (default `bench/results/`).
 *
 * Usage: `node dist/bench/soak.js` (`make soak`). Exits 1 when the harness failed or the run found
 * a problem (an error of any code, a wrong output, a hostile kind that never ran or got another
 * outcome, each named, a session or sandbox not released), after writing the report; latency is
 * reported, never judged. A reset the JavaScript episode memory budget refuses (503 naming the
 * budget, only once a crowd has spent it) is an expected outcome, counted apart and retried.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { BenchError } from './bench-error.js';
import { collectMachineFacts } from './machine-facts.js';
import { errorCount } from './measure.js';
import { findPackageRoot } from './package-root.js';
import { SeededRandom } from './seeded-random.js';
import { probeServer, snapshotProcessTree, type ServerReport } from './server-probe.js';
import { ServerProcess } from './server-process.js';
import { renderPng, soakSvg } from './soak-plot.js';
import { SoakRecorder } from './soak-recorder.js';
import { formatSoakMarkdown, p50p99, type SoakReport, type SoakSample, type SoakSettings, type SoakSnapshot } from './soak-report.js';
import { allHostileKeys, HostileCoverage } from './soak-coverage.js';
import { MemoryCrowd } from './soak-crowd.js';
import { runSoakSession } from './soak-session.js';

/** Length of the traffic. @default 600 s */
export const DEFAULT_SOAK_DURATION_S = 600;
/** Steps over the whole run, whichever comes first with the duration. @default 10,000,000 */
export const DEFAULT_SOAK_MAX_STEPS = 10_000_000;
/** Concurrent sessions. @default 32 */
export const DEFAULT_SOAK_SESSIONS = 32;
/** Time between two samples. @default 10 s */
export const DEFAULT_SOAK_SAMPLE_INTERVAL_S = 10;
/** Time between two hostile steps of one session. @default 10 s */
export const DEFAULT_SOAK_HOSTILE_INTERVAL_S = 10;
/** Time between two JavaScript stalls over the whole run (each terminates a worker thread). @default 60 s */
export const DEFAULT_SOAK_STALL_INTERVAL_S = 60;
/** Chance that an ordinary step is replaced by a reset. @default 0.01 */
export const DEFAULT_SOAK_RESET_PROBABILITY = 0.01;
/**
 * How many times, after the traffic, a hostile kind that never ran is sent (each time by a session of
 * its language, one at a time): a brief or slow run still checks every kind. 0 turns it off. @default 3
 */
export const DEFAULT_SOAK_HOSTILE_COVER_ATTEMPTS = 3;
/** Least time between two memory crowds (several sessions filling memory at once). @default 30 s */
export const DEFAULT_SOAK_CROWD_INTERVAL_S = 30;
/** Most members of a memory crowd, half of each language. @default 6 */
export const DEFAULT_SOAK_CROWD_SESSIONS = 6;
/** How long a called memory crowd waits for members before the ones it has fill. @default 2 s */
export const SOAK_CROWD_GATHER_MS = 2_000;
/** Seed of the step sequence. @default 8 */
export const DEFAULT_SOAK_SEED = 8;
/** Warm sandboxes per language on the server. @default 4 (the server's default) */
export const SOAK_POOL_SIZE = 4;
/** How long the server may take to release sessions and refill its pools at either end. @default 30 s */
const SETTLE_TIMEOUT_MS = 30_000;
/** Pause between two /health polls while settling. @default 100 ms */
const SETTLE_POLL_MS = 100;
/** Exit code of a failed harness or a run that found a problem. */
const EXIT_FAILURE = 1;

const positive = z.coerce.number().positive();
/** The `SOAK_*` environment variables, parsed once. */
const SoakEnv = z.object({
  SOAK_DURATION_S: positive.default(DEFAULT_SOAK_DURATION_S),
  SOAK_MAX_STEPS: z.coerce.number().int().positive().default(DEFAULT_SOAK_MAX_STEPS),
  SOAK_SESSIONS: z.coerce.number().int().min(2).default(DEFAULT_SOAK_SESSIONS),
  SOAK_SAMPLE_INTERVAL_S: positive.default(DEFAULT_SOAK_SAMPLE_INTERVAL_S),
  SOAK_HOSTILE_INTERVAL_S: positive.default(DEFAULT_SOAK_HOSTILE_INTERVAL_S),
  SOAK_STALL_INTERVAL_S: positive.default(DEFAULT_SOAK_STALL_INTERVAL_S),
  SOAK_RESET_PROBABILITY: z.coerce.number().min(0).max(1).default(DEFAULT_SOAK_RESET_PROBABILITY),
  SOAK_HOSTILE_COVER_ATTEMPTS: z.coerce.number().int().min(0).default(DEFAULT_SOAK_HOSTILE_COVER_ATTEMPTS),
  SOAK_CROWD_INTERVAL_S: positive.default(DEFAULT_SOAK_CROWD_INTERVAL_S),
  SOAK_CROWD_SESSIONS: z.coerce.number().int().min(2).default(DEFAULT_SOAK_CROWD_SESSIONS),
  SOAK_SEED: z.coerce.number().int().default(DEFAULT_SOAK_SEED),
  /** Where the report goes; relative to the package root. @default bench/results */
  SOAK_OUTPUT_DIR: z.string().min(1).optional(),
});

function progress(message: string): void {
  process.stderr.write(`soak: ${message}\n`);
}

/** Poll until the server has no session (when `sessionsGone`) and every warm pool is full; the last report and whether it got there. */
async function settle(baseUrl: string, sessionsGone: boolean): Promise<{ report: ServerReport; settled: boolean }> {
  const deadline = performance.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    const report = await probeServer(baseUrl);
    const poolsFull = Object.values(report.pools).every((pool) => pool.ready >= pool.size);
    if (poolsFull && (!sessionsGone || report.activeSessions === 0)) return { report, settled: true };
    if (performance.now() >= deadline) return { report, settled: false };
    await sleep(SETTLE_POLL_MS);
  }
}

async function main(): Promise<number> {
  const parsed = SoakEnv.safeParse(process.env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new BenchError(`invalid ${issue.path.join('.')}: ${issue.message} (received ${JSON.stringify(process.env[String(issue.path[0])])})`);
  }
  const env = parsed.data;
  const root = findPackageRoot();
  const outputDir = resolve(root, env.SOAK_OUTPUT_DIR ?? join('bench', 'results'));
  const cliPath = join(root, 'dist', 'cli.js');
  if (!existsSync(cliPath)) throw new BenchError(`${cliPath} does not exist; run \`npm run build\` first.`);
  const serverArgs = ['--host', '127.0.0.1', '--python-backend', 'process', '--pool-size', String(SOAK_POOL_SIZE)];
  const settings: SoakSettings = {
    durationS: env.SOAK_DURATION_S,
    maxSteps: env.SOAK_MAX_STEPS,
    sessions: env.SOAK_SESSIONS,
    sampleIntervalS: env.SOAK_SAMPLE_INTERVAL_S,
    hostileIntervalS: env.SOAK_HOSTILE_INTERVAL_S,
    stallIntervalS: env.SOAK_STALL_INTERVAL_S,
    resetProbability: env.SOAK_RESET_PROBABILITY,
    hostileCoverAttempts: env.SOAK_HOSTILE_COVER_ATTEMPTS,
    crowdIntervalS: env.SOAK_CROWD_INTERVAL_S,
    crowdSessions: env.SOAK_CROWD_SESSIONS,
    seed: env.SOAK_SEED,
    serverArgs: ['--env', 'coding_env', ...serverArgs],
  };
  const startedAt = new Date();

  progress(`starting ${relative(root, cliPath)} serve --env coding_env ${serverArgs.join(' ')}`);
  // Room for every session, and for sessions being closed while their replacements open.
  const server = await ServerProcess.start({ cliPath, cwd: root, env: 'coding_env', maxSessions: env.SOAK_SESSIONS * 2 + 8, extraArgs: serverArgs, logLevel: 'warn' });
  const onSignal = (signal: NodeJS.Signals): void => {
    void server.close().finally(() => process.exit(128 + osConstants.signals[signal]));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    progress(`server pid ${server.pid} at ${server.url}; waiting for its warm pools`);
    const before = await settle(server.url, true);
    const start: SoakSnapshot = { tS: 0, process: await snapshotProcessTree(server.pid), server: before.report };

    progress(`${env.SOAK_SESSIONS} sessions for ${env.SOAK_DURATION_S} s (at most ${env.SOAK_MAX_STEPS} steps), a sample every ${env.SOAK_SAMPLE_INTERVAL_S} s`);
    const startMs = performance.now();
    const endMs = startMs + env.SOAK_DURATION_S * 1000;
    const recorder = new SoakRecorder(startMs);
    const coverage = new HostileCoverage(recorder.hostile, env.SOAK_HOSTILE_COVER_ATTEMPTS, () => server.alive);
    const crowd = new MemoryCrowd(Math.floor(env.SOAK_CROWD_SESSIONS / 2), SOAK_CROWD_GATHER_MS, env.SOAK_CROWD_INTERVAL_S * 1000);
    let reserved = 0;
    let lastStallMs = -Infinity;
    let serverAliveAtEnd = true;
    const stopped = (): boolean => {
      if (!server.alive) serverAliveAtEnd = false;
      return performance.now() >= endMs || reserved >= env.SOAK_MAX_STEPS || !server.alive;
    };
    /** When the traffic stopped (duration or step budget spent) and sessions turned to the kinds that never ran. */
    let trafficEndMs: number | undefined;
    const trafficOver = (): boolean => {
      const over = stopped();
      if (over) trafficEndMs ??= performance.now();
      return over;
    };
    const sessions = Array.from({ length: env.SOAK_SESSIONS }, (_, index) =>
      runSoakSession({
        index: Math.floor(index / 2),
        baseUrl: server.url,
        language: index % 2 === 0 ? 'python' : 'javascript',
        transport: Math.floor(index / 2) % 2 === 0 ? 'http' : 'ws',
        recorder,
        random: new SeededRandom(env.SOAK_SEED * 7919 + index),
        hostileIntervalMs: env.SOAK_HOSTILE_INTERVAL_S * 1000,
        resetProbability: env.SOAK_RESET_PROBABILITY,
        stopped: trafficOver,
        coverage,
        takeStep: () => {
          if (reserved >= env.SOAK_MAX_STEPS) return false;
          reserved += 1;
          return true;
        },
        mayStall: () => {
          const now = performance.now();
          if (now - lastStallMs < env.SOAK_STALL_INTERVAL_S * 1000) return false;
          lastStallMs = now;
          return true;
        },
        crowd,
      }),
    );

    const samples: SoakSample[] = [];
    let windowStartMs = startMs;
    const takeSample = async (): Promise<void> => {
      const nowMs = performance.now();
      const window = recorder.takeWindow();
      const [processSnapshot, report] = await Promise.all([snapshotProcessTree(server.pid), probeServer(server.url)]);
      const sample: SoakSample = {
        tS: Math.round(recorder.elapsedS(nowMs) * 10) / 10,
        steps: window.steps,
        stepsPerS: window.steps / ((nowMs - windowStartMs) / 1000),
        ...p50p99(window.ordinaryLatenciesMs),
        errors: { ...recorder.errors },
        process: processSnapshot,
        server: report,
      };
      windowStartMs = nowMs;
      samples.push(sample);
      progress(
        `t=${sample.tS.toFixed(0)} s: ${sample.stepsPerS.toFixed(0)} steps/s, p50 ${sample.p50Ms?.toFixed(2) ?? '–'} ms, p99 ${sample.p99Ms?.toFixed(1) ?? '–'} ms, errors ${errorCount(sample.errors)}, sessions ${report.activeSessions}, processes ${processSnapshot.processes}, fds ${processSnapshot.serverFds}, PSS ${(processSnapshot.treePssBytes / 2 ** 20).toFixed(0)} MiB`,
      );
    };
    let trafficDone = false;
    const allSessions = Promise.all(sessions).finally(() => {
      trafficDone = true;
    });
    const sampler = (async () => {
      const controller = new AbortController();
      void allSessions.finally(() => controller.abort());
      while (!trafficDone) {
        await sleep(env.SOAK_SAMPLE_INTERVAL_S * 1000, undefined, { signal: controller.signal }).catch(() => undefined);
        if (trafficDone || !server.alive) break;
        await takeSample();
      }
    })();
    await Promise.all([allSessions, sampler]);
    const durationS = recorder.elapsedS();
    // The last, partial window, when it holds anything.
    if (server.alive && recorder.steps > 0 && performance.now() - windowStartMs > 200) await takeSample();
    if (!server.alive) throw new BenchError(`The server (pid ${server.pid}) died during the soak.`);

    progress('every session closed; waiting for the server to release them and refill its pools');
    const after = await settle(server.url, true);
    const end: SoakSnapshot = { tS: Math.round(recorder.elapsedS() * 10) / 10, process: await snapshotProcessTree(server.pid), server: after.report };
    const overall = p50p99(recorder.ordinaryLatenciesMs);
    const hostile = recorder.hostile;
    const hostileMissing = coverage.missing();
    const hostileWrong = allHostileKeys().filter((key) => (hostile[key]?.wrong ?? 0) > 0);
    const report: SoakReport = {
      kind: 'soak',
      env: 'coding_env',
      serverUrl: server.url,
      machine: await collectMachineFacts(root, false, startedAt),
      settings,
      summary: {
        durationS,
        steps: recorder.steps,
        resets: recorder.resets,
        stepsPerS: recorder.steps / durationS,
        errors: { ...recorder.errors },
        neighbourStalls: recorder.neighbourStalls,
        memoryCrowds: crowd.crowds,
        budgetRefusals: {
          resets: recorder.budgetRefusedResets,
          server: (after.report.metrics.envbox_episode_memory_refusals_total ?? 0) - (before.report.metrics.envbox_episode_memory_refusals_total ?? 0),
        },
        ordinaryP50Ms: overall.p50Ms,
        ordinaryP99Ms: overall.p99Ms,
        allP99Ms: p50p99(recorder.allLatenciesMs).p99Ms,
        p99ByMinuteMs: recorder.ordinaryLatenciesByMinuteMs.map((minute) => p50p99(minute).p99Ms),
        overtimeS: trafficEndMs === undefined ? 0 : durationS - recorder.elapsedS(trafficEndMs),
        hostile,
        hostileMissing,
        hostileWrong,
        hostileAllExpected: hostileMissing.length === 0 && hostileWrong.length === 0,
        serverAlive: serverAliveAtEnd,
        sessionsReleased: after.report.activeSessions === 0 && after.report.metrics.envbox_sessions === 0,
        sandboxesReleased: after.settled && end.process.processes <= start.process.processes,
      },
      start,
      end,
      samples,
      slowestSteps: recorder.slowestSteps,
      problems: recorder.problems,
    };

    await mkdir(outputDir, { recursive: true });
    const markdown = formatSoakMarkdown(report);
    await writeFile(join(outputDir, 'soak.json'), `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(join(outputDir, 'soak.md'), markdown);
    await writeFile(join(outputDir, 'soak.png'), renderPng(soakSvg(report)));
    process.stdout.write(`${markdown}\nwrote ${['soak.json', 'soak.md', 'soak.png'].map((name) => relative(process.cwd(), join(outputDir, name))).join(', ')}\n`);

    const problems = [
      errorCount(report.summary.errors) > 0 ? `errors: ${JSON.stringify(report.summary.errors)}` : undefined,
      hostileMissing.length === 0 ? undefined : `hostile kinds that never ran: ${hostileMissing.join(', ')}`,
      hostileWrong.length === 0 ? undefined : `hostile kinds that got another outcome: ${hostileWrong.join(', ')}`,
      report.summary.sessionsReleased ? undefined : `${end.server.activeSessions} sessions left open`,
      report.summary.sandboxesReleased ? undefined : `${end.process.processes} processes at the end, ${start.process.processes} at the start`,
      report.summary.steps === 0 ? 'no step was answered' : undefined,
    ].filter((problem) => problem !== undefined);
    if (problems.length > 0) {
      progress(`the soak found problems: ${problems.join('; ')}`);
      return EXIT_FAILURE;
    }
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await server.close();
  }
}

process.exitCode = await main().catch((error: unknown) => {
  process.stderr.write(`soak: ${error instanceof BenchError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return EXIT_FAILURE;
});
