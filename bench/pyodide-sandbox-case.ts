import type { Sandbox } from '../index.js';
// Not exported by sandbox/index.ts, whose `createPythonBackend('pyodide')` hides the snapshot outcome.
import { createPyodideBackend, type PyodideBackend } from '../sandbox/pyodide/pyodide-backend.js';
import type { BenchCase, BenchCaseContext, BenchCaseResult } from './bench-case.js';
import { BenchError } from './bench-error.js';
import { childPids, processTreeMemory, type ProcessTreeMemory } from './process-tree-memory.js';
import { formatMs as ms, type TargetCheck } from './report.js';
import { median } from './stats.js';

/** Bytes in the megabytes the report prints (decimal, as in "200 MB"). */
const BYTES_PER_MB = 1_000_000;
/** Time limit of each untimed step run in a sandbox of this case. @default 30 s */
const CASE_STEP_TIMEOUT_MS = 30_000;
/** A small step each live sandbox runs before its memory is read: an interpreter that has done some work, not a pristine one. */
export const MEMORY_STEP_CODE = 'words = sorted(str(i) for i in range(10_000))\nlen(words)';
const MEMORY_STEP_RESULT = '10000';

/** Options of {@link pyodideSandboxCase}. */
export interface PyodideSandboxCaseOptions {
  /** Timed `backend.create()` calls of a full run; the median is checked. */
  createRuns: number;
  /** Timed `backend.create()` calls of a `--quick` run. */
  quickCreateRuns: number;
  /** Starting a fresh sandbox from the snapshot must take less than this (median). */
  createMaxMs: number;
  /** Sandboxes alive at once while their memory is read. */
  liveSandboxes: number;
  /** No live episode's process tree may have a PSS above this. */
  episodeMaxPssBytes: number;
}

const CREATE_METRIC = 'sandbox create';
const MEMORY_METRIC = 'memory per episode';

/**
 * What the Pyodide backend costs, measured in the bench process with a backend of its own (the
 * server's sandboxes are behind its pool): how long `createPyodideBackend()` took to build its
 * memory snapshot, how long `backend.create()` takes to start a fresh sandbox from it, and the
 * proportional set size of each live sandbox's process tree (setpriv, bwrap, Node hosting Pyodide).
 */
export function pyodideSandboxCase(options: PyodideSandboxCaseOptions): BenchCase {
  return {
    name: 'pyodide sandbox',
    run: (context) => runPyodideCase(options, context),
  };
}

async function runPyodideCase(options: PyodideSandboxCaseOptions, context: BenchCaseContext): Promise<BenchCaseResult> {
  context.progress('pyodide sandbox: creating a Pyodide backend in the bench process (builds its memory snapshot)');
  const backend = await createPyodideBackend();
  const runs = context.quick ? options.quickCreateRuns : options.createRuns;
  context.progress(`pyodide sandbox: ${runs} x backend.create(), then ${options.liveSandboxes} live sandboxes for their memory`);
  const createMs = await timeCreates(backend, runs);
  const episodes = await measureLiveEpisodes(backend, options.liveSandboxes, context);
  return summarize(options, backend, createMs, episodes);
}

/** Start and close `runs` sandboxes one after the other, timing each `create()`; each must run a step. */
async function timeCreates(backend: PyodideBackend, runs: number): Promise<number[]> {
  const samplesMs: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const started = performance.now();
    const sandbox = await backend.create();
    samplesMs.push(performance.now() - started);
    try {
      await checkStep(sandbox, 'print(1)', undefined);
    } finally {
      await sandbox.close();
    }
  }
  return samplesMs;
}

/** Start `count` sandboxes, run {@link MEMORY_STEP_CODE} in each, and read each one's process tree while all are alive. */
async function measureLiveEpisodes(backend: PyodideBackend, count: number, context: BenchCaseContext): Promise<ProcessTreeMemory[]> {
  const sandboxes: Sandbox[] = [];
  const roots: number[] = [];
  try {
    for (let i = 0; i < count; i += 1) {
      // ProcessSandbox keeps its pid private: the child this create() spawned is the one that was not there before.
      const before = await childPids(process.pid);
      const sandbox = await backend.create();
      sandboxes.push(sandbox);
      const started = [...(await childPids(process.pid))].filter((pid) => !before.has(pid));
      if (started.length !== 1) {
        throw new BenchError(`backend.create() left ${started.length} new child processes of the bench (pids ${started.join(', ') || 'none'}), expected exactly one: its sandbox.`);
      }
      roots.push(started[0]!);
      await checkStep(sandbox, MEMORY_STEP_CODE, MEMORY_STEP_RESULT);
    }
    const episodes: ProcessTreeMemory[] = [];
    for (const root of roots) episodes.push(await processTreeMemory(root));
    return episodes;
  } finally {
    // Reverse order; a failed close is reported, never hiding why the measurement stopped.
    for (const sandbox of sandboxes.reverse()) {
      await sandbox.close().catch((error: unknown) => context.progress(`closing a pyodide sandbox failed: ${String(error)}`));
    }
  }
}

