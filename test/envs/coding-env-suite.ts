import { readFile } from 'node:fs/promises';
import { setTimeout } from 'node:timers/promises';
import t, { type Test } from 'tap';
import {
  CodingEnv,
  createCodingEnvDefinition,
  DEFAULT_CONCISE_BONUS,
  DEFAULT_LANGUAGE,
  DEFAULT_CONCISE_MAX_CHARS,
  DEFAULT_SAFETY_PENALTY,
  DEFAULT_SYNTAX_ERROR_PENALTY,
  type CodeResetRequest,
  type CodingEnvOptions,
  type Language,
  type RewardTransform,
} from '../../envs/coding_env/index.js';
import type { AnyEnvDefinition, EnvboxServer } from '../../runtime/index.js';
import {
  createPythonBackend,
  DEFAULT_JS_EPISODES_PER_WORKER,
  DEFAULT_JS_GRACE_MS,
  DEFAULT_PYTHON_PATH,
  type Isolation,
  type PythonBackendName,
} from '../../sandbox/index.js';
import { request, sessionClosed, startTestServer } from '../fixtures/test-server.js';
import { descendsFrom, listProcesses, testNoSandboxOutlivesClose, trackSpawnedProcesses, type ProcessRow } from '../fixtures/sandbox-processes.js';
import { INTERRUPT_ONLY } from '../fixtures/interrupt-grace.js';

/** An inner loop that swallows every KeyboardInterrupt (see test/sandbox/process-sandbox.test.ts for
 * why the inner `pass` has a line of its own). */
const SWALLOWING_LOOP = 'while True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n        pass';

/** What `sys.platform` says in each backend's sandboxes. */
const PLATFORM: Readonly<Record<PythonBackendName, string>> = { process: 'linux', pyodide: 'emscripten' };

const close = (actual: number | null, expected: number): boolean => actual !== null && Math.abs(actual - expected) < 1e-9;

function step(server: EnvboxServer, code: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  return request(server, 'POST', '/step', { action: { code }, ...extra }, headers);
}

let table: ProcessRow[] = [];

/** The host's processes now (and remembered for {@link isDescendant}). */
async function processTable(): Promise<ProcessRow[]> {
  table = await listProcesses();
  return table;
}

/** Whether `pid` descends from this test process, in the last {@link processTable}. */
const isDescendant = (pid: number): boolean => descendsFrom(table, pid);

/** What became of process `pid`: `gone`, `zombie`, `SIGKILL pending` (exiting), or its state. */
async function guestFate(pid: number): Promise<string> {
  let status: string;
  try {
    status = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return 'gone';
  }
  const field = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '';
  if (field('State').startsWith('Z')) return 'zombie';
  const pending = BigInt(`0x${field('ShdPnd') || '0'}`) | BigInt(`0x${field('SigPnd') || '0'}`);
  // Bit n - 1 stands for signal n; SIGKILL is 9.
  if ((pending & (1n << 8n)) !== 0n) return 'SIGKILL pending';
  return `alive (${field('State')})`;
}

/** Whether process `pid` is gone or a zombie within `timeoutMs`. */
async function exitsWithin(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!/^(gone|zombie)$/.test(await guestFate(pid))) {
    if (performance.now() > deadline) return false;
    await setTimeout(5);
  }
  return true;
}

/**
 * Whether a `ps` row is the process that runs a sandbox's steps: CPython running the step runner
 * (`process`), or the Node hosting Pyodide (`pyodide`; `/envbox/node` inside the namespaces, this
 * Node's own path without them).
 */
function isGuest(row: ProcessRow, backend: PythonBackendName, isolation: Isolation): boolean {
  if (backend === 'process') return row.args.startsWith(`${DEFAULT_PYTHON_PATH} `) && row.args.includes('runner.py ');
  const node = isolation === 'namespaces' ? '/envbox/node' : process.execPath;
  return row.args.startsWith(`${node} `) && row.args.includes('guest.mjs ');
}

/** What a suite runs: Python episodes on one backend, or JavaScript (QuickJS) episodes. */
export type CodingEnvSuiteOptions = { language: 'python'; backend: PythonBackendName } | { language: 'javascript' };

/**
 * The Python backend of the JavaScript suite's servers, which keep a Python pool too and serve the
 * Python episodes of the language-switch test: `process` starts the fastest.
 */
const PYTHON_BESIDE_JAVASCRIPT: PythonBackendName = 'process';

/** The other language: the server's default in the tests whose resets name the language. */
const OTHER_LANGUAGE: Readonly<Record<Language, Language>> = { python: 'javascript', javascript: 'python' };

/** How many times longer than a step of another session the sleep of the concurrency test is, at least. */
const SLEEP_OVER_ROUND_TRIP = 20;
/** How many times longer than the requests it must outlast (measured) a JavaScript stall's deadline is, at least. */
const STALL_OVER_REQUESTS = 3;
/** Rounding of the millisecond clocks a kill's deadline and a step's duration are measured with. */
const CLOCK_SLACK_MS = 5;

/**
 * How a test's episodes get the suite's language: as the server's default (resets name none), or
 * named by each reset on a server whose default is the other language.
 */
type LanguageVia = 'default' | 'reset';

