import { setTimeout as sleep } from 'node:timers/promises';
import { CodingEnv, type CodeObservation, type Language } from '../index.js';
import type { BenchCase, BenchCaseContext, BenchCaseResult } from './bench-case.js';
import { BenchError } from './bench-error.js';
import { coresBusy, processTreeCpuTicks, USER_HZ } from './process-tree-cpu.js';
import { formatMs } from './report.js';
import { nanosecondsToMs } from './stats.js';

/** How long the episode is left idle while the server tree's CPU time is measured. @default 1 s */
export const IDLE_WINDOW_MS = 1_000;

/** Python: four daemon threads spinning forever, started by a step that returns at once. */
export const PYTHON_SPIN_CODE = `import threading
def spin():
    while True: pass
for _ in range(4): threading.Thread(target=spin, daemon=True).start()`;

/**
 * JavaScript: an interval timer that spins forever. Timers run inside the step that set them (the
 * step waits for them, like Node's event loop), so this step spins until its time limit and
 * answers 124 with the state kept; what matters is that nothing runs after it has answered.
 */
export const JAVASCRIPT_SPIN_CODE = 'globalThis.spinner = setInterval(() => { for (;;) {} }, 0)';

/** Options of {@link idleCpuCase}. */
export interface IdleCpuCaseOptions {
  language: Language;
  /** The first step: state the last step must find, e.g. `x = 41`. */
  setupCode: string;
  /** The step that starts the spinning, e.g. {@link PYTHON_SPIN_CODE}. */
  spinCode: string;
  /** `timeout_s` of the spinning step (JavaScript's spins inside it until then); undefined: the server's default. */
  spinTimeoutS?: number;
  /** The exit code the spinning step must answer: 0 for Python, 124 (timed out, state kept) for JavaScript. */
  spinExitCode: number;
  /** The step after the idle second, e.g. `print(x + 1, threading.active_count())`. */
  resumeCode: string;
  /** What it must print: the proof the episode kept its state, e.g. `42 5\n`. */
  resumeStdout: string;
  /** The server's tree may keep at most this many cores busy across the idle second, e.g. 0.05. */
  maxCores: number;
}

/** One idle second of the server's process tree. */
export interface IdleSecond {
  /** Busy cores: CPU time of the tree over the wall time. */
  cores: number;
  ticks: number;
  /** The server process's own share of `ticks` (its threads, JavaScript's worker threads among them). */
  rootTicks: number;
  elapsedMs: number;
  /** Processes in the tree when it ended. */
  processes: number;
}

/**
 * The CPU-between-steps check (issue 18): an episode whose step starts spinning threads (or
 * timers) must leave the machine idle between its steps. Over one WebSocket: reset, a step that
 * sets some state, an idle second measured as a baseline, the spinning step, an idle second
 * measured, then a step that must find the state (and the spinners) intact. Each idle second is
 * the CPU time of the server and all its descendants (`/proc/<pid>/stat`, reaped children
 * included) over {@link IDLE_WINDOW_MS}, taken after the server has settled (its warm pool full
 * again, so no refill runs in it): the server's default language should be `language`.
 *
 * The check is on the difference of the two seconds, the episode's share: an idle server is not
 * at zero by itself (its memory guard wakes every 25 ms, ~0.05 cores on the 2-core reference
 * machine), and that is no episode's doing. Both seconds are reported whole.
 */
export function idleCpuCase(options: IdleCpuCaseOptions): BenchCase {
  return { name: caseName(options.language), run: (context) => runCase(options, context) };
}

function caseName(language: Language): string {
  return `cpu between steps (${language})`;
}

/** The metric of the check, e.g. `idle cpu, spinning episode (python)`. */
export function idleCpuMetric(language: Language): string {
  return `idle cpu, spinning episode (${language})`;
}

async function idleSecond(serverPid: number): Promise<IdleSecond> {
  const before = await processTreeCpuTicks(serverPid);
  const startedNs = process.hrtime.bigint();
  await sleep(IDLE_WINDOW_MS);
  const after = await processTreeCpuTicks(serverPid);
  const elapsedMs = nanosecondsToMs(process.hrtime.bigint() - startedNs);
  const ticks = after.ticks - before.ticks;
  return { cores: coresBusy(ticks, elapsedMs), ticks, rootTicks: after.rootTicks - before.rootTicks, elapsedMs, processes: after.pids.length };
}

