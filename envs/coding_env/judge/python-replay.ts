import type { ExecResult, Sandbox } from '../../../sandbox/index.js';
import { EXIT_OK, EXIT_TIMEOUT } from '../../../sandbox/index.js';

/** The most calls of the entry point one test may make under replay judging. */
export const MAX_REPLAY_CALLS = 1000;
/** The most the submission's answers to one test may weigh together (their JSON), in bytes: each run of the test carries them all. */
export const MAX_REPLAY_ANSWER_BYTES = 1024 * 1024;
/** The tester's runs of one test together may take this many times the test's deadline (the test runs once per call). */
export const REPLAY_TIME_FACTOR = 4;

/** One answer of the submission, replayed to the test: what the entry point returned or raised for one call. */
interface Answer {
  /** `repr((args, sorted(kwargs.items())))`, as the test's sandbox wrote it. */
  key: string;
  kind: 'value' | 'raise';
  /** `repr` of the returned value (kind `value`). */
  value?: string;
  /** The exception's class name and message (kind `raise`). */
  error?: string;
  message?: string;
}

/** What one run of the test (in the tester sandbox) ended with. */
type TesterOutcome = { status: 'passed' } | { status: 'call'; key: string } | { status: 'not_plain'; key: string };

/** How a replayed test ended: passed, failed with a reason, or not judgeable this way (judge it in the submission's interpreter). */
export type ReplayVerdict = { reason: string | null; lostEarly: boolean } | { fallback: string };

/** Where a replay runs: two fresh sandboxes and the test's time budget. */
export interface ReplayContext {
  /** Has run the submission (and nothing of the test); answers calls, one step each. */
  submission: Sandbox;
  /** Never runs submitted code: runs the test, with the entry point replaced by a stub that replays answers. */
  tester: Sandbox;
  entryPoint: string;
  testCode: string;
  setupCode: string | undefined;
  /** Budget of the submission's calls together, and of each run of the test. */
  timeoutMs: number;
  signal: AbortSignal | undefined;
}

/**
 * Judge a Python test without running it in the submission's interpreter. The test runs in a
 * sandbox that never runs submitted code, with the entry point replaced by a stub: at the first
 * call it has no answer for, the stub stops the test and names the call (its arguments as a Python
 * literal); the submission's sandbox computes that one call and its `repr` comes back; the test
 * runs again from the start with one more answer, until it passes or fails. Only literals cross
 * (parsed with `ast.literal_eval` in the tester), so no object of the submission's (an always-true
 * `__eq__`) reaches the test, and nothing the submission does to its own interpreter (rebound
 * builtins, a rewritten runner) reaches the verdict, which is the tester's own step result.
 */
export async function replayTest(context: ReplayContext): Promise<ReplayVerdict> {
  const answers: Answer[] = [];
  let spentMs = 0;
  let testerMs = 0;
  for (;;) {
    // The submission can make the replay heavy (large answers) but never make it give up in its favour: over a limit, the test fails.
    if (testerMs > context.timeoutMs * REPLAY_TIME_FACTOR) return { reason: `the test's replay ran past ${(context.timeoutMs * REPLAY_TIME_FACTOR) / 1000} s`, lostEarly: false };
    if (Buffer.byteLength(JSON.stringify(answers)) > MAX_REPLAY_ANSWER_BYTES) {
      return { reason: `${context.entryPoint}'s answers to this test are over ${MAX_REPLAY_ANSWER_BYTES} bytes together`, lostEarly: false };
    }
    const run = await context.tester.run(testerStep(context, answers), { timeoutMs: context.timeoutMs, ...(context.signal ? { signal: context.signal } : {}) });
    testerMs += run.durationMs;
    if (run.stateLost) return { reason: 'the test\'s sandbox was killed (exit 137)', lostEarly: run.durationMs < context.timeoutMs };
    if (run.exitCode === EXIT_TIMEOUT) return { reason: `timed out after ${context.timeoutMs / 1000} s`, lostEarly: false };
    if (run.exitCode !== EXIT_OK) {
      const reason = lastErrorLine(run) ?? `exited with code ${run.exitCode}`;
      // The test reaches the submission by another name than its entry point: judge it in the submission's interpreter.
      if (/^NameError: name '(?!__)\w+' is not defined$/.test(reason) && answers.length === 0) return { fallback: reason };
      return { reason, lostEarly: false };
    }
    const outcome = parseOutcome(run.result);
    if (outcome === undefined) return { reason: 'the test did not run to its end (it stopped early with exit 0)', lostEarly: false };
    if (outcome.status === 'passed') return { reason: null, lostEarly: false };
    if (outcome.status === 'not_plain') return { fallback: `the test passes ${context.entryPoint} arguments that are not Python literals` };
    if (answers.length >= MAX_REPLAY_CALLS) return { reason: `the test called ${context.entryPoint} more than ${MAX_REPLAY_CALLS} times`, lostEarly: false };
    const left = context.timeoutMs - spentMs;
    if (left <= 0) return { reason: `timed out after ${context.timeoutMs / 1000} s`, lostEarly: false };
    const call = await context.submission.run(`(lambda args, kwargs: ${context.entryPoint}(*args, **dict(kwargs)))(*${outcome.key})`, {
      timeoutMs: left,
      ...(context.signal ? { signal: context.signal } : {}),
    });
    spentMs += call.durationMs;
    if (call.stateLost) return { reason: `the submission's sandbox was killed (exit 137) in ${context.entryPoint}${shortArgs(outcome.key)}`, lostEarly: call.durationMs < left };
    if (call.exitCode === EXIT_TIMEOUT) return { reason: `timed out after ${context.timeoutMs / 1000} s in ${context.entryPoint}${shortArgs(outcome.key)}`, lostEarly: false };
    if (call.exitCode === EXIT_OK) answers.push({ key: outcome.key, kind: 'value', value: call.result ?? 'None' });
    else {
      const [, error = 'RuntimeError', message = ''] = /^(\w+)(?::\s?(.*))?$/.exec(lastErrorLine(call) ?? '') ?? [];
      answers.push({ key: outcome.key, kind: 'raise', error, message });
    }
  }
}

