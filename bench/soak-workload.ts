import type { CodeObservation, Language } from '../envs/coding_env/index.js';
import type { SeededRandom } from './seeded-random.js';

/** What one step's observation must be. Fields left out are not checked. */
export interface SoakExpectation {
  exitCode: number;
  /** stdout must equal the string or match the pattern. */
  stdout?: string | RegExp;
  /** stderr must equal the string or match the pattern. */
  stderr?: string | RegExp;
  /** `metadata.result` (repr of a trailing expression) must equal this. */
  result?: string | null;
  /** `metadata.state_lost` must be this. */
  stateLost?: boolean;
  /** `metadata.truncated` must be this. */
  truncated?: boolean;
  /** stdout must be at most this many characters (the output cap plus its notice). */
  maxStdoutChars?: number;
}

/** One step of the soak: code, its budget and the observation it must get. */
export interface SoakStep {
  /** e.g. `print`, `increment`, or a hostile kind such as `timeout`. */
  kind: string;
  hostile: boolean;
  code: string;
  /** The step's `timeout_s`; the server's default when absent. */
  timeoutS?: number;
  expect: SoakExpectation;
  /** Whether the episode's state survives the step (false: the session sets its state up again). */
  keepsState: boolean;
  /** The counter the session's model holds after the step succeeds. */
  counterAfter?: number;
}

/** The soak's model of one episode's state, to check that state persists from step to step. */
export interface EpisodeModel {
  /** The value of the guest's `counter` variable. */
  counter: number;
}

/** The server's default `--max-output-bytes` (a 10 MB print must come back cut to it). */
export const SOAK_MAX_OUTPUT_BYTES = 1_048_576;
/** Room for the truncation notice after the cut. */
const TRUNCATION_NOTICE_CHARS = 200;

/**
 * Hostile kinds of Python episodes, in the order each session cycles through them (starting at its
 * own offset); `memory_crowd` (several sessions filling memory at once, see soak-crowd.ts) is
 * rate-limited. It comes early, so that a brief soak gathers a crowd of both languages before the
 * slow kinds (a JavaScript memory_bomb takes seconds on a loaded machine) keep sessions busy.
 */
export const PYTHON_HOSTILE_KINDS = ['timeout', 'memory_crowd', 'memory_bomb', 'fork_bomb', 'big_output', 'exit', 'exception'] as const;
/** Hostile kinds of JavaScript episodes; `stall` (a native stall the watchdog ends) and `memory_crowd` are rate-limited. */
export const JAVASCRIPT_HOSTILE_KINDS = ['timeout', 'memory_crowd', 'memory_bomb', 'big_output', 'exit', 'exception', 'stall'] as const;

/** What a Python member of a memory crowd holds, in MiB (1 MiB objects, every page written). @default 300 */
export const CROWD_PYTHON_MIB = 300;

/** The hostile kinds of a language. */
export function hostileKinds(language: Language): readonly string[] {
  return language === 'python' ? PYTHON_HOSTILE_KINDS : JAVASCRIPT_HOSTILE_KINDS;
}

/** The code that sets an episode's state up after a reset (or after its state was lost). */
export function setupStep(language: Language): SoakStep {
  const code = language === 'python' ? 'counter = 0\ndef triple(x):\n    return x * 3' : 'var counter = 0; function triple(x) { return x * 3 }';
  return { kind: 'setup', hostile: false, code, expect: { exitCode: 0, stdout: '', stderr: '' }, keepsState: true, counterAfter: 0 };
}

