import { randomBytes } from 'node:crypto';
import type { ExecResult, Sandbox, WarmPool } from '../../../sandbox/index.js';
import { EXIT_OK, EXIT_TIMEOUT } from '../../../sandbox/index.js';
import type { Language } from '../models.js';
import type { Task, TaskTest } from '../task-set/task.js';
import { ConcurrencyLimit } from './concurrency-limit.js';
import { replayTest, type ReplayVerdict } from './python-replay.js';

/** How a judgement becomes a reward: the fraction of tests passed, or 1 only when all pass. */
export const REWARD_MODES = ['fraction', 'all-or-nothing'] as const;
export type RewardMode = (typeof REWARD_MODES)[number];

/** Tests judged at once, across every submission and batch, by default. @default 4 */
export const DEFAULT_JUDGE_CONCURRENCY = 4;
/** Times a test is judged again after its sandbox died before the deadline (collateral of a sibling's kill). */
export const LOST_SANDBOX_RETRIES = 2;
/** The longest failure reason kept per test, in characters. */
export const MAX_REASON_CHARS = 200;

/** The verdict on one test. */
export interface TestVerdict {
  name: string;
  passed: boolean;
  /** Why it failed, in one short line (the last line of the error, a timeout, a killed sandbox); null when it passed. */
  reason: string | null;
  /** The test's source, only when the server reveals tests (`--reveal-tests`). */
  source?: string;
}

/** The verdict on one submission. */
export interface Judgement {
  /** The fraction of tests passed (or 1/0 in all-or-nothing mode). */
  reward: number;
  passed: number;
  total: number;
  tests: TestVerdict[];
}

/** Options of a {@link Judge}. */
export interface JudgeOptions {
  /** @default 'fraction' */
  reward?: RewardMode;
  /** Put each test's source in its verdict. @default false */
  revealTests?: boolean;
  /** Tests judged at once (each in a sandbox of its own). @default DEFAULT_JUDGE_CONCURRENCY */
  concurrency?: number;
}

/**
 * Runs a task's tests against a submission, each test running the submission in a fresh sandbox of
 * the task's language from the pools (never an episode's, never the server's own process). Python tests with an entry
 * point are replayed: the test runs in a sandbox that never runs submitted code and its verdict is
 * that sandbox's own step result; only literals cross (see {@link replayTest}). Other tests run in
 * the submission's sandbox as the step after it, ending with a string literal holding a nonce drawn
 * for this test once the submission's step has returned: the test passes only when the runner
 * reports that step finished (exit 0, sandbox alive) with the nonce as its value, on the runner's
 * channel, never in stdout (see docs/ARCHITECTURE.md, "The judge").
 */
export class Judge {
  readonly #pools: Readonly<Record<Language, WarmPool>>;
  readonly #reward: RewardMode;
  readonly #revealTests: boolean;
  readonly #limit: ConcurrencyLimit;
  /**
   * Tester sandboxes between replays: they never run submitted code (only the tasks' tests, each
   * run in a fresh namespace) and nothing but literals reaches them, so one serves test after test;
   * at most one per concurrency slot is kept.
   */
  readonly #idleTesters: Sandbox[] = [];
  #closed = false;

  constructor(pools: Readonly<Record<Language, WarmPool>>, options: JudgeOptions = {}) {
    this.#pools = pools;
    this.#reward = options.reward ?? 'fraction';
    this.#revealTests = options.revealTests ?? false;
    this.#limit = new ConcurrencyLimit(options.concurrency ?? DEFAULT_JUDGE_CONCURRENCY);
  }

