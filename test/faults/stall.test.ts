/**
 * Fault: a step that ignores the interrupt and holds its sandbox past the deadline (a C-level loop
 * or a loop that swallows KeyboardInterrupt in Python; a native QuickJS call in JavaScript, which
 * is also JavaScript's "killed sandbox": its worker thread is terminated).
 * Documented outcome (DESIGN.md): a hard kill after the deadline and its grace, exit 137 with
 * `state_lost: true`; the session goes on in a fresh sandbox; other sessions' steps are answered
 * DURING the stall (shown by the order in which the answers come, not by timing); nothing leaks.
 * Existing coverage: test/envs/coding-env-suite.ts has the 137 of a swallowed interrupt at 0.3 s
 * and, for JavaScript, /health answering during a stall; here other sessions' steps (both
 * languages, HTTP and WebSocket) are answered while the stall runs, and nothing leaks afterwards.
 */
import t, { type Test } from 'tap';
import { CodingEnv } from '../../envs/coding_env/index.js';
import type { EnvboxServer } from '../../runtime/index.js';
import type { PythonBackendName } from '../../sandbox/index.js';
import { assertNoLeaks, baseline, health, sandboxOfUid, startFaultServer } from '../fixtures/fault-server.js';
import { burningCpu } from '../fixtures/guest-cpu.js';
import { testNoSandboxOutlivesClose, trackSpawnedProcesses } from '../fixtures/sandbox-processes.js';
import { request } from '../fixtures/test-server.js';

const spawned = trackSpawnedProcesses();

/** The stalled step's deadline: long enough that the bystanders' quick steps fit in it on a loaded machine. */
const STALL_TIMEOUT_S = 5;
/** How long past its deadline a JavaScript step may hold its worker before it is terminated. */
const JS_GRACE_MS = 200;

/** A loop that swallows every KeyboardInterrupt (see test/sandbox/process-sandbox.test.ts for the inner `pass` on a line of its own). */
const SWALLOWING_LOOP = 'while True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n        pass';

function step(server: EnvboxServer, id: string, code: string, timeoutS?: number) {
  return request(server, 'POST', '/step', { action: { code }, ...(timeoutS === undefined ? {} : { timeout_s: timeoutS }) }, { 'x-session-id': id });
}

/** A new HTTP session with an episode of `language`; deleted when `t` ends, if still open. */
async function openSession(t: Test, server: EnvboxServer, language: 'python' | 'javascript'): Promise<string> {
  const created = await request(server, 'POST', '/sessions');
  t.equal(created.status, 201, 'POST /sessions');
  const id = created.body.session_id as string;
  t.teardown(() => request(server, 'DELETE', `/sessions/${id}`).catch(() => undefined));
  t.equal((await request(server, 'POST', '/reset', { language }, { 'x-session-id': id })).status, 200, `${language} reset`);
  return id;
}

/**
 * The shared part: `stall` runs in its own session; while it runs, three rounds of steps of a
 * Python session over HTTP and a JavaScript session over WebSocket are answered; the order of the
 * answers shows they came during the stall. `started` resolves once the stall is known to run.
 */
async function stallWithBystanders(
  t: Test,
  server: EnvboxServer,
  stalled: { id: string; code: string; started: () => Promise<void> },
): Promise<{ observation: any }> {
  const python = await openSession(t, server, 'python');
  t.equal((await step(server, python, 'x = 41')).body.observation.exit_code, 0);
  const javascript = new CodingEnv({ baseUrl: server.url, transport: 'ws' });
  t.teardown(() => javascript.close());
  await javascript.reset({ language: 'javascript' });
  await javascript.step({ code: 'let y = 7' });

  const events: string[] = [];
  const stall = step(server, stalled.id, stalled.code, STALL_TIMEOUT_S).finally(() => events.push('stalled step answered'));
  await stalled.started();
  const expected: string[] = [];
  for (let round = 1; round <= 3; round += 1) {
    const py = await step(server, python, 'x + 1');
    t.equal(py.body.observation.metadata.result, '42', `Python bystander answered during the stall (round ${round})`);
    events.push(`python ${round}`);
    const js = await javascript.step({ code: 'y * 6' });
    t.equal(js.observation.metadata.result, '42', `JavaScript bystander answered during the stall (round ${round})`);
    events.push(`javascript ${round}`);
    expected.push(`python ${round}`, `javascript ${round}`);
  }
  const answer = await stall;
  t.same(events, [...expected, 'stalled step answered'], 'every bystander step was answered before the stalled one');
  t.equal(answer.status, 200);
  const { observation } = answer.body;
  t.equal(observation.exit_code, 137, 'the stalled step was hard-killed: 137');
  t.equal(observation.metadata.state_lost, true);
  t.ok(observation.metadata.duration_ms >= STALL_TIMEOUT_S * 1000, `not before its deadline (${observation.metadata.duration_ms} ms)`);

  t.equal((await step(server, python, 'x')).body.observation.metadata.result, '41', 'the Python bystander kept its state');
  t.equal((await javascript.step({ code: 'y' })).observation.metadata.result, '7', 'the JavaScript bystander kept its state');
  await javascript.close();
  t.equal((await request(server, 'DELETE', `/sessions/${python}`)).status, 200);
  return answer.body;
}