/** An ordinary step: a print, a state change, a small computation, a call of a function defined earlier. */
export function ordinaryStep(language: Language, model: EpisodeModel, random: SeededRandom): SoakStep {
  const py = language === 'python';
  const ok = (kind: string, code: string, expect: Omit<SoakExpectation, 'exitCode'>, counterAfter = model.counter): SoakStep => ({
    kind,
    hostile: false,
    code,
    expect: { exitCode: 0, stderr: '', ...expect },
    keepsState: true,
    counterAfter,
  });
  switch (random.int(0, 4)) {
    case 0: {
      const n = random.int(0, 1_000_000);
      return ok('print', py ? `print("hello", ${n})` : `console.log("hello", ${n})`, { stdout: `hello ${n}\n` });
    }
    case 1: {
      const next = model.counter + 1;
      return ok('increment', py ? 'counter += 1\nprint(counter)' : 'counter += 1; console.log(counter)', { stdout: `${next}\n` }, next);
    }
    case 2: {
      const n = random.int(1, 2000);
      let sum = 0;
      for (let i = 0; i < n; i += 1) sum += i * i;
      // A block, so the `let`s do not collide with the previous step's in the guest's global scope.
      const code = py ? `print(sum(i * i for i in range(${n})))` : `{ let t = 0; for (let i = 0; i < ${n}; i++) t += i * i; console.log(t) }`;
      return ok('compute', code, { stdout: `${sum}\n` });
    }
    case 3: {
      const k = random.int(0, 100);
      return ok('call', `triple(counter + ${k})`, { stdout: '', result: String(3 * (model.counter + k)) });
    }
    default:
      return ok('read_state', 'counter', { stdout: '', result: String(model.counter) });
  }
}

/**
 * The hostile step of `kind` and the exact safe outcome it must get (the same outcomes the escape
 * corpus holds the server to): time limits answer 124 and keep the state, memory and process
 * limits answer an ordinary exception, output is cut to the cap, a native stall is ended by the
 * watchdog (137, state lost).
 * @throws {RangeError} for a kind the language does not have
 */
export function hostileStep(language: Language, kind: string, model: EpisodeModel): SoakStep {
  const keep = (code: string, expect: SoakExpectation, timeoutS?: number): SoakStep => ({
    kind,
    hostile: true,
    code,
    expect,
    keepsState: true,
    counterAfter: model.counter,
    ...(timeoutS === undefined ? {} : { timeoutS }),
  });
  const bigOutput: SoakExpectation = { exitCode: 0, truncated: true, stdout: /^x+\n?(\[envbox: output truncated at \d+ bytes\]\n)?$/, maxStdoutChars: SOAK_MAX_OUTPUT_BYTES + TRUNCATION_NOTICE_CHARS };
  if (language === 'python') {
    switch (kind) {
      case 'timeout':
        return keep('while True: pass', { exitCode: 124, stderr: /TimeoutError: the step ran past its limit of 1 s/, stateLost: false }, 1);
      case 'memory_bomb':
        // 8 GiB at once: RLIMIT_AS refuses it before a page is touched, so 16 bombs at once cannot hurt the host.
        return keep('x = bytearray(8 * 1024 ** 3)', { exitCode: 1, stderr: /MemoryError/, stateLost: false });
      case 'fork_bomb':
        return keep('import os\nwhile True: os.fork()', { exitCode: 1, stderr: /PermissionError: envbox: os\.fork is not allowed/, stateLost: false });
      case 'big_output':
        return keep('print("x" * 10_000_000)', bigOutput);
      case 'exit':
        return keep('import sys; sys.exit(3)', { exitCode: 3, stateLost: false });
      case 'exception':
        return keep('raise ValueError("soak")', { exitCode: 1, stderr: /ValueError: soak/, stateLost: false });
      case 'memory_crowd':
        // Held until every member of the crowd has filled; crowdReleaseStep lets it go.
        return keep(`crowd = [b"\\x01" * 2**20 for _ in range(${CROWD_PYTHON_MIB})]\nlen(crowd)`, {
          exitCode: 0,
          stdout: '',
          stderr: '',
          result: String(CROWD_PYTHON_MIB),
          stateLost: false,
        });
    }
  } else {
    switch (kind) {
      case 'timeout':
        return keep('while (true) {}', { exitCode: 124, stderr: /TimeoutError: the step ran past its limit of 1 s/, stateLost: false }, 1);
      case 'memory_bomb':
        return keep('{ const s = []; while (true) s.push("x".repeat(1e6) + Math.random()) }', { exitCode: 1, stderr: /out of memory/, stateLost: false });
      case 'big_output':
        return keep('console.log("x".repeat(10_000_000))', bigOutput);
      case 'exit':
        return keep('process.exit(3)', { exitCode: 3, stateLost: false });
      case 'exception':
        return keep('throw new Error("soak")', { exitCode: 1, stderr: /Error: soak/, stateLost: false });
      case 'memory_crowd':
        // 8 MiB blocks to the episode's cap (or the episode memory budget, whichever comes first):
        // the allocation fails inside the guest, which catches it; the state is kept.
        return keep(
          'globalThis.crowd = []; try { for (;;) crowd.push(new Uint8Array(8 * 2 ** 20).fill(1)) } catch (e) { console.log(String(e)) }',
          { exitCode: 0, stdout: /^(InternalError: out of memory|RangeError: .*)\n$/, stderr: '', stateLost: false },
        );
      case 'stall':
        // A native loop over 2^32 - 1 holes that QuickJS's interrupt handler never sees: only the
        // watchdog, which terminates the worker thread, ends it.
        return {
          kind,
          hostile: true,
          code: 'a=[];a.length=2**32-1;a.includes(1)',
          timeoutS: 1,
          expect: { exitCode: 137, stderr: /the sandbox was destroyed/, stateLost: true },
          keepsState: false,
        };
    }
  }
  throw new RangeError(`hostileStep: expected one of ${hostileKinds(language).join(', ')} for ${language}, received ${JSON.stringify(kind)}.`);
}