  /** Judge `code` against every test of `task`; tests run in parallel up to the concurrency limit. */
  async judge(task: Task, code: string, options: { signal?: AbortSignal } = {}): Promise<Judgement> {
    const tests = await Promise.all(task.tests.map((test) => this.#limit.run(() => this.#judgeTest(task, test, code, options.signal))));
    const passed = tests.filter((test) => test.passed).length;
    const total = tests.length;
    const reward = this.#reward === 'all-or-nothing' ? (passed === total ? 1 : 0) : passed / total;
    return { reward, passed, total, tests };
  }

  async #judgeTest(task: Task, test: TaskTest, code: string, signal: AbortSignal | undefined): Promise<TestVerdict> {
    let outcome = await this.#attempt(task, test, code, signal);
    // A sandbox killed before its deadline may be collateral: JavaScript sandboxes share a worker,
    // which is terminated when a sibling will not stop. Such a test is judged again, in another sandbox.
    for (let retry = 0; outcome.lostEarly && signal?.aborted !== true && retry < LOST_SANDBOX_RETRIES; retry += 1) {
      outcome = await this.#attempt(task, test, code, signal);
    }
    return { name: test.name, passed: outcome.reason === null, reason: outcome.reason, ...(this.#revealTests ? { source: test.code } : {}) };
  }

  /**
   * One judging of `test`: why it failed (null: it passed), and whether a sandbox died before its
   * deadline. Python tests with an entry point are replayed (the test never runs in the
   * submission's interpreter, see {@link replayTest}); the others, and tests replay cannot judge,
   * run in the submission's sandbox after it.
   */
  async #attempt(task: Task, test: TaskTest, code: string, signal: AbortSignal | undefined): Promise<{ reason: string | null; lostEarly: boolean }> {
    if (task.language === 'python' && task.entryPoint !== undefined) {
      const replayed = await this.#replayAttempt(task, task.entryPoint, test, code, signal);
      if (!('fallback' in replayed)) return replayed;
    }
    return this.#inProcessAttempt(task, test, code, signal);
  }

  async #replayAttempt(task: Task, entryPoint: string, test: TaskTest, code: string, signal: AbortSignal | undefined): Promise<ReplayVerdict> {
    const timeoutMs = task.timeoutS * 1000;
    const pool = this.#pools[task.language];
    const [submission, tester] = await Promise.all([pool.acquire(), this.#tester(pool)]);
    try {
      const ran = await submission.run(task.setupCode === undefined ? code : `${task.setupCode}\n${code}`, { timeoutMs, ...(signal ? { signal } : {}) });
      if (ran.stateLost) return { reason: 'the submission killed its sandbox (exit 137)', lostEarly: ran.durationMs < timeoutMs };
      if (ran.exitCode !== EXIT_OK) return { reason: `the submission failed: ${failureReason(ran, task.timeoutS)}`, lostEarly: false };
      return await replayTest({ submission, tester, entryPoint, testCode: test.code, setupCode: task.setupCode, timeoutMs, signal });
    } finally {
      void submission.close();
      this.#releaseTester(tester);
    }
  }

  /** Close the idle tester sandboxes; a judging still running closes its own. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#idleTesters.splice(0).map((tester) => tester.close()));
  }

  async #tester(pool: WarmPool): Promise<Sandbox> {
    for (let tester = this.#idleTesters.pop(); tester !== undefined; tester = this.#idleTesters.pop()) {
      if (tester.alive) return tester;
    }
    return pool.acquire();
  }

  #releaseTester(tester: Sandbox): void {
    if (!this.#closed && tester.alive && this.#idleTesters.length < this.#limit.limit) this.#idleTesters.push(tester);
    else void tester.close();
  }

  /** `test` run in the submission's own sandbox, after it, ending with a nonce only a finished test step evaluates to. */
  async #inProcessAttempt(task: Task, test: TaskTest, code: string, signal: AbortSignal | undefined): Promise<{ reason: string | null; lostEarly: boolean }> {
    const timeoutMs = task.timeoutS * 1000;
    const lostEarly = (result: ExecResult): boolean => result.stateLost && result.durationMs < timeoutMs;
    const sandbox = await this.#pools[task.language].acquire();
    try {
      const submission = task.setupCode === undefined ? code : `${task.setupCode}\n${code}`;
      const ran = await sandbox.run(submission, { timeoutMs, ...(signal ? { signal } : {}) });
      if (ran.stateLost) return { reason: 'the submission killed its sandbox (exit 137)', lostEarly: lostEarly(ran) };
      if (ran.exitCode !== EXIT_OK) return { reason: `the submission failed: ${failureReason(ran, task.timeoutS)}`, lostEarly: false };
      // Drawn now, after the submission's step has returned: nothing in the sandbox has seen it.
      const nonce = randomBytes(16).toString('hex');
      const checked = await sandbox.run(testStep(task.language, test.code, nonce, task.entryPoint), { timeoutMs, pristineBuiltins: true, ...(signal ? { signal } : {}) });
      if (checked.stateLost || checked.exitCode !== EXIT_OK) return { reason: failureReason(checked, task.timeoutS), lostEarly: lostEarly(checked) };
      if (checked.result !== `'${nonce}'`) return { reason: 'the test did not run to its end (something stopped it early with exit 0)', lostEarly: false };
      return { reason: null, lostEarly: false };
    } finally {
      void sandbox.close();
    }
  }
}

/**
 * Python: rebinds the entry point to a wrapper that lets only plain data out (exact builtin types,
 * checked with `is`, never `==`): an object whose `__eq__` always answers true never reaches the
 * test's comparisons. The names it uses are the step's pristine builtins.
 */
function plainDataGuard(entryPoint: string): string {
  return [
    'def __envbox_plain_data(function, name):',
    '    plain = (int, float, complex, str, bytes, bool, type(None), list, tuple, dict, set, frozenset)',
    '    def check(value):',
    '        kind = type(value)',
    '        if not any(kind is allowed for allowed in plain):',
    '            raise TypeError("%s returned a %s; the judge takes only plain data (numbers, strings, None, lists, tuples, dicts, sets)" % (name, kind.__name__))',
    '        if kind is dict:',
    '            for key, item in dict.items(value):',
    '                check(key)',
    '                check(item)',
    '        elif kind is not str and kind is not bytes and any(kind is container for container in (list, tuple, set, frozenset)):',
    '            for item in value:',
    '                check(item)',
    '    def guarded(*args, **kwargs):',
    '        result = function(*args, **kwargs)',
    '        check(result)',
    '        return result',
    '    return guarded',
    `${entryPoint} = __envbox_plain_data(${entryPoint}, ${JSON.stringify(entryPoint)})`,
    'del __envbox_plain_data',
    '',
  ].join('\n');
}

/**
 * The step that runs `testCode` and, only if it completes, evaluates to the nonce (the step's
 * trailing expression, reported by the runner as its `result`). Python's step first guards the
 * entry point (see {@link plainDataGuard}).
 */
export function testStep(language: Language, testCode: string, nonce: string, entryPoint?: string): string {
  // JavaScript: the `;` keeps a last line such as `f()` from calling the string; Python needs none.
  if (language === 'javascript') return `${testCode}\n;'${nonce}'`;
  return `${entryPoint === undefined ? '' : plainDataGuard(entryPoint)}${testCode}\n'${nonce}'`;
}

/** One short line on why a step failed. */
function failureReason(result: ExecResult, timeoutS: number): string {
  if (result.stateLost) return 'the sandbox was killed (exit 137): the test ran past its deadline or the code killed it';
  if (result.exitCode === EXIT_TIMEOUT) return `timed out after ${timeoutS} s`;
  const last = result.stderr.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('[envbox') && !line.startsWith('at ')).at(-1);
  const reason = result.exitCode === 1 ? (last ?? 'an error') : `exited with code ${result.exitCode}${last === undefined ? '' : ` (${last})`}`;
  return reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS - 1)}…` : reason;
}