/** The code the shared tests run in one language, and what it answers. */
interface Snippets {
  /** The language as test titles name it. */
  title: string;
  /** A statement binding `name` to the literal `value`, with no result; once per name and sandbox. */
  bind: (name: string, value: string) => string;
  /** Writes `hi` and a newline to stdout. */
  printHi: string;
  /** Writes `1`: short and safe, so it earns the concise bonus alone. */
  printOne: string;
  /** What reading the unbound `x` writes to stderr. */
  xUnbound: RegExp;
  /** Runs fine, but the default safety transform flags it with `pattern` (the pattern's source). */
  unsafe: { code: string; pattern: string };
  /** A statement of exactly `length` characters (a comment pads it). */
  padded: (length: number) => string;
  /** Fails at run time, not as a syntax error. */
  runtimeError: string;
  /** Breaks a standard function for the rest of the sandbox's life. */
  monkeypatch: string;
  /** Calls that function; `'{}'` unless it is broken. */
  callPatched: string;
  /** Leaves `what` behind beyond variables; `check` answers `absent` in a fresh sandbox. */
  leftover: { what: string; leave: string; check: string; absent: string };
  /** Never returns, but heeds the interrupt. */
  busyLoop: string;
  /** Two steps that ignore the interrupt at `timeout_s` 0.3, so their sandbox has to be destroyed (137). */
  kills: readonly [string, string];
  /** Sleeps `seconds` (holding nothing another session needs), then evaluates `who`. */
  sleepThenWho: (seconds: number) => string;
  /** Evaluates `1 + 1`, then `who`. */
  addThenWho: string;
  /** A step whose `result` shows which runtime runs the steps. */
  runtime: { code: string; result: string; label: string };
  /** An uncaught exception with the message `no`. */
  exception: { code: string; stderr: RegExp };
  /** Ends the step with exit code 3; `name` is the function's. */
  exit3: { name: string; code: string };
  /** A less usual throw the session survives too; `name` is how the test's title says it. */
  oddThrow: { name: string; code: string; stderr: RegExp };
}

/** The Python snippets; `backend` decides what `sys.platform` says. */
function pythonSnippets(backend: PythonBackendName): Snippets {
  return {
    title: 'Python',
    bind: (name, value) => `${name} = ${value}`,
    printHi: "print('hi')",
    printOne: 'print(1)',
    xUnbound: /NameError: name 'x' is not defined\n$/,
    unsafe: { code: 'import os', pattern: '\\bimport\\s+os\\b' },
    padded: (length) => `x = 1  # ${'-'.repeat(length - 9)}`,
    runtimeError: '1 / 0',
    monkeypatch: 'import json; json.dumps = None',
    callPatched: 'import json; json.dumps({})',
    leftover: { what: 'files', leave: "open('left.txt', 'w').write('x')", check: "import os; os.path.exists('left.txt')", absent: 'False' },
    busyLoop: 'while True: pass',
    kills: [SWALLOWING_LOOP, SWALLOWING_LOOP],
    sleepThenWho: (seconds) => `import time; time.sleep(${seconds})\nwho`,
    addThenWho: '1 + 1\nwho',
    runtime: { code: 'import sys; sys.platform', result: `'${PLATFORM[backend]}'`, label: `the steps really run on the ${backend} backend` },
    exception: { code: 'raise ValueError("no")', stderr: /ValueError: no\n$/ },
    exit3: { name: 'sys.exit', code: 'import sys; sys.exit(3)' },
    oddThrow: { name: 'a KeyboardInterrupt', code: 'raise KeyboardInterrupt', stderr: /KeyboardInterrupt\n$/ },
  };
}

/** The JavaScript snippets. */
const JAVASCRIPT: Snippets = {
  title: 'JavaScript',
  bind: (name, value) => `let ${name} = ${value}`,
  printHi: "console.log('hi')",
  printOne: 'console.log(1)',
  // QuickJS quotes the name ("'x' is not defined"); envbox prints it as V8 does.
  xUnbound: /^ReferenceError: x is not defined\n {4}at <eval> \(step-\d+\.js:1:1\)\n$/,
  unsafe: { code: "eval('1')", pattern: '\\beval\\s*\\(' },
  padded: (length) => `x = 1  // ${'-'.repeat(length - 10)}`,
  runtimeError: 'null.x',
  monkeypatch: 'JSON.stringify = null',
  callPatched: 'JSON.stringify({})',
  leftover: { what: 'globals', leave: "globalThis.left = 'x'", check: 'typeof left', absent: "'undefined'" },
  busyLoop: 'while (true) {}',
  // Both run for seconds inside one native call, where QuickJS does not poll its interrupt.
  kills: ["Array(1e8).join('')", 'const a = []; a.length = 2 ** 32 - 1; a.includes(1)'],
  sleepThenWho: (seconds) => `await new Promise((r) => setTimeout(r, ${seconds * 1000})); who`,
  addThenWho: '1 + 1; who',
  runtime: { code: 'typeof InternalError', result: "'function'", label: 'the steps really run in QuickJS (V8 has no InternalError)' },
  exception: { code: "throw new RangeError('no')", stderr: /^RangeError: no\n {4}at <eval> \(step-\d+\.js:1:\d+\)\n$/ },
  exit3: { name: 'process.exit', code: 'process.exit(3)' },
  oddThrow: { name: 'a thrown string', code: "throw 'no'", stderr: /^Uncaught 'no'\n$/ },
};

