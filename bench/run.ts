#!/usr/bin/env node
/**
 * The envbox benchmark: serves one environment in a child process and measures, over HTTP
 * keep-alive and WebSocket, single-client reset and step latency and the throughput of 1, 4 and
 * 16 concurrent sessions. Prints a table and writes `bench/results/<env>.json`.
 *
 * Environments that need more (server arguments such as a warm pool size, waiting for the pool to
 * refill before each timed reset, extra cases such as a CPU-bound step against plain python3) say
 * so in their `BENCH_ENVS` entry.
 *
 * Usage: `node dist/bench/run.js [--env echo_env] [--quick] [--cases-only]`; `--env` names a `BENCH_ENVS` entry
 * (e.g. `coding_env_pyodide` serves coding_env with the Pyodide backend); `--cases-only` skips the
 * per-transport measurements and runs the entry's extra cases alone (results in
 * `<env>.cases.json`, so a full run's file is never replaced by a partial one). Exits 1 only when the harness
 * itself failed (server did not start, every call errored), 2 on a bad option; a missed target
 * is reported as MISS, not as a failure.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { BenchCaseResult } from './bench-case.js';
import { BenchError } from './bench-error.js';
import { BENCH_ENVS, BENCH_TRANSPORTS, type BenchEnv, type BenchTransport } from './bench-envs.js';
import { collectMachineFacts } from './machine-facts.js';
import { findPackageRoot } from './package-root.js';
import { errorCount, measureLatency, measureThroughput, mergeErrors, warmUp, type ThroughputResult } from './measure.js';
import { checkTargets, formatReport, type BenchResults, type BenchSettings, type TransportResults } from './report.js';
import { ServerProcess } from './server-process.js';
import { SettleTracker } from './settle-tracker.js';
import { nanosecondsToMs } from './stats.js';

/** `--max-sessions` of the server under test: room for 16 throughput sessions and stragglers being closed. */
export const SERVER_MAX_SESSIONS = 64;
/** Concurrency levels of the throughput measurement. */
export const THROUGHPUT_SESSIONS: readonly number[] = [1, 4, 16];

/**
 * Counts and durations of a full run. The warm-up is long on purpose: server and client keep
 * getting faster for the first ~2000 calls of each kind (V8 tiering up the HTTP parser, Koa and
 * zod paths); 500 calls left the reset p50 at ~2.5x its steady value.
 */
export const FULL_SETTINGS: BenchSettings = {
  warmupSteps: 2000,
  warmupResets: 500,
  resetCalls: 200,
  stepCalls: 5000,
  throughputSessions: THROUGHPUT_SESSIONS,
  throughputWarmupMs: 500,
  throughputDurationMs: 3000,
  throughputRepeats: 3,
  serverMaxSessions: SERVER_MAX_SESSIONS,
};

/** Counts and durations of `--quick` (CI smoke test): ~10x smaller, still three repeats. */
export const QUICK_SETTINGS: BenchSettings = {
  ...FULL_SETTINGS,
  warmupSteps: 200,
  warmupResets: 50,
  resetCalls: 20,
  stepCalls: 500,
  throughputWarmupMs: 50,
  throughputDurationMs: 300,
};

/** Exit code of a bad command-line option. */
const EXIT_USAGE = 2;
/** Exit code of a failed harness. */
const EXIT_FAILURE = 1;

/** The command line of `run.js`, parsed once with zod. */
const BenchOptions = z.strictObject({
  env: z
    .string()
    .default('echo_env')
    .refine((name) => Object.hasOwn(BENCH_ENVS, name), {
      error: (issue) => `invalid --env: expected one of ${Object.keys(BENCH_ENVS).join(', ')}, received ${JSON.stringify(issue.input)}`,
    }),
  quick: z.boolean().default(false),
  casesOnly: z.boolean().default(false),
  help: z.boolean().default(false),
});
type BenchOptions = z.infer<typeof BenchOptions>;