/**
 * Run `code` and insist it worked: timing or weighing a sandbox that cannot run Python means nothing.
 * @throws {BenchError} when the step did not exit 0 (or gave another result than `expected`)
 */
async function checkStep(sandbox: Sandbox, code: string, expected: string | undefined): Promise<void> {
  const result = await sandbox.run(code, { timeoutMs: CASE_STEP_TIMEOUT_MS });
  if (result.exitCode !== 0 || (expected !== undefined && result.result !== expected)) {
    throw new BenchError(
      `A fresh Pyodide sandbox ran ${JSON.stringify(code)} with exit code ${result.exitCode} and result ${JSON.stringify(result.result)}` +
        `${expected === undefined ? '' : ` (expected ${expected})`}; stderr: ${JSON.stringify(result.stderr.slice(-400))}.`,
    );
  }
}

function summarize(options: PyodideSandboxCaseOptions, backend: PyodideBackend, createMs: number[], episodes: ProcessTreeMemory[]): BenchCaseResult {
  const { snapshot } = backend;
  const createMedianMs = median(createMs);
  const pss = episodes.map((episode) => episode.pssBytes);
  const pssMedianBytes = median(pss);
  const pssMaxBytes = Math.max(...pss);
  const mb = (bytes: number): string => (bytes / BYTES_PER_MB).toFixed(1);
  const checks: TargetCheck[] = [
    {
      transport: 'local',
      metric: CREATE_METRIC,
      target: `< ${options.createMaxMs} ms`,
      ratio: createMedianMs / options.createMaxMs,
      pass: createMedianMs < options.createMaxMs,
    },
    {
      transport: 'local',
      metric: MEMORY_METRIC,
      target: `<= ${mb(options.episodeMaxPssBytes)} MB each`,
      ratio: pssMaxBytes / options.episodeMaxPssBytes,
      pass: pssMaxBytes <= options.episodeMaxPssBytes,
    },
  ];
  const snapshotDetail =
    snapshot.bytes === undefined
      ? `NO SNAPSHOT (${snapshot.reason ?? 'no reason given'}): sandboxes boot Pyodide afresh`
      : `${mb(snapshot.bytes.length)} MB memory snapshot, built once by createPyodideBackend() in the bench process`;
  const trees = [...new Set(episodes.map((episode) => episode.commands.join('>')))].join(', ');
  return {
    name: 'pyodide sandbox',
    metrics: [
      { via: 'local', metric: 'snapshot build', result: `${ms(snapshot.buildMs)} ms`, detail: snapshotDetail },
      {
        via: 'local',
        metric: CREATE_METRIC,
        result: `median ${ms(createMedianMs)} ms`,
        detail: `backend.create() of a fresh sandbox, ${createMs.length} in a row (isolation ${backend.isolation}), min ${ms(Math.min(...createMs))}, max ${ms(Math.max(...createMs))} ms`,
      },
      {
        via: 'local',
        metric: MEMORY_METRIC,
        result: `median ${mb(pssMedianBytes)} MB, max ${mb(pssMaxBytes)} MB`,
        detail: `PSS of each sandbox's process tree (${trees}), ${episodes.length} live after one step each; ${mb(pss.reduce((sum, bytes) => sum + bytes, 0))} MB in all`,
      },
    ],
    checks,
    data: {
      isolation: backend.isolation,
      snapshotBuildMs: snapshot.buildMs,
      snapshotBytes: snapshot.bytes?.length ?? null,
      snapshotReason: snapshot.reason ?? null,
      createRuns: createMs.length,
      createMedianMs,
      createSamplesMs: createMs,
      memoryStepCode: MEMORY_STEP_CODE,
      liveSandboxes: episodes.length,
      pssMedianBytes,
      pssMaxBytes,
      episodes,
    },
  };
}