/**
 * Register the coding_env suite as the tests of the calling file: the tests every language shares,
 * run with `suite`'s snippets, then the ones of its language. The Python suite runs every server
 * and definition on its backend, and its last test checks that no sandbox process outlived its
 * close(). The observations must be the same on both Python backends, but for the Python version,
 * the packages and `allow_subprocess`; the tests that differ say how.
 */
export async function codingEnvSuite(suite: CodingEnvSuiteOptions): Promise<void> {
  const { language } = suite;
  const snippets = suite.language === 'python' ? pythonSnippets(suite.backend) : JAVASCRIPT;
  const pythonBackend = suite.language === 'python' ? suite.backend : PYTHON_BESIDE_JAVASCRIPT;

  /** Every child process this file starts; the Python suite's last test checks no sandbox process outlived its close(). */
  const spawned = suite.language === 'python' ? trackSpawnedProcesses() : [];

  /** The isolation the Python sandboxes get on this host, as the backend's own probe finds it. */
  const { isolation } = await createPythonBackend(pythonBackend);

  /**
   * coding_env with warm pools of 2, served on a free port; the server (and so the pools) closes
   * when `t` ends. `resetBody` starts an episode in the suite's language, as `via` says.
   */
  async function codingServer(
    t: Test,
    { via = 'default', ...options }: CodingEnvOptions & { via?: LanguageVia } = {},
  ): Promise<{ server: EnvboxServer; definition: AnyEnvDefinition; resetBody: CodeResetRequest }> {
    const defaultLanguage = via === 'default' ? language : OTHER_LANGUAGE[language];
    const definition = await createCodingEnvDefinition({
      pythonBackend,
      poolSize: 2,
      // Left out when it is the default anyway, so that the default is what gets tested.
      ...(defaultLanguage === DEFAULT_LANGUAGE ? {} : { defaultLanguage }),
      ...options,
    });
    const server = await startTestServer(t, {}, definition);
    return { server, definition, resetBody: via === 'reset' ? { language } : {} };
  }

  t.test('reset, step and state round trip over HTTP', async (t) => {
    const { server, resetBody } = await codingServer(t, { via: 'reset' });
    const reset = await request(server, 'POST', '/reset', resetBody);
    t.equal(reset.status, 200);
    t.same(reset.body, {
      observation: { stdout: '', stderr: '', exit_code: 0, metadata: { result: null, language } },
      reward: null,
      done: false,
      metadata: { result: null, language },
    });
    const first = await step(server, snippets.bind('x', '41'));
    t.equal(first.status, 200);
    t.equal(first.body.observation.exit_code, 0);
    t.equal(first.body.observation.metadata.result, null);
    const second = await step(server, 'x + 1');
    t.equal(second.status, 200);
    t.equal(second.body.observation.metadata.result, '42');
    t.equal(second.body.observation.stdout, '');
    t.equal(second.body.done, false);
    t.same(second.body.metadata.state_lost, false);
    t.same(second.body.metadata.truncated, false);
    t.type(second.body.metadata.duration_ms, 'number');
    const printed = await step(server, snippets.printHi);
    t.equal(printed.body.observation.stdout, 'hi\n');
    const state = await request(server, 'GET', '/state');
    t.equal(state.status, 200);
    t.equal(state.body.step_count, 3);
    t.equal(state.body.last_exit_code, 0);
    t.type(state.body.episode_id, 'string');
    t.equal(state.body.language, language);
    const named = await request(server, 'POST', '/reset', { ...resetBody, episode_id: 'ep-7' });
    t.equal(named.status, 200);
    t.same((await request(server, 'GET', '/state')).body, { episode_id: 'ep-7', step_count: 0, last_exit_code: 0, language });
  });

  t.test('a step before any reset gets a sandbox of its own', async (t) => {
    const { server } = await codingServer(t);
    t.equal((await request(server, 'GET', '/state')).body.language, language, "before any reset, the state names the server's default");
    const first = await step(server, '2 ** 10');
    t.equal(first.status, 200);
    t.equal(first.body.observation.metadata.result, '1024');
    t.equal((await request(server, 'GET', '/state')).body.step_count, 1);
  });

  t.test(`reset starts a fresh sandbox: no variable, ${snippets.leftover.what} or monkeypatch survives it`, async (t) => {
    const { server, resetBody } = await codingServer(t, { via: 'reset' });
    await request(server, 'POST', '/reset', resetBody);
    t.equal((await step(server, snippets.bind('x', '1'))).body.observation.exit_code, 0);
    t.equal((await step(server, snippets.monkeypatch)).body.observation.exit_code, 0);
    t.equal((await step(server, snippets.leftover.leave)).body.observation.exit_code, 0);
    await request(server, 'POST', '/reset', resetBody);
    const x = await step(server, 'x');
    t.equal(x.body.observation.exit_code, 1);
    t.match(x.body.observation.stderr, snippets.xUnbound);
    const patched = await step(server, snippets.callPatched);
    t.equal(patched.body.observation.exit_code, 0);
    t.equal(patched.body.observation.metadata.result, "'{}'", 'the monkeypatch went with the old sandbox');
    t.equal((await step(server, snippets.leftover.check)).body.observation.metadata.result, snippets.leftover.absent, `so did its ${snippets.leftover.what}`);
    const state = await request(server, 'GET', '/state');
    t.equal(state.body.step_count, 3);
    t.equal(state.body.last_exit_code, 0);
    t.equal(state.body.language, language);
  });

  t.test('the default reward: safety plus quality', async (t) => {
    const { server, resetBody } = await codingServer(t);
    await request(server, 'POST', '/reset', resetBody);
    const plain = await step(server, snippets.printOne);
    t.ok(close(plain.body.reward, DEFAULT_CONCISE_BONUS), `${snippets.printOne} earns the concise bonus (${plain.body.reward})`);
    t.same(plain.body.metadata.reward_terms, { safety: 0, quality: DEFAULT_CONCISE_BONUS });
    t.equal(plain.body.metadata.safety_violation, undefined);

    const unsafe = await step(server, snippets.unsafe.code);
    t.ok(close(unsafe.body.reward, DEFAULT_SAFETY_PENALTY + DEFAULT_CONCISE_BONUS), `${snippets.unsafe.code}: -1.0 + 0.1 (${unsafe.body.reward})`);
    t.equal(unsafe.body.metadata.safety_violation, snippets.unsafe.pattern);
    t.equal(unsafe.body.observation.metadata.safety_violation, snippets.unsafe.pattern, 'the note is in the observation too');
    t.equal(unsafe.body.observation.exit_code, 0, 'a reward signal, not a refusal');

    const syntax = await step(server, 'x = = 1');
    t.equal(syntax.body.observation.exit_code, 1);
    t.ok(close(syntax.body.reward, DEFAULT_SYNTAX_ERROR_PENALTY + DEFAULT_CONCISE_BONUS), `x = = 1: -0.2 + 0.1 (${syntax.body.reward})`);
    t.equal(syntax.body.metadata.syntax_error, true);

    const long = snippets.padded(DEFAULT_CONCISE_MAX_CHARS + 1);
    t.ok(long.length > DEFAULT_CONCISE_MAX_CHARS);
    const verbose = await step(server, long);
    t.equal(verbose.body.observation.exit_code, 0);
    t.equal(verbose.body.reward, 0, `over ${DEFAULT_CONCISE_MAX_CHARS} characters: no bonus`);
    const exactly = snippets.padded(DEFAULT_CONCISE_MAX_CHARS);
    t.equal(exactly.length, DEFAULT_CONCISE_MAX_CHARS);
    const exact = await step(server, exactly);
    t.equal(exact.body.observation.exit_code, 0);
    t.ok(close(exact.body.reward, DEFAULT_CONCISE_BONUS), `exactly ${DEFAULT_CONCISE_MAX_CHARS} characters still earns it`);

    const runtime = await step(server, snippets.runtimeError);
    t.equal(runtime.body.observation.exit_code, 1);
    t.ok(close(runtime.body.reward, DEFAULT_CONCISE_BONUS), 'a runtime error is not a syntax error');
    t.equal(runtime.body.metadata.syntax_error, undefined);
  });

  // The transforms alone are unit-tested once, in coding-env-transforms.test.ts.
  t.test('the definition uses the given transforms, and only them', async (t) => {
    const constant: RewardTransform = { name: 'constant', apply: () => ({ reward: 0.5, metadata: { note: 'c' } }) };
    const { server } = await codingServer(t, { transforms: [constant] });
    const stepped = await step(server, snippets.unsafe.code);
    t.equal(stepped.body.observation.exit_code, 0);
    t.equal(stepped.body.reward, 0.5, 'the definition uses the given transforms');
    t.same(stepped.body.metadata.reward_terms, { constant: 0.5 });
    t.equal(stepped.body.metadata.note, 'c');
    t.equal(stepped.body.metadata.safety_violation, undefined, 'no default safety term');
  });

  t.test('timeout_s: a busy loop times out (124) and the state is kept', async (t) => {
    const { server, resetBody } = await codingServer(t, { via: 'reset', ...INTERRUPT_ONLY });
    await request(server, 'POST', '/reset', resetBody);
    await step(server, snippets.bind('kept', '5'));
    const busy = await step(server, snippets.busyLoop, { timeout_s: 0.3 });
    t.equal(busy.status, 200);
    t.equal(busy.body.observation.exit_code, 124);
    t.equal(busy.body.metadata.state_lost, false);
    t.match(busy.body.observation.stderr, /TimeoutError: the step ran past its limit of 0\.3 s/);
    t.equal((await step(server, 'kept')).body.observation.metadata.result, '5');
    t.equal((await request(server, 'GET', '/state')).body.last_exit_code, 0);
  });

  t.test('a step that has to be killed (137) loses the sandbox; the next step gets a fresh one', async (t) => {
    // The reset names the language, so the fresh sandbox must be of the episode's language, not the server's default.
    const { server, resetBody } = await codingServer(t, { via: 'reset' });
    await request(server, 'POST', '/reset', resetBody);
    await step(server, snippets.bind('x', '1'));
    const killed = await step(server, snippets.kills[0], { timeout_s: 0.3 });
    t.equal(killed.status, 200, 'a killed sandbox is an observation, not a server error');
    t.equal(killed.body.observation.exit_code, 137);
    t.equal(killed.body.metadata.state_lost, true);
    t.match(killed.body.observation.stderr, /its state is lost and the next step starts in a fresh sandbox/);
    t.equal((await request(server, 'GET', '/state')).body.last_exit_code, 137);
    const next = await step(server, 'x');
    t.equal(next.status, 200);
    t.equal(next.body.observation.exit_code, 1, 'the next step ran, in a fresh sandbox');
    t.match(next.body.observation.stderr, snippets.xUnbound);
    t.equal(next.body.metadata.state_lost, false);
    t.equal((await step(server, '1 + 1')).body.observation.metadata.result, '2');
    const health = await request(server, 'GET', '/health');
    t.equal(health.status, 200);
    t.equal(health.body.status, 'healthy');
    if (language === 'javascript') t.equal(health.body.javascript.terminated_workers, 1, 'the stalled worker thread was terminated');
    const state = await request(server, 'GET', '/state');
    t.equal(state.body.step_count, 4, 'the episode goes on');
    t.equal(state.body.language, language, 'in its own language');
  });

  t.test(`two sessions run ${snippets.title} at the same time without waiting for each other`, async (t) => {
    const { server, resetBody } = await codingServer(t);
    const a = (await request(server, 'POST', '/sessions')).body.session_id as string;
    const b = (await request(server, 'POST', '/sessions')).body.session_id as string;
    t.not(a, b);
    const inA = { 'x-session-id': a };
    const inB = { 'x-session-id': b };
    t.equal((await request(server, 'POST', '/reset', resetBody, inA)).status, 200);
    t.equal((await request(server, 'POST', '/reset', resetBody, inB)).status, 200);
    await step(server, snippets.bind('who', "'a'"), {}, inA);
    const started = performance.now();
    await step(server, snippets.bind('who', "'b'"), {}, inB);
    // A sleeps far longer than a step of B takes on this machine now (at least 1.5 s), so that B
    // finishing first proves A did not hold it up, not that the machine was fast.
    const sleepS = Math.max(1.5, Math.ceil((SLEEP_OVER_ROUND_TRIP * (performance.now() - started)) / 100) / 10);
    const slow = step(server, snippets.sleepThenWho(sleepS), {}, inA);
    const fast = step(server, snippets.addThenWho, {}, inB);
    const first = await Promise.race([slow.then(() => 'A'), fast.then(() => 'B')]);
    t.equal(first, 'B', "B's step finished while A's was still sleeping");
    t.equal((await fast).body.observation.metadata.result, "'b'");
    const slowDone = await slow;
    t.equal(slowDone.body.observation.exit_code, 0);
    t.equal(slowDone.body.observation.metadata.result, "'a'", 'each session has its own sandbox');
  });

  t.test('GET /health reports the isolation and the pool; /metadata and /schema describe coding_env', async (t) => {
    const { server, definition } = await codingServer(t);
    const health = await request(server, 'GET', '/health');
    t.equal(health.status, 200);
    t.equal(health.body.status, 'healthy');
    t.equal(health.body.env, 'coding_env');
    t.equal(health.body.default_language, language);
    t.equal(health.body.isolation, isolation);
    if (suite.language === 'python') {
      if (isolation !== 'namespaces') t.comment(`LOUD: the sandboxes here have no namespaces (isolation ${isolation})`);
      else t.equal(health.body.isolation, 'namespaces');
      t.equal(health.body.python_backend, suite.backend);
      t.equal(health.body.allow_subprocess, false);
    } else {
      t.equal(health.body.javascript.backend, 'quickjs');
      t.equal(health.body.javascript.isolation, 'wasm');
      t.equal(health.body.javascript.episodes_per_worker, DEFAULT_JS_EPISODES_PER_WORKER);
      t.equal(health.body.javascript.terminated_workers, 0);
      t.type(health.body.javascript.workers, 'number');
      t.type(health.body.javascript.episodes, 'number');
    }
    const runtime = await step(server, snippets.runtime.code);
    t.equal(runtime.body.observation.metadata.result, snippets.runtime.result, snippets.runtime.label);
    const pool = language === 'python' ? health.body.pool : health.body.javascript.pool;
    t.equal(pool.size, 2);
    t.ok(pool.ready + pool.starting <= 2, `the pool holds at most its size: ${JSON.stringify(pool)}`);
    const metadata = await request(server, 'GET', '/metadata');
    t.equal(metadata.body.name, 'coding_env');
    t.match(metadata.body.readme, /coding_env/);
    const schema = await request(server, 'GET', '/schema');
    t.equal(schema.body.action.properties.code.type, 'string');
    t.same(schema.body.action.required, ['code']);
    const bad = await request(server, 'POST', '/step', { action: { code: 1 } });
    t.equal(bad.status, 422);
    t.equal(bad.body.error.code, 'INVALID_REQUEST');

    await server.close(100);
    // Starts still in flight are aborted by the pool's signal and closed when they settle.
    const closed = definition.health?.() as { pool: { ready: number }; javascript: { pool: { ready: number }; workers: number } };
    t.equal((language === 'python' ? closed.pool : closed.javascript.pool).ready, 0, "closing the server closed the pool's ready sandboxes");
    if (language === 'javascript') t.equal(closed.javascript.workers, 0, 'and terminated the worker threads');
    t.equal((await request(server, 'GET', '/health').catch((error: Error) => ({ status: error.name }))).status, 'TypeError', 'and it no longer answers');
  });

  for (const [transport, via] of [['http', 'reset'], ['ws', 'default']] as const) {
    t.test(`CodingEnv over ${transport}: typed round trip`, async (t) => {
      const { server, resetBody } = await codingServer(t, { via, ...INTERRUPT_ONLY });
      const env = new CodingEnv({ baseUrl: server.url, transport });
      t.teardown(() => env.close());
      const reset = await env.reset(resetBody);
      t.same(reset.observation, { stdout: '', stderr: '', exit_code: 0, metadata: { result: null, language }, reward: null, done: false });
      await env.step({ code: snippets.bind('x', '41') });
      const answer = await env.step({ code: 'x + 1' });
      t.equal(answer.observation.metadata.result, '42');
      t.equal(answer.observation.exit_code, 0);
      t.ok(close(answer.reward, DEFAULT_CONCISE_BONUS));
      t.equal(answer.done, false);
      const state = await env.state();
      t.equal(state.step_count, 2);
      t.equal(state.last_exit_code, 0);
      t.equal(state.language, language);
      const timedOut = await env.step({ code: snippets.busyLoop }, { timeoutS: 0.3 });
      t.equal(timedOut.observation.exit_code, 124);
      t.equal(timedOut.observation.metadata.state_lost, false);
      t.equal((await env.step({ code: 'x' })).observation.metadata.result, '41');
    });
  }

  t.test(`a WebSocket session survives an exception, ${snippets.exit3.name}, ${snippets.oddThrow.name} and a killed sandbox`, async (t) => {
    // Another grace than the default for the JavaScript worker threads (the Python sandboxes ignore
    // it): longer, so that the kill coming no sooner proves it applied, whatever the machine's speed
    // (timers never fire early; how late they fire depends on the load).
    const graceMs = DEFAULT_JS_GRACE_MS + 2_000;
    const { server, resetBody } = await codingServer(t, { via: 'reset', javascript: { graceMs } });
    const env = new CodingEnv({ baseUrl: server.url, transport: 'ws' });
    t.teardown(() => env.close());
    await env.reset(resetBody);
    await env.step({ code: snippets.bind('x', '1') });
    const error = await env.step({ code: snippets.exception.code });
    t.equal(error.observation.exit_code, 1);
    t.match(error.observation.stderr, snippets.exception.stderr);
    const exit = await env.step({ code: snippets.exit3.code });
    t.equal(exit.observation.exit_code, 3);
    const odd = await env.step({ code: snippets.oddThrow.code });
    t.equal(odd.observation.exit_code, 1);
    t.match(odd.observation.stderr, snippets.oddThrow.stderr);
    t.equal((await env.step({ code: 'x' })).observation.metadata.result, '1', 'same connection, same sandbox, state kept');
    const killed = await env.step({ code: snippets.kills[1] }, { timeoutS: 0.3 });
    t.equal(killed.observation.exit_code, 137);
    t.equal(killed.observation.metadata.state_lost, true);
    if (language === 'javascript') {
      const durationMs = killed.observation.metadata.duration_ms as number;
      // A few ms for the millisecond clocks of the deadline and the duration.
      t.ok(durationMs >= 300 + graceMs - CLOCK_SLACK_MS, `the worker was terminated ${graceMs} ms past the deadline, not ${DEFAULT_JS_GRACE_MS} (${durationMs} ms)`);
    }
    const after = await env.step({ code: '1 + 1' });
    t.equal(after.observation.metadata.result, '2', 'the connection is still up, with a fresh sandbox');
    const state = await env.state();
    t.equal(state.step_count, 7);
    t.equal(state.language, language);
  });

  if (suite.language === 'python') {
    const { backend } = suite;

    t.test('allow_subprocess: honoured by process where namespaces contain it, never by pyodide', async (t) => {
      const { server: denied } = await codingServer(t);
      const { server: allowed } = await codingServer(t, { sandbox: { allowSubprocess: true } });
      // Asked for, subprocesses need namespaces to contain them; WebAssembly has no processes at all.
      const honoured = backend === 'process' && isolation === 'namespaces';
      t.equal((await request(denied, 'GET', '/health')).body.allow_subprocess, false);
      t.equal((await request(allowed, 'GET', '/health')).body.allow_subprocess, honoured);
      for (const [server, works] of [[denied, false], [allowed, honoured]] as const) {
        const system = await step(server, "import os; os.system('true')");
        const run = await step(server, "import subprocess; subprocess.run(['true']).returncode");
        if (works) {
          t.equal(system.body.observation.metadata.result, '0', 'os.system ran');
          t.equal(run.body.observation.metadata.result, '0', 'subprocess.run ran');
          continue;
        }
        t.equal(system.body.observation.exit_code, 1);
        t.match(system.body.observation.stderr, /\nPermissionError: envbox: os\.system is not allowed in this sandbox\n$/);
        t.equal(run.body.observation.exit_code, 1);
        // The same refusal on both (on Pyodide the runner raises the audit event before Pyodide's own refusal).
        t.match(run.body.observation.stderr, /\nPermissionError: envbox: subprocess\.Popen is not allowed in this sandbox\n$/);
      }
    });

    t.test('a missing module is a ModuleNotFoundError; on pyodide a note says where packages are', async (t) => {
      const { server } = await codingServer(t);
      const missing = await step(server, 'import envbox_no_such_module');
      t.equal(missing.body.observation.exit_code, 1);
      const error = "ModuleNotFoundError: No module named 'envbox_no_such_module'\n";
      const note = 'envbox: the pyodide backend has the Python standard library only; third-party packages need the process backend (envbox serve --python-backend process).\n';
      t.ok(missing.body.observation.stderr.endsWith(backend === 'pyodide' ? error + note : error), missing.body.observation.stderr);
      const stdlib = await step(server, 'import json, sqlite3, decimal; json.dumps([decimal.Decimal(1).is_finite()])');
      t.equal(stdlib.body.observation.metadata.result, "'[true]'", 'the standard library is there on both');
    });

    t.test('closing a session closes its sandbox', async (t) => {
      const { server } = await codingServer(t);
      const id = (await request(server, 'POST', '/sessions')).body.session_id as string;
      const inSession = { 'x-session-id': id };
      await request(server, 'POST', '/reset', {}, inSession);
      const uid = Number((await step(server, 'import os; os.getuid()', {}, inSession)).body.observation.metadata.result);
      const runners = (await processTable()).filter((row) => row.uid === uid && isGuest(row, backend, isolation) && isDescendant(row.pid));
      t.equal(runners.length, 1, `one ${backend} guest of uid ${uid} belongs to this server`);
      const closed = sessionClosed(server, id);
      const deleted = await request(server, 'DELETE', `/sessions/${id}`);
      t.equal(deleted.status, 200);
      t.same(deleted.body, { session_id: id, closed: true });
      const [session, reason] = await closed;
      t.equal(reason, 'client');
      // close() is idempotent and resolves once the environment (and so its sandbox) is closed: by
      // then the guest has had its SIGKILL. The Node hosting Pyodide has threads to tear down, so it
      // can still show as running for a few milliseconds after that; the CPython runner is a zombie.
      await session.close('client');
      const pid = runners[0]?.pid ?? -1;
      t.match(await guestFate(pid), /^(gone|zombie|SIGKILL pending)$/, `the session's guest (pid ${pid}) was killed by the time close() resolved`);
      t.ok(await exitsWithin(pid, 1000), `and it exits at once: ${await guestFate(pid)}`);
      const after = await step(server, '1', {}, inSession);
      t.equal(after.status, 404);
      t.equal(after.body.error.code, 'SESSION_NOT_FOUND');
    });

    testNoSandboxOutlivesClose(t, spawned);
    return;
  }

  t.test('the state names the language; a reset picks it, another switches back; an unknown one is a 422', async (t) => {
    // A server whose default is Python: the episode's language comes from the reset.
    const { server } = await codingServer(t, { via: 'reset' });
    t.equal((await request(server, 'GET', '/health')).body.default_language, 'python');
    t.equal((await request(server, 'GET', '/state')).body.language, 'python', 'before any reset, the next episode is Python');
    // `[1] + [2]` tells the languages apart: a list in Python, a string in JavaScript.
    t.equal((await request(server, 'POST', '/reset', { language: 'javascript' })).status, 200);
    t.equal((await request(server, 'GET', '/state')).body.language, 'javascript');
    t.equal((await step(server, '[1] + [2]')).body.observation.metadata.result, "'12'", 'the episode runs JavaScript');
    t.equal((await request(server, 'POST', '/reset', { language: 'python' })).status, 200);
    t.equal((await request(server, 'GET', '/state')).body.language, 'python', 'a Python reset switches back');
    t.equal((await step(server, '[1] + [2]')).body.observation.metadata.result, '[1, 2]', 'the episode runs Python');
    const before = (await request(server, 'GET', '/state')).body;
    t.same(before, { episode_id: before.episode_id, step_count: 1, last_exit_code: 0, language: 'python' });
    const ruby = await request(server, 'POST', '/reset', { language: 'ruby' });
    t.equal(ruby.status, 422);
    t.equal(ruby.body.error.code, 'INVALID_REQUEST');
    t.match(ruby.body.error.message, /language/, 'the message names the field');
    t.same((await request(server, 'GET', '/state')).body, before, 'the refused reset changed nothing');
    t.equal((await request(server, 'POST', '/reset', { language: 'javascript' })).status, 200);
    t.equal((await request(server, 'POST', '/reset', {})).status, 200);
    t.equal((await request(server, 'GET', '/state')).body.language, 'python', "a reset that names no language takes the server's default, not the last episode's");
    t.equal((await step(server, '[1] + [2]')).body.observation.metadata.result, '[1, 2]');
  });

  t.test('JavaScript steps: declarations persist, console streams, top-level await and timers, an uncatchable process.exit', async (t) => {
    const { server } = await codingServer(t);
    const results: (string | null)[] = [];
    for (const code of ['var v = 1', 'const c = 2', 'function f() { return v + c }', 'class K { get n() { return f() } }', 'new K().n', 'undefined']) {
      results.push((await step(server, code)).body.observation.metadata.result);
    }
    t.same(results, [null, null, null, null, '3', null], 'var, const, functions and classes persist; statements and undefined have no result');
    const streams = await step(server, "console.log('o'); console.info('i'); console.debug('d'); console.error('e'); console.warn('w')");
    t.equal(streams.body.observation.stdout, 'o\ni\nd\n');
    t.equal(streams.body.observation.stderr, 'e\nw\n');
    const awaited = await step(server, 'await new Promise((r) => setTimeout(r, 50)); c');
    t.equal(awaited.body.observation.metadata.result, '2');
    const timer = await step(server, "setTimeout(() => console.log('later'), 50); 'now'");
    t.equal(timer.body.observation.metadata.result, "'now'");
    t.equal(timer.body.observation.stdout, 'later\n', 'the step waits for its pending timers');
    const exit = await step(server, "try { process.exit(4) } catch { console.log('caught') } finally { console.log('finally') }");
    t.equal(exit.body.observation.exit_code, 4);
    t.equal(exit.body.observation.stdout, '', 'neither catch nor finally runs');
    t.equal((await step(server, 'c')).body.observation.metadata.result, '2', 'the state is kept');
    t.equal((await step(server, "typeof require + ' ' + Object.keys(process).join()")).body.observation.metadata.result, "'undefined exit,argv,env'", 'no require; process has only exit, argv and env');
    const uncaught = await step(server, 'y');
    t.equal(uncaught.body.observation.exit_code, 1);
    t.equal(uncaught.body.observation.stderr, "ReferenceError: y is not defined\n    at <eval> (step-13.js:1:1)\n");
  });

  t.test('no JavaScript step stalls the server: it answers while a guest holds its worker thread past the deadline', async (t) => {
    const { server } = await codingServer(t);
    await request(server, 'POST', '/reset', {});
    let settled = false;
    // The stall outlasts the requests below (its deadline is 3 times what they take on this machine
    // now, at least 0.5 s), so that it still running after them shows the server was not held up.
    const rounds = 5;
    const round = async (): Promise<void> => {
      await request(server, 'GET', '/health');
      await request(server, 'GET', '/schema');
    };
    await round(); // the first builds what later ones reuse
    const started = performance.now();
    await round();
    const timeoutS = Math.max(0.5, Math.ceil((rounds * STALL_OVER_REQUESTS * (performance.now() - started)) / 100) / 10);
    // includes() over 2^32 - 1 holes never checks QuickJS's interrupt handler (> 20 s natively).
    const stalled = step(server, 'const a = []; a.length = 2 ** 32 - 1; a.includes(1)', { timeout_s: timeoutS }).finally(() => (settled = true));
    for (let i = 0; i < rounds; i++) {
      const health = await request(server, 'GET', '/health');
      t.equal(health.status, 200, `GET /health answered during the stall (${i + 1})`);
      t.equal((await request(server, 'GET', '/schema')).status, 200);
    }
    t.equal(settled, false, 'the stalled step was still running while the server answered');
    const killed = await stalled;
    t.equal(killed.body.observation.exit_code, 137, 'its worker was terminated');
    t.equal((await step(server, '2 ** 5')).body.observation.metadata.result, '32', 'and the episode goes on in a fresh context');
  });

  t.test('closing a session closes its sandbox', async (t) => {
    const { server, definition } = await codingServer(t);
    const javascript = () => (definition.health?.() as { javascript: { episodes: number; pool: { ready: number; starting: number; size: number } } }).javascript;
    const id = (await request(server, 'POST', '/sessions')).body.session_id as string;
    const inSession = { 'x-session-id': id };
    await request(server, 'POST', '/reset', {}, inSession);
    t.equal((await step(server, 'let x = 1', {}, inSession)).body.observation.exit_code, 0);
    // The pool's sandboxes are episodes too: wait until it is full again after the reset took one.
    const deadline = performance.now() + 30_000;
    while (javascript().pool.ready < javascript().pool.size || javascript().pool.starting > 0) {
      if (performance.now() > deadline) break;
      await setTimeout(10);
    }
    t.same(javascript().pool, { ready: 2, starting: 0, size: 2 }, 'the pool is full again');
    const before = (await request(server, 'GET', '/health')).body.javascript.episodes as number;
    const closed = sessionClosed(server, id);
    const deleted = await request(server, 'DELETE', `/sessions/${id}`);
    t.equal(deleted.status, 200);
    t.same(deleted.body, { session_id: id, closed: true });
    const [session, reason] = await closed;
    t.equal(reason, 'client');
    await session.close('client');
    t.equal((await request(server, 'GET', '/health')).body.javascript.episodes, before - 1, `the session's episode was closed (${before} before)`);
    const after = await step(server, '1', {}, inSession);
    t.equal(after.status, 404);
    t.equal(after.body.error.code, 'SESSION_NOT_FOUND');
  });
}
