import { readFile } from 'node:fs/promises';
import { setTimeout } from 'node:timers/promises';
import t, { type Test } from 'tap';
import {
  CodingEnv,
  createCodingEnvDefinition,
  DEFAULT_CONCISE_BONUS,
  DEFAULT_CONCISE_MAX_CHARS,
  DEFAULT_SAFETY_PENALTY,
  DEFAULT_SYNTAX_ERROR_PENALTY,
  type CodingEnvOptions,
  type RewardTransform,
} from '../../envs/coding_env/index.js';
import type { AnyEnvDefinition, EnvboxServer } from '../../runtime/index.js';
import { createPythonBackend, DEFAULT_PYTHON_PATH, type Isolation, type PythonBackendName } from '../../sandbox/index.js';
import { request, sessionClosed, startTestServer } from '../fixtures/test-server.js';
import { listProcesses, testNoSandboxOutlivesClose, trackSpawnedProcesses, type ProcessRow } from '../fixtures/sandbox-processes.js';

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
function isDescendant(pid: number): boolean {
  for (let row = table.find((r) => r.pid === pid); row !== undefined; row = table.find((r) => r.pid === row!.ppid)) {
    if (row.ppid === process.pid) return true;
  }
  return false;
}

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

/**
 * Register the whole coding_env suite, every server and definition on the Python `backend`, as the
 * tests of the calling file; the last one checks that no sandbox process outlived its close().
 * The observations must be the same on both backends, but for the Python version, the packages and
 * `allow_subprocess`; the tests that differ say how.
 */