const USAGE = `Usage: node dist/bench/run.js [--env <name>] [--quick] [--cases-only]
  --env         environment to benchmark: ${Object.keys(BENCH_ENVS).join(', ')} (default echo_env)
  --quick       ~10x smaller counts and durations, for CI smoke runs
  --cases-only  only the environment's extra cases (e.g. episodes/s), no per-transport rows;
                results go to bench/results/<env>.cases.json
`;

class UsageError extends Error {}

function parseOptions(argv: readonly string[]): BenchOptions {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: { env: { type: 'string' }, quick: { type: 'boolean' }, 'cases-only': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { 'cases-only': casesOnly, ...rest } = values;
  const parsed = BenchOptions.safeParse(casesOnly === undefined ? rest : { ...rest, casesOnly });
  if (!parsed.success) throw new UsageError(parsed.error.issues[0]?.message ?? 'invalid options');
  return parsed.data;
}

function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** The common settings of the run with the environment's changes. */
function settingsFor(env: BenchEnv, quick: boolean): BenchSettings {
  return quick ? { ...QUICK_SETTINGS, ...env.settings.quick } : { ...FULL_SETTINGS, ...env.settings.full };
}

async function benchTransport(
  env: BenchEnv,
  baseUrl: string,
  transport: BenchTransport,
  settings: BenchSettings,
  tracker: SettleTracker,
): Promise<TransportResults> {
  const client = env.openClient({ baseUrl, transport });
  const settle = tracker.active ? tracker.settle : undefined;
  let single: Pick<TransportResults, 'warmup' | 'reset' | 'step'>;
  try {
    progress(`${transport}: warm-up, ${settings.warmupSteps} steps and ${settings.warmupResets} resets`);
    try {
      await client.reset();
    } catch (error) {
      throw new BenchError(`The first reset over ${transport} failed (${error instanceof Error ? error.message : String(error)}).`, { cause: error });
    }
    const warmupSteps = await warmUp(() => client.step(), settings.warmupSteps);
    // The reset path needs a warm-up of its own, or it is measured half-optimised.
    const warmupResets = await warmUp(() => client.reset(), settings.warmupResets, { before: settle });
    progress(`${transport}: reset latency, ${settings.resetCalls} resets${settle === undefined ? '' : ', each once the server has settled'}`);
    const reset = await measureLatency(() => client.reset(), settings.resetCalls, { before: settle });
    await client.reset();
    await settle?.();
    // The steps are measured in the fresh episode that reset started, so it is warmed up too: a
    // Pyodide guest runs ~4x slower for its first ~2 s of steps, until V8 has optimised its hot
    // WebAssembly (a CPython process has nothing to warm; the extra steps cost it under a second).
    progress(`${transport}: warm-up of the fresh episode, ${settings.warmupSteps} steps`);
    const warmupEpisode = await warmUp(() => client.step(), settings.warmupSteps);
    progress(`${transport}: step latency, ${settings.stepCalls} steps`);
    const step = await measureLatency(() => client.step(), settings.stepCalls);
    const warmup = {
      calls: warmupSteps.calls + warmupResets.calls + warmupEpisode.calls,
      errors: mergeErrors(warmupSteps.errors, warmupResets.errors, warmupEpisode.errors),
    };
    single = { warmup, reset, step };
  } finally {
    // A failed close must not hide why the measurement stopped; it is only reported.
    await client.close().catch((error: unknown) => progress(`closing the ${transport} client failed: ${String(error)}`));
  }
  const throughput: ThroughputResult[] = [];
  for (const sessions of settings.throughputSessions) {
    progress(`${transport}: throughput with ${sessions} session(s), ${settings.throughputRepeats} x ${settings.throughputDurationMs} ms`);
    throughput.push(
      await measureThroughput({
        env,
        baseUrl,
        transport,
        sessions,
        warmupMs: settings.throughputWarmupMs,
        durationMs: settings.throughputDurationMs,
        repeats: settings.throughputRepeats,
        settle,
      }),
    );
  }
  return { transport, ...single, throughput };
}

/** Why the numbers of `results` mean nothing, or undefined when the harness worked. */
function harnessFailure(transports: readonly TransportResults[]): string | undefined {
  for (const results of transports) {
    if (results.step.latency === undefined) return `every one of the ${results.step.calls} single-client steps over ${results.transport} failed`;
    if (results.reset.latency === undefined) return `every one of the ${results.reset.calls} resets over ${results.transport} failed`;
    for (const throughput of results.throughput) {
      if (throughput.runs.every((run) => run.steps === 0)) {
        return `no step completed over ${results.transport} with ${throughput.sessions} session(s) (${errorCount(throughput.errors)} errors)`;
      }
    }
  }
  return undefined;
}

async function main(argv: readonly string[]): Promise<number> {
  const startedAt = new Date();
  const startedNs = process.hrtime.bigint();
  const options = parseOptions(argv);
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const env = BENCH_ENVS[options.env]!;
  const settings = settingsFor(env, options.quick);
  const root = findPackageRoot();
  const cliPath = join(root, 'dist', 'cli.js');
  if (!existsSync(cliPath)) throw new BenchError(`${cliPath} does not exist; run \`npm run build\` first.`);

  progress(`starting ${relative(root, cliPath)} serve --env ${env.serveEnv} ${env.serverArgs.join(' ')}`.trimEnd());
  const server = await ServerProcess.start({
    cliPath,
    cwd: root,
    env: env.serveEnv,
    maxSessions: settings.serverMaxSessions,
    extraArgs: env.serverArgs,
    logLevel: 'warn',
  });
  // Interrupted runs must not leave the server behind.
  const onSignal = (signal: NodeJS.Signals): void => {
    void server.close().finally(() => process.exit(128 + osConstants.signals[signal]));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tracker = new SettleTracker(env, server.url);
  const transports: TransportResults[] = [];
  const cases: BenchCaseResult[] = [];
  try {
    progress(`server pid ${server.pid} at ${server.url}`);
    await tracker.settle();
    for (const transport of options.casesOnly ? [] : BENCH_TRANSPORTS) {
      if (!server.alive) throw new BenchError(`The server (pid ${server.pid}) died before the ${transport} measurements.`);
      transports.push(await benchTransport(env, server.url, transport, settings, tracker));
    }
    for (const benchCase of env.cases) {
      if (!server.alive) throw new BenchError(`The server (pid ${server.pid}) died before the case "${benchCase.name}".`);
      await tracker.settle();
      cases.push(await benchCase.run({ baseUrl: server.url, serverPid: server.pid, quick: options.quick, settle: tracker.settle, progress }));
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await server.close();
  }

  const results: BenchResults = {
    env: options.env,
    serveEnv: env.serveEnv,
    sampleAction: env.sampleAction,
    serverUrl: server.url,
    serverArgs: env.serverArgs,
    machine: await collectMachineFacts(root, options.quick, startedAt),
    settle: tracker.active ? tracker.summary() : null,
    settings,
    transports,
    cases,
    targets: [...checkTargets(env.targets, transports), ...cases.flatMap((result) => result.checks)],
    elapsedMs: Math.round(nanosecondsToMs(process.hrtime.bigint() - startedNs)),
  };
  process.stdout.write(formatReport(results));
  const failure = harnessFailure(transports);
  // Numbers of a broken run would overwrite good ones: report, but keep the last results file.
  const path = resultsPath(root, options);
  if (failure !== undefined) throw new BenchError(`The harness failed: ${failure}; ${relative(process.cwd(), path)} left as it was.`);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\nwrote ${relative(process.cwd(), path) || path}\n`);
  return 0;
}

/**
 * Quick smoke runs go to `<env>.quick.json` (ignored by git), so they never replace a measurement;
 * runs of the extra cases alone to `<env>.cases.json` (`<env>.cases.quick.json`).
 */
function resultsPath(root: string, options: Pick<BenchOptions, 'env' | 'quick' | 'casesOnly'>): string {
  return join(root, 'bench', 'results', `${options.env}${options.casesOnly ? '.cases' : ''}${options.quick ? '.quick' : ''}.json`);
}

process.exitCode = await main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`bench: ${error.message}\n${USAGE}`);
    return EXIT_USAGE;
  }
  process.stderr.write(`bench: ${error instanceof BenchError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return EXIT_FAILURE;
});