const pythonCases: [PythonBackendName, string, string][] = [
  ['process', 'a C-level loop (sum(range(10**12)))', 'sum(range(10**12))'],
  ['pyodide', 'a loop that swallows KeyboardInterrupt', SWALLOWING_LOOP],
];

for (const [backend, what, code] of pythonCases) {
  t.test(`${backend} backend: ${what} is hard-killed at the deadline (137) while other sessions are answered`, async (t) => {
    const server = await startFaultServer(t, { pythonBackend: backend });
    const before = await baseline(server);
    const victim = await openSession(t, server, 'python');
    t.equal((await step(server, victim, 'z = 1')).body.observation.exit_code, 0);
    const uid = Number((await step(server, victim, 'import os; os.getuid()')).body.observation.metadata.result);
    const guest = (await sandboxOfUid(uid)).find((row) => !/^(bwrap|setpriv) /.test(row.args));
    t.ok(guest, `the victim's guest runs as uid ${uid}`);
    if (guest === undefined) return;

    const observation = (await stallWithBystanders(t, server, { id: victim, code, started: () => burningCpu(guest.pid) })).observation;
    t.match(observation.stderr, /^envbox: the step ran past its limit of 5 s and ignored the interrupt for \d+ ms; its state is lost/);
    const after = await step(server, victim, 'z');
    t.match(after.body.observation.stderr, /NameError: name 'z' is not defined\n$/, 'the next step runs in a fresh sandbox, state gone');
    t.equal((await step(server, victim, '6 * 7')).body.observation.metadata.result, '42');
    t.equal((await request(server, 'DELETE', `/sessions/${victim}`)).status, 200);
    await assertNoLeaks(t, server, before);
  });
}

t.test('JavaScript: a native call that ignores the interrupt gets its worker terminated (137) while other sessions are answered', async (t) => {
  const server = await startFaultServer(t, { javascript: { graceMs: JS_GRACE_MS } });
  const before = await baseline(server);
  const terminatedBefore = (await health(server)).javascript.terminated_workers;
  const victim = await openSession(t, server, 'javascript');
  t.equal((await step(server, victim, 'let z = 1')).body.observation.exit_code, 0);

  // includes() over 2^32 - 1 holes never polls QuickJS's interrupt handler (> 20 s natively). The
  // stall runs in a worker thread of the server's own process: no `ps` row to watch, so the proof
  // that it ran is its duration (>= the deadline) and that every bystander came first.
  const body = await stallWithBystanders(t, server, {
    id: victim,
    code: 'const a = []; a.length = 2 ** 32 - 1; a.includes(1)',
    started: async () => undefined,
  });
  t.match(body.observation.stderr, /worker thread/, `the message says the worker thread went: ${body.observation.stderr}`);
  t.equal((await health(server)).javascript.terminated_workers, terminatedBefore + 1, 'exactly one worker was terminated');
  const after = await step(server, victim, 'typeof z');
  t.equal(after.body.observation.metadata.result, "'undefined'", 'the next step runs in a fresh context, state gone');
  t.equal((await step(server, victim, '6 * 7')).body.observation.metadata.result, '42');
  t.equal((await request(server, 'DELETE', `/sessions/${victim}`)).status, 200);
  await assertNoLeaks(t, server, before);
});

t.test('JavaScript, default layout (episodes share workers): a stall takes its worker\'s episodes with it (137), the pool drops its dead sandboxes and refills', async (t) => {
  // The default packing (up to 16 episodes a worker, spread over the CPUs): the stalled worker also
  // hosts a warm-pool sandbox, and possibly another session's episode.
  const server = await startFaultServer(t, { javascript: { graceMs: JS_GRACE_MS, episodesPerWorker: 16 } });
  const before = await baseline(server);
  const victim = await openSession(t, server, 'javascript');
  const neighbour = await openSession(t, server, 'javascript');
  t.equal((await step(server, neighbour, 'let n = 1')).body.observation.exit_code, 0);
  const killed = await step(server, victim, 'const a = []; a.length = 2 ** 32 - 1; a.includes(1)', 1);
  t.equal(killed.body.observation.exit_code, 137, 'the stalled step: 137');
  // The neighbour shared the worker or it did not: either it kept its state, or it is told (137) it lost it.
  const told = (await step(server, neighbour, 'n')).body.observation;
  t.ok(told.metadata.result === '1' || (told.exit_code === 137 && told.metadata.state_lost === true), `the neighbour kept its state or was told: ${JSON.stringify(told)}`);
  for (const id of [victim, neighbour]) t.equal((await request(server, 'DELETE', `/sessions/${id}`)).status, 200);
  // Whatever sandboxes of the pool died with the worker must not count as ready: the pool refills
  // and the worker layout comes back.
  await assertNoLeaks(t, server, before);
  // With no session open, every episode on a live worker is a pool sandbox, and vice versa.
  const after = await health(server);
  t.equal(after.pools.javascript.ready, after.javascript.episodes, `the ${after.pools.javascript.ready} sandboxes the pool counts as ready are all alive (episodes on live workers: ${after.javascript.episodes})`);
  const fresh = await openSession(t, server, 'javascript');
  t.equal((await step(server, fresh, '6 * 7')).body.observation.metadata.result, '42', 'a reset after the stall gets a live sandbox');
});

testNoSandboxOutlivesClose(t, spawned);