export async function codingEnvSuite(backend: PythonBackendName): Promise<void> {
  /** Every child process this file starts; the last test checks no sandbox process outlived its close(). */
  const spawned = trackSpawnedProcesses();

  /** The isolation the sandboxes get on this host, as the backend's own probe finds it. */
  const { isolation } = await createPythonBackend(backend);

  /** coding_env on `backend` with a warm pool of 2, served on a free port; the server (and so the pool) closes when `t` ends. */
  async function codingServer(t: Test, options: CodingEnvOptions = {}): Promise<{ server: EnvboxServer; definition: AnyEnvDefinition }> {
    const definition = await createCodingEnvDefinition({ pythonBackend: backend, poolSize: 2, ...options });
    const server = await startTestServer(t, {}, definition);
    return { server, definition };
  }

  t.test('reset, step and state round trip over HTTP', async (t) => {
    const { server } = await codingServer(t);
    const reset = await request(server, 'POST', '/reset', {});
    t.equal(reset.status, 200);
    t.same(reset.body, {
      observation: { stdout: '', stderr: '', exit_code: 0, result: null, metadata: {} },
      reward: null,
      done: false,
      metadata: {},
    });
    const first = await step(server, 'x = 41');
    t.equal(first.status, 200);
    t.equal(first.body.observation.exit_code, 0);
    t.equal(first.body.observation.result, null);
    const second = await step(server, 'x + 1');
    t.equal(second.status, 200);
    t.equal(second.body.observation.result, '42');
    t.equal(second.body.observation.stdout, '');
    t.equal(second.body.done, false);
    t.same(second.body.metadata.state_lost, false);
    t.same(second.body.metadata.truncated, false);
    t.type(second.body.metadata.duration_ms, 'number');
    const printed = await step(server, "print('hi')");
    t.equal(printed.body.observation.stdout, 'hi\n');
    const state = await request(server, 'GET', '/state');
    t.equal(state.status, 200);
    t.equal(state.body.step_count, 3);
    t.equal(state.body.last_exit_code, 0);
    t.type(state.body.episode_id, 'string');
    const named = await request(server, 'POST', '/reset', { episode_id: 'ep-7' });
    t.equal(named.status, 200);
    t.same((await request(server, 'GET', '/state')).body, { episode_id: 'ep-7', step_count: 0, last_exit_code: null });
  });

  t.test('a step before any reset gets a sandbox of its own', async (t) => {
    const { server } = await codingServer(t);
    const first = await step(server, '2 ** 10');
    t.equal(first.status, 200);
    t.equal(first.body.observation.result, '1024');
    t.equal((await request(server, 'GET', '/state')).body.step_count, 1);
  });

  t.test('reset starts a fresh sandbox: no variable, import or monkeypatch survives it', async (t) => {
    const { server } = await codingServer(t);
    await request(server, 'POST', '/reset', {});
    t.equal((await step(server, 'x = 1')).body.observation.exit_code, 0);
    t.equal((await step(server, 'import json; json.dumps = None')).body.observation.exit_code, 0);
    t.equal((await step(server, "open('left.txt', 'w').write('x')")).body.observation.exit_code, 0);
    await request(server, 'POST', '/reset', {});
    const x = await step(server, 'x');
    t.equal(x.body.observation.exit_code, 1);
    t.match(x.body.observation.stderr, /NameError: name 'x' is not defined\n$/);
    const json = await step(server, 'import json; json.dumps({})');
    t.equal(json.body.observation.exit_code, 0);
    t.equal(json.body.observation.result, "'{}'", 'the monkeypatch went with the old sandbox');
    t.equal((await step(server, "import os; os.path.exists('left.txt')")).body.observation.result, 'False', 'so did its files');
    const state = await request(server, 'GET', '/state');
    t.equal(state.body.step_count, 3);
    t.equal(state.body.last_exit_code, 0);
  });

  t.test('the default reward: safety plus quality', async (t) => {
    const { server } = await codingServer(t);
    await request(server, 'POST', '/reset', {});
    const plain = await step(server, 'print(1)');
    t.ok(close(plain.body.reward, DEFAULT_CONCISE_BONUS), `print(1) earns the concise bonus (${plain.body.reward})`);
    t.same(plain.body.metadata.reward_terms, { safety: 0, quality: DEFAULT_CONCISE_BONUS });
    t.equal(plain.body.metadata.safety_violation, undefined);

    const os = await step(server, 'import os');
    t.ok(close(os.body.reward, DEFAULT_SAFETY_PENALTY + DEFAULT_CONCISE_BONUS), `import os: -1.0 + 0.1 (${os.body.reward})`);
    t.equal(os.body.metadata.safety_violation, '\\bimport\\s+os\\b');
    t.equal(os.body.observation.metadata.safety_violation, '\\bimport\\s+os\\b', 'the note is in the observation too');
    t.equal(os.body.observation.exit_code, 0, 'a reward signal, not a refusal');

    const syntax = await step(server, 'x = = 1');
    t.equal(syntax.body.observation.exit_code, 1);
    t.ok(close(syntax.body.reward, DEFAULT_SYNTAX_ERROR_PENALTY + DEFAULT_CONCISE_BONUS), `x = = 1: -0.2 + 0.1 (${syntax.body.reward})`);
    t.equal(syntax.body.metadata.syntax_error, true);

    const long = `x = 1  # ${'-'.repeat(DEFAULT_CONCISE_MAX_CHARS)}`;
    t.ok(long.length > DEFAULT_CONCISE_MAX_CHARS);
    const verbose = await step(server, long);
    t.equal(verbose.body.observation.exit_code, 0);
    t.equal(verbose.body.reward, 0, 'over 100 characters: no bonus');
    const exact = await step(server, `x = 1  # ${'-'.repeat(DEFAULT_CONCISE_MAX_CHARS - 9)}`);
    t.ok(close(exact.body.reward, DEFAULT_CONCISE_BONUS), 'exactly 100 characters still earns it');

    const runtime = await step(server, '1 / 0');
    t.equal(runtime.body.observation.exit_code, 1);
    t.ok(close(runtime.body.reward, DEFAULT_CONCISE_BONUS), 'a runtime error is not a syntax error');
    t.equal(runtime.body.metadata.syntax_error, undefined);
  });

  // The transforms alone are unit-tested once, in coding-env-transforms.test.ts.
  t.test('the definition uses the given transforms, and only them', async (t) => {
    const constant: RewardTransform = { name: 'constant', apply: () => ({ reward: 0.5, metadata: { note: 'c' } }) };
    const { server } = await codingServer(t, { transforms: [constant] });
    const stepped = await step(server, 'import os');
    t.equal(stepped.body.observation.exit_code, 0);
    t.equal(stepped.body.reward, 0.5, 'the definition uses the given transforms');
    t.same(stepped.body.metadata.reward_terms, { constant: 0.5 });
    t.equal(stepped.body.metadata.note, 'c');
    t.equal(stepped.body.metadata.safety_violation, undefined, 'no default safety term');
  });

  t.test('timeout_s: a busy loop times out (124) and the state is kept', async (t) => {
    const { server } = await codingServer(t);
    await request(server, 'POST', '/reset', {});
    await step(server, 'kept = 5');
    const busy = await step(server, 'while True: pass', { timeout_s: 0.3 });
    t.equal(busy.status, 200);
    t.equal(busy.body.observation.exit_code, 124);
    t.equal(busy.body.metadata.state_lost, false);
    t.match(busy.body.observation.stderr, /TimeoutError: the step ran past its limit of 0\.3 s/);
    t.equal((await step(server, 'kept')).body.observation.result, '5');
    t.equal((await request(server, 'GET', '/state')).body.last_exit_code, 0);
  });

  t.test('a step that has to be killed (137) loses the sandbox; the next step gets a fresh one', async (t) => {
    const { server } = await codingServer(t);
    await request(server, 'POST', '/reset', {});
    await step(server, 'x = 1');
    const killed = await step(server, SWALLOWING_LOOP, { timeout_s: 0.3 });
    t.equal(killed.status, 200, 'a killed sandbox is an observation, not a server error');
    t.equal(killed.body.observation.exit_code, 137);
    t.equal(killed.body.metadata.state_lost, true);
    t.match(killed.body.observation.stderr, /its state is lost and the next step starts in a fresh sandbox/);
    t.equal((await request(server, 'GET', '/state')).body.last_exit_code, 137);
    const next = await step(server, 'x');
    t.equal(next.status, 200);
    t.equal(next.body.observation.exit_code, 1, 'the next step ran, in a fresh sandbox');
    t.match(next.body.observation.stderr, /NameError: name 'x' is not defined\n$/);
    t.equal(next.body.metadata.state_lost, false);
    t.equal((await step(server, '1 + 1')).body.observation.result, '2');
    const health = await request(server, 'GET', '/health');
    t.equal(health.status, 200);
    t.equal(health.body.status, 'healthy');
    t.equal((await request(server, 'GET', '/state')).body.step_count, 4, 'the episode goes on');
  });

  t.test('two sessions run Python at the same time without waiting for each other', async (t) => {
    const { server } = await codingServer(t);
    const a = (await request(server, 'POST', '/sessions')).body.session_id as string;
    const b = (await request(server, 'POST', '/sessions')).body.session_id as string;
    t.not(a, b);
    const inA = { 'x-session-id': a };
    const inB = { 'x-session-id': b };
    t.equal((await request(server, 'POST', '/reset', {}, inA)).status, 200);
    t.equal((await request(server, 'POST', '/reset', {}, inB)).status, 200);
    await step(server, "who = 'a'", {}, inA);
    await step(server, "who = 'b'", {}, inB);
    const slow = step(server, 'import time; time.sleep(1.5)\nwho', {}, inA);
    const fast = step(server, '1 + 1\nwho', {}, inB);
    const first = await Promise.race([slow.then(() => 'A'), fast.then(() => 'B')]);
    t.equal(first, 'B', "B's step finished while A's was still sleeping");
    t.equal((await fast).body.observation.result, "'b'");
    const slowDone = await slow;
    t.equal(slowDone.body.observation.exit_code, 0);
    t.equal(slowDone.body.observation.result, "'a'", 'each session has its own sandbox');
  });

  t.test('GET /health reports the isolation and the pool; /metadata and /schema describe coding_env', async (t) => {
    const { server, definition } = await codingServer(t);
    const health = await request(server, 'GET', '/health');
    t.equal(health.status, 200);
    t.equal(health.body.status, 'healthy');
    t.equal(health.body.env, 'coding_env');
    t.equal(health.body.isolation, isolation);
    if (isolation !== 'namespaces') t.comment(`LOUD: the sandboxes here have no namespaces (isolation ${isolation})`);
    else t.equal(health.body.isolation, 'namespaces');
    t.equal(health.body.python_backend, backend);
    t.equal(health.body.allow_subprocess, false);
    const platform = await step(server, 'import sys; sys.platform');
    t.equal(platform.body.observation.result, `'${PLATFORM[backend]}'`, `the steps really run on the ${backend} backend`);
    t.equal(health.body.pool.size, 2);
    t.ok(health.body.pool.ready + health.body.pool.starting <= 2, `the pool holds at most its size: ${JSON.stringify(health.body.pool)}`);
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
    t.equal((definition.health?.().pool as { ready: number }).ready, 0, "closing the server closed the pool's ready sandboxes");
    t.equal((await request(server, 'GET', '/health').catch((error: Error) => ({ status: error.name }))).status, 'TypeError', 'and it no longer answers');
  });

  for (const transport of ['http', 'ws'] as const) {
    t.test(`CodingEnv over ${transport}: typed round trip`, async (t) => {
      const { server } = await codingServer(t);
      const env = new CodingEnv({ baseUrl: server.url, transport });
      t.teardown(() => env.close());
      const reset = await env.reset();
      t.same(reset.observation, { stdout: '', stderr: '', exit_code: 0, result: null, metadata: {}, reward: null, done: false });
      await env.step({ code: 'x = 41' });
      const answer = await env.step({ code: 'x + 1' });
      t.equal(answer.observation.result, '42');
      t.equal(answer.observation.exit_code, 0);
      t.ok(close(answer.reward, DEFAULT_CONCISE_BONUS));
      t.equal(answer.done, false);
      const state = await env.state();
      t.equal(state.step_count, 2);
      t.equal(state.last_exit_code, 0);
      const timedOut = await env.step({ code: 'while True: pass' }, { timeoutS: 0.3 });
      t.equal(timedOut.observation.exit_code, 124);
      t.equal(timedOut.observation.metadata.state_lost, false);
      t.equal((await env.step({ code: 'x' })).observation.result, '41');
    });
  }

  t.test('a WebSocket session survives an exception, sys.exit, a KeyboardInterrupt and a killed sandbox', async (t) => {
    const { server } = await codingServer(t);
    const env = new CodingEnv({ baseUrl: server.url, transport: 'ws' });
    t.teardown(() => env.close());
    await env.reset();
    await env.step({ code: 'x = 1' });
    const error = await env.step({ code: 'raise ValueError("no")' });
    t.equal(error.observation.exit_code, 1);
    t.match(error.observation.stderr, /ValueError: no\n$/);
    const exit = await env.step({ code: 'import sys; sys.exit(3)' });
    t.equal(exit.observation.exit_code, 3);
    const interrupt = await env.step({ code: 'raise KeyboardInterrupt' });
    t.equal(interrupt.observation.exit_code, 1);
    t.match(interrupt.observation.stderr, /KeyboardInterrupt\n$/);
    t.equal((await env.step({ code: 'x' })).observation.result, '1', 'same connection, same sandbox, state kept');
    const killed = await env.step({ code: SWALLOWING_LOOP }, { timeoutS: 0.3 });
    t.equal(killed.observation.exit_code, 137);
    t.equal(killed.observation.metadata.state_lost, true);
    const after = await env.step({ code: '1 + 1' });
    t.equal(after.observation.result, '2', 'the connection is still up, with a fresh sandbox');
    t.equal((await env.state()).step_count, 7);
  });

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
        t.equal(system.body.observation.result, '0', 'os.system ran');
        t.equal(run.body.observation.result, '0', 'subprocess.run ran');
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
    t.equal(stdlib.body.observation.result, "'[true]'", 'the standard library is there on both');
  });

  t.test('closing a session closes its sandbox', async (t) => {
    const { server } = await codingServer(t);
    const id = (await request(server, 'POST', '/sessions')).body.session_id as string;
    const inSession = { 'x-session-id': id };
    await request(server, 'POST', '/reset', {}, inSession);
    const uid = Number((await step(server, 'import os; os.getuid()', {}, inSession)).body.observation.result);
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
}