/**
 * After a memory crowd: the member lets its memory go and shows its state was kept. A JavaScript
 * episode's wasm memory never shrinks, so the session resets after this step to give it back.
 */
export function crowdReleaseStep(language: Language, model: EpisodeModel): SoakStep {
  return {
    kind: 'crowd_release',
    hostile: false,
    code: language === 'python' ? 'del crowd\ncounter' : 'crowd = null; counter',
    expect: { exitCode: 0, stdout: '', stderr: '', result: String(model.counter), stateLost: false },
    keepsState: true,
    counterAfter: model.counter,
  };
}

/**
 * Whether the observation is the one a JavaScript episode gets when a *neighbour* on the same
 * worker thread stalled and the watchdog terminated the worker: 137, state lost. Documented
 * collateral of the QuickJS design (episodes share worker threads), so it is counted apart, not as
 * a wrong output.
 */
export function isNeighbourStall(language: Language, observation: CodeObservation): boolean {
  return (
    language === 'javascript' &&
    observation.exit_code === 137 &&
    observation.metadata.state_lost === true &&
    /on the same worker thread/.test(observation.stderr)
  );
}

/** Why the observation does not meet the expectation, or undefined when it does. */
export function mismatch(expect: SoakExpectation, observation: CodeObservation): string | undefined {
  const problems: string[] = [];
  const matches = (value: string, want: string | RegExp): boolean => (typeof want === 'string' ? value === want : want.test(value));
  if (observation.exit_code !== expect.exitCode) problems.push(`exit_code ${observation.exit_code}, expected ${expect.exitCode}`);
  if (expect.stdout !== undefined && !matches(observation.stdout, expect.stdout)) problems.push(`stdout ${JSON.stringify(observation.stdout.slice(0, 200))}, expected ${String(expect.stdout)}`);
  if (expect.stderr !== undefined && !matches(observation.stderr, expect.stderr)) problems.push(`stderr ${JSON.stringify(observation.stderr.slice(0, 300))}, expected ${String(expect.stderr)}`);
  if (expect.result !== undefined && observation.metadata.result !== expect.result) problems.push(`result ${JSON.stringify(observation.metadata.result)}, expected ${JSON.stringify(expect.result)}`);
  if (expect.stateLost !== undefined && (observation.metadata.state_lost ?? false) !== expect.stateLost) problems.push(`state_lost ${String(observation.metadata.state_lost)}, expected ${expect.stateLost}`);
  if (expect.truncated !== undefined && (observation.metadata.truncated ?? false) !== expect.truncated) problems.push(`truncated ${String(observation.metadata.truncated)}, expected ${expect.truncated}`);
  if (expect.maxStdoutChars !== undefined && observation.stdout.length > expect.maxStdoutChars) problems.push(`stdout of ${observation.stdout.length} chars, expected at most ${expect.maxStdoutChars}`);
  return problems.length === 0 ? undefined : problems.join('; ');
}