/** The tester's step: the test, its entry point a stub that replays `answers`; its value is the outcome as hex of JSON. */
function testerStep(context: ReplayContext, answers: readonly Answer[]): string {
  const source = `${context.setupCode ?? ''}\n${context.testCode}`;
  return [
    'import ast as _ast, builtins as _builtins, json as _json, random as _random',
    'class _Unknown(BaseException):',
    '    pass',
    'class _NotPlain(BaseException):',
    '    pass',
    `_answers = _json.loads(${pyString(JSON.stringify(answers))})`,
    '_seen = []',
    'def _candidate(*args, **kwargs):',
    '    plain = (args, sorted(kwargs.items()))',
    '    key = repr(plain)',
    '    try:',
    '        same = _ast.literal_eval(key) == plain',
    '    except Exception:',
    '        same = False',
    '    if not same:',
    '        raise _NotPlain(key[:200])',
    '    index = len(_seen)',
    '    _seen.append(key)',
    '    if index >= len(_answers):',
    '        raise _Unknown(key)',
    '    answer = _answers[index]',
    '    if answer["key"] != key:',
    `        raise RuntimeError("the test called ${context.entryPoint} differently when run again; judged tests must be deterministic")`,
    '    if answer["kind"] == "value":',
    '        try:',
    '            return _ast.literal_eval(answer["value"])',
    '        except Exception:',
    `            raise TypeError("${context.entryPoint} returned something that is not plain data: " + answer["value"][:100]) from None`,
    '    error = getattr(_builtins, answer["error"], None)',
    '    if not (isinstance(error, type) and issubclass(error, Exception)):',
    '        error = RuntimeError',
    '    raise error(answer["message"])',
    `_namespace = {"__name__": "__main__", ${pyString(context.entryPoint)}: _candidate}`,
    '_random.seed(0)',
    'try:',
    `    exec(compile(${pyString(source)}, "<test>", "exec"), _namespace)`,
    // A test that swallowed the stub's stop (a bare except) still waits for that call's answer.
    '    _outcome = {"status": "call", "key": _seen[len(_answers)]} if len(_seen) > len(_answers) else {"status": "passed"}',
    'except _Unknown as call:',
    '    _outcome = {"status": "call", "key": call.args[0]}',
    'except _NotPlain as call:',
    '    _outcome = {"status": "not_plain", "key": call.args[0]}',
    '_json.dumps(_outcome).encode().hex()',
  ].join('\n');
}

/** A Python string literal of `text` (JSON's escapes are Python's for a double-quoted string). */
function pyString(text: string): string {
  return JSON.stringify(text);
}

function parseOutcome(result: string | null): TesterOutcome | undefined {
  const hex = /^'([0-9a-f]*)'$/.exec(result ?? '')?.[1];
  if (hex === undefined) return undefined;
  try {
    return JSON.parse(Buffer.from(hex, 'hex').toString('utf8')) as TesterOutcome;
  } catch {
    return undefined;
  }
}

/** The last line of a failed step's stderr: the exception, e.g. `AssertionError` or `ValueError: bad`. */
function lastErrorLine(result: ExecResult): string | undefined {
  return result.stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('[envbox'))
    .at(-1);
}

/** `(1, 2)` from a call key `((1, 2), [])`, cut short. */
function shortArgs(key: string): string {
  const shown = key.length > 60 ? `${key.slice(0, 59)}…` : key;
  return ` called with ${shown}`;
}