function describeStep(code: string, observation: CodeObservation): string {
  return `${JSON.stringify(code)} gave exit code ${observation.exit_code}, stdout ${JSON.stringify(observation.stdout)}, stderr ${JSON.stringify(observation.stderr.slice(-300))}`;
}

async function runCase(options: IdleCpuCaseOptions, context: BenchCaseContext): Promise<BenchCaseResult> {
  const { language } = options;
  context.progress(`${caseName(language)}: a spinning episode, then ${IDLE_WINDOW_MS} ms idle, measured over the server's process tree`);
  const client = new CodingEnv({ baseUrl: context.baseUrl, transport: 'ws' });
  try {
    await client.reset({ language });
    const setup = (await client.step({ code: options.setupCode })).observation;
    if (setup.exit_code !== 0) throw new BenchError(`The setup step failed: ${describeStep(options.setupCode, setup)}.`);
    await context.settle();
    const baseline = await idleSecond(context.serverPid);

    const spinStartedNs = process.hrtime.bigint();
    const spin = (await client.step({ code: options.spinCode }, options.spinTimeoutS === undefined ? {} : { timeoutS: options.spinTimeoutS })).observation;
    const spinMs = nanosecondsToMs(process.hrtime.bigint() - spinStartedNs);
    if (spin.exit_code !== options.spinExitCode) {
      throw new BenchError(`The spinning step should answer exit code ${options.spinExitCode}: ${describeStep(options.spinCode, spin)}.`);
    }
    await context.settle();
    const idle = await idleSecond(context.serverPid);

    const resume = (await client.step({ code: options.resumeCode })).observation;
    const stateKept = resume.exit_code === 0 && resume.stdout === options.resumeStdout;
    const episodeCores = idle.cores - baseline.cores;
    const pass = episodeCores < options.maxCores && stateKept;
    const second = (measured: IdleSecond): string =>
      `${measured.cores.toFixed(3)} cores: ${measured.ticks} ticks of 1/${USER_HZ} s in ${formatMs(measured.elapsedMs)} ms, ` +
      `${measured.rootTicks} of them the server process's own, ${measured.ticks - measured.rootTicks} its ${measured.processes - 1} descendants'`;
    return {
      name: caseName(language),
      metrics: [
        {
          via: 'ws',
          metric: idleCpuMetric(language),
          // A difference below zero is the two seconds' noise (a tick is 0.01 cores): shown as 0.
          result: `${Math.max(0, episodeCores).toFixed(3)} cores`,
          detail:
            `the server's tree across the idle second after a step that started spinning (answered exit ${spin.exit_code} in ${formatMs(spinMs)} ms), ` +
            `less the same episode's idle second before it: ${second(idle)}, against ${second(baseline)}; ` +
            `next step ${JSON.stringify(options.resumeCode)} -> ${stateKept ? `${JSON.stringify(resume.stdout)} (state kept)` : `NOT AS EXPECTED: ${describeStep(options.resumeCode, resume)}`}`,
        },
      ],
      checks: [
        {
          transport: 'ws',
          metric: idleCpuMetric(language),
          target: `< ${options.maxCores} cores, state kept`,
          ratio: episodeCores / options.maxCores,
          pass,
        },
      ],
      data: {
        language,
        idleWindowMs: IDLE_WINDOW_MS,
        setupCode: options.setupCode,
        spinCode: options.spinCode,
        spinTimeoutS: options.spinTimeoutS ?? null,
        spinExitCode: spin.exit_code,
        spinMs,
        baseline,
        idle,
        episodeCores,
        resumeCode: options.resumeCode,
        resumeStdout: resume.stdout,
        resumeExitCode: resume.exit_code,
        stateKept,
      },
    };
  } finally {
    await client.close().catch((error: unknown) => context.progress(`closing the ${caseName(language)} client failed: ${String(error)}`));
  }
}
