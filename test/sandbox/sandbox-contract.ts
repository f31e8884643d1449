import type { Test } from 'tap';
import { EXIT_ERROR, EXIT_KILLED, EXIT_OK, EXIT_TIMEOUT, type ExecResult, type Sandbox, type SandboxBackend } from '../../sandbox/index.js';
import { INTERRUPT_ONLY_GRACE_MS, SHORT_MS, shortDeadlineMs, STEP_MS } from './deadlines.js';

/**
 * The same behaviours written in one language: what the contract runs. Each names what the step
 * must do; the contract checks the outcome, which is the same in every language.
 */
export interface ContractSnippets {
  /** Does nothing (the round trip a short deadline is derived from): `pass`. */
  nothing: string;
  /** Defines a variable `kept` = 41 and a function `inc(n)` returning n + 1, and has no result. */
  define: string;
  /** Evaluates to `inc(kept)`, whose result is shown as `42`. */
  use: string;
  /** Prints `hello` and a newline, and has no result. */
  print: string;
  /** Throws an uncaught error whose message is `boom`. */
  raise: string;
  /** Not valid in the language: a syntax error. */
  syntaxError: string;
  /** Ends the step with exit code `code` (`sys.exit(code)`, `process.exit(code)`). */
  exit(code: number): string;
  /** Loops forever, heeding the interrupt. */
  busyLoop: string;
  /** Defines a variable `during` = 1, then loops forever. */
  defineThenLoop: string;
  /** Evaluates to `during`, whose result is shown as `1`. */
  useDuring: string;
  /** Prints the line `partial`, then loops forever. */
  printThenLoop: string;
  /** Waits 30 s (a sleep, a timer), idle. */
  sleep: string;
  /** Runs forever and never heeds the interrupt (a swallowed interrupt, a native call). */
  ignoreInterrupt: string;
  /** Prints a line of `count` characters `x` to stdout. */
  printMany(count: number): string;
  /** Prints a line of `count` characters `e` to stderr. */
  printManyToStderr(count: number): string;
}

/** Options the contract starts its backends with; unset means the backend's default. */
export interface ContractBackendOptions {
  /** How long an interrupted step may take to stop before the sandbox is destroyed (137). */
  interruptGraceMs?: number;
  /** The cap of stdout and stderr per step. */
  maxOutputBytes?: number;
}

/** A sandbox backend under the contract. */
export interface ContractSubject {
  /** Start a backend; the contract closes it. */
  start(options?: ContractBackendOptions): Promise<SandboxBackend>;
  /** The backend's language, written for each behaviour. */
  snippets: ContractSnippets;
}

/** The output cap of the backends that test it: small, so that it is reached at once. */
const CAP_BYTES = 1024;
/** What follows the kept part of a capped stream: nothing (QuickJS) or the runner's marker (Python). */
const AFTER_CAP = new RegExp(`^(\\n\\[envbox: output truncated at ${CAP_BYTES} bytes\\]\\n)?$`);

/** One step with a deadline of `timeoutMs`. */
function run(sandbox: Sandbox, code: string, timeoutMs = STEP_MS): Promise<ExecResult> {
  return sandbox.run(code, { timeoutMs });
}

/** The outcome of a step, without its duration. */
function outcome(result: ExecResult): Omit<ExecResult, 'durationMs'> {
  const { durationMs: _, ...rest } = result;
  return rest;
}

/**
 * Register the behaviours every sandbox backend must have, whatever its language: steps and the
 * state between them, exit codes, deadlines with the state kept (124) and lost (137), output caps,
 * cancellation and closing. Verdicts never depend on the machine's speed: steps that must time out
 * run on backends whose interrupt grace no working guest needs, and a step that must do something
 * before its deadline gets one derived from the sandbox's own round trip.
 */
export function sandboxContract(t: Test, subject: ContractSubject): void {
  const { snippets } = subject;
  let shared: Promise<SandboxBackend> | undefined;
  t.teardown(async () => (await shared)?.close());

  /**
   * The backend with default options, started once for the tests that neither change an option nor
   * break the backend (a QuickJS backend's first episode waits for a worker's cold start).
   */
  function sharedBackend(): Promise<SandboxBackend> {
    shared ??= subject.start();
    return shared;
  }

  /** A backend with `options`, closed when `t` ends. */
  async function backendOf(t: Test, options: ContractBackendOptions = {}): Promise<SandboxBackend> {
    const backend = await subject.start(options);
    t.teardown(() => backend.close());
    return backend;
  }

  /** A sandbox of `backend`, closed when `t` ends. */
  async function sandboxOf(t: Test, backend: SandboxBackend): Promise<Sandbox> {
    const sandbox = await backend.create();
    t.teardown(() => sandbox.close());
    return sandbox;
  }

  t.test('contract: a step runs, prints and has a result', async (t) => {
    const sandbox = await sandboxOf(t, await sharedBackend());
    t.equal(sandbox.alive, true);
    const printed = await run(sandbox, snippets.print);
    t.same(outcome(printed), { stdout: 'hello\n', stderr: '', exitCode: EXIT_OK, result: null, truncated: false, stateLost: false });
    t.ok(printed.durationMs >= 0, 'durationMs is a duration');
  });

  t.test('contract: variables and functions persist from step to step', async (t) => {
    const backend = await sharedBackend();
    const sandbox = await sandboxOf(t, backend);
    const defined = await run(sandbox, snippets.define);
    t.same([defined.exitCode, defined.result, defined.stderr], [EXIT_OK, null, ''], 'a definition has no result');
    t.equal((await run(sandbox, snippets.use)).result, '42', 'the next step sees them');
    const other = await sandboxOf(t, backend);
    t.equal((await run(other, snippets.use)).exitCode, EXIT_ERROR, 'another sandbox does not');
  });

  t.test('contract: exit codes 0, 1 for an error, n for exit(n); each keeps the state', async (t) => {
    const sandbox = await sandboxOf(t, await sharedBackend());
    await run(sandbox, snippets.define);
    const raised = await run(sandbox, snippets.raise);
    t.equal(raised.exitCode, EXIT_ERROR, 'an uncaught error is 1');
    t.match(raised.stderr, /boom/, 'stderr says what it was');
    t.equal(raised.stateLost, false);
    t.equal((await run(sandbox, snippets.syntaxError)).exitCode, EXIT_ERROR, 'a syntax error is 1');
    t.equal((await run(sandbox, snippets.exit(0))).exitCode, EXIT_OK, 'exit(0) is 0');
    const exited = await run(sandbox, snippets.exit(3));
    t.equal(exited.exitCode, 3, 'exit(3) is 3');
    t.equal(exited.stateLost, false);
    t.equal(sandbox.alive, true);
    t.equal((await run(sandbox, snippets.use)).result, '42', 'the state survived every one of them');
  });

  t.test('contract: a step past its deadline is interrupted (124) and the state is kept', async (t) => {
    const sandbox = await sandboxOf(t, await backendOf(t, { interruptGraceMs: INTERRUPT_ONLY_GRACE_MS }));
    await run(sandbox, snippets.define);
    const busy = await run(sandbox, snippets.busyLoop, SHORT_MS);
    t.equal(busy.exitCode, EXIT_TIMEOUT);
    t.equal(busy.stateLost, false);
    t.match(busy.stderr, /TimeoutError: the step ran past its limit of 0\.3 s and was interrupted; the state is kept\.\n/);
    t.equal(sandbox.alive, true);
    t.equal((await run(sandbox, snippets.use)).result, '42', 'what was defined before survives');

    const deadlineMs = await shortDeadlineMs(sandbox, snippets.nothing);
    const during = await run(sandbox, snippets.defineThenLoop, deadlineMs);
    t.equal(during.exitCode, EXIT_TIMEOUT);
    t.equal((await run(sandbox, snippets.useDuring)).result, '1', 'what the step did before its deadline is kept');
    const printed = await run(sandbox, snippets.printThenLoop, deadlineMs);
    t.equal(printed.exitCode, EXIT_TIMEOUT);
    t.equal(printed.stdout, 'partial\n', 'output printed before the deadline is returned');
    const slept = await run(sandbox, snippets.sleep, deadlineMs);
    t.equal(slept.exitCode, EXIT_TIMEOUT, 'an idle wait is cut at the deadline too');
    t.equal((await run(sandbox, snippets.use)).result, '42', 'and the state is still there');
  });

  t.test('contract: a deadline that passes before the guest has even begun the step still ends it in a timeout (124)', async (t) => {
    // A 0 ms deadline: the interrupt usually reaches the guest while it is still reading the step,
    // where it is dropped as a late one of the step before; the interrupt sent again during the
    // kill grace stops the loop, and the outcome is a timeout with the state kept, not a kill.
    const sandbox = await sandboxOf(t, await backendOf(t, { interruptGraceMs: INTERRUPT_ONLY_GRACE_MS }));
    await run(sandbox, snippets.define);
    for (let i = 0; i < 3; i += 1) {
      const early = await run(sandbox, snippets.busyLoop, 0);
      t.equal(early.exitCode, EXIT_TIMEOUT, `try ${i + 1}: a timeout (124), not a kill`);
      t.equal(early.stateLost, false);
    }
    t.equal((await run(sandbox, snippets.use)).result, '42', 'the state is kept');
  });

  t.test('contract: a step that ignores the interrupt is killed (137); the state is lost, the next sandbox is fresh', async (t) => {
    const backend = await backendOf(t);
    const sandbox = await sandboxOf(t, backend);
    await run(sandbox, snippets.define);
    const killed = await run(sandbox, snippets.ignoreInterrupt, SHORT_MS);
    t.equal(killed.exitCode, EXIT_KILLED);
    t.equal(killed.stateLost, true);
    t.equal(killed.result, null);
    t.match(killed.stderr, /its state is lost and the next step starts in a fresh sandbox/);
    t.equal(sandbox.alive, false);
    const after = await run(sandbox, snippets.use);
    t.same([after.exitCode, after.stateLost, after.stdout], [EXIT_KILLED, true, ''], 'a dead sandbox answers every step with 137');
    const next = await sandboxOf(t, backend);
    t.equal((await run(next, snippets.use)).exitCode, EXIT_ERROR, 'the next sandbox has none of the old state');
    t.equal((await run(next, snippets.nothing)).exitCode, EXIT_OK, 'and works');
  });

  t.test('contract: an aborted signal kills the sandbox (137)', async (t) => {
    // A backend of its own: a QuickJS step cancelled mid-run goes on, unseen, until its deadline,
    // holding its worker (so the other sandbox is started first, too).
    const backend = await backendOf(t);
    const sandbox = await sandboxOf(t, backend);
    const other = await sandboxOf(t, backend);
    const controller = new AbortController();
    const running = sandbox.run(snippets.busyLoop, { timeoutMs: STEP_MS, signal: controller.signal });
    controller.abort();
    const result = await running;
    t.same([result.exitCode, result.stateLost], [EXIT_KILLED, true]);
    t.match(result.stderr, /cancelled/);
    t.equal(sandbox.alive, false);
    const aborted = await other.run(snippets.nothing, { timeoutMs: STEP_MS, signal: AbortSignal.abort() });
    t.equal(aborted.exitCode, EXIT_KILLED, 'an already aborted signal kills at once');
    t.equal(other.alive, false);
  });

  t.test('contract: stdout and stderr are cut at the cap and marked truncated, per step', async (t) => {
    const sandbox = await sandboxOf(t, await backendOf(t, { maxOutputBytes: CAP_BYTES }));
    const flood = await run(sandbox, snippets.printMany(10 * CAP_BYTES));
    t.equal(flood.exitCode, EXIT_OK);
    t.equal(flood.truncated, true);
    t.ok(flood.stdout.startsWith('x'.repeat(CAP_BYTES)), 'the first bytes up to the cap are kept');
    t.match(flood.stdout.slice(CAP_BYTES), AFTER_CAP, 'and nothing after them but a marker');
    const errors = await run(sandbox, snippets.printManyToStderr(10 * CAP_BYTES));
    t.equal(errors.truncated, true, 'stderr is capped too');
    t.ok(errors.stderr.startsWith('e'.repeat(CAP_BYTES)));
    t.match(errors.stderr.slice(CAP_BYTES), AFTER_CAP);
    const small = await run(sandbox, snippets.printMany(10));
    t.same([small.stdout, small.truncated], [`${'x'.repeat(10)}\n`, false], 'the cap is per step');
  });

  t.test('contract: close() is idempotent; a closed sandbox answers 137; asyncDispose closes', async (t) => {
    const backend = await sharedBackend();
    const sandbox = await sandboxOf(t, backend);
    await Promise.all([sandbox.close(), sandbox.close()]);
    await sandbox.close();
    t.equal(sandbox.alive, false);
    const after = await run(sandbox, snippets.nothing);
    t.same([after.exitCode, after.stateLost, after.result], [EXIT_KILLED, true, null]);
    t.match(after.stderr, /the sandbox was closed/);
    const disposable = await backend.create();
    await disposable[Symbol.asyncDispose]();
    t.equal(disposable.alive, false, 'asyncDispose closes');
  });

  t.test('contract: closing the backend closes its sandboxes and refuses new ones (SANDBOX_UNAVAILABLE)', async (t) => {
    const backend = await subject.start();
    const sandbox = await backend.create();
    t.teardown(() => sandbox.close());
    await Promise.all([backend.close(), backend.close()]);
    await backend[Symbol.asyncDispose]();
    t.equal(sandbox.alive, false, 'a sandbox it started is closed');
    t.equal((await run(sandbox, snippets.nothing)).exitCode, EXIT_KILLED, 'and answers 137');
    await t.rejects(backend.create(), { code: 'SANDBOX_UNAVAILABLE', status: 503, message: /its backend is closed/ });
  });
}
