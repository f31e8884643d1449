/**
 * Fault: a sandbox process is killed from outside (SIGKILL) while a step runs in it.
 * Documented outcome (DESIGN.md, wire protocol): that step answers exit 137 with
 * `metadata.state_lost: true`; the session's next step runs in a fresh sandbox (state gone); other
 * sessions are untouched; nothing leaks. Python on both backends: the guest (CPython, or the Node
 * hosting Pyodide) and, separately, its bubblewrap. JavaScript has no process of its own: its
 * equivalent, a terminated worker thread, is in stall.test.ts. The files sandbox-kill.<backend>.test.ts
 * run this suite, one per backend.
 * Existing coverage this builds on: test/envs/coding-env-suite.ts kills sandboxes by timeout (137)
 * and checks that closing a session kills its guest; here the kill comes from outside, mid-step.
 */
import t, { type Test } from 'tap';
import { CodingEnv } from '../../envs/coding_env/index.js';
import type { EnvboxServer } from '../../runtime/index.js';
import type { PythonBackendName } from '../../sandbox/index.js';
import { assertNoLeaks, baseline, sandboxOfUid, startFaultServer } from '../fixtures/fault-server.js';
import { burningCpu } from '../fixtures/guest-cpu.js';
import { descendsFrom, listProcesses, testNoSandboxOutlivesClose, trackSpawnedProcesses } from '../fixtures/sandbox-processes.js';
import { request } from '../fixtures/test-server.js';

/** A step that never returns on its own but heeds the interrupt (the deadline is far away anyway). */
const BUSY = 'while True: pass';

function step(server: EnvboxServer, id: string, code: string, timeoutS?: number) {
  return request(server, 'POST', '/step', { action: { code }, ...(timeoutS === undefined ? {} : { timeout_s: timeoutS }) }, { 'x-session-id': id });
}

/** A new HTTP session with a reset episode; closed (DELETE) when `t` ends, if still open. */
async function openSession(t: Test, server: EnvboxServer): Promise<string> {
  const created = await request(server, 'POST', '/sessions');
  t.equal(created.status, 201, 'POST /sessions');
  const id = created.body.session_id as string;
  t.teardown(() => request(server, 'DELETE', `/sessions/${id}`).catch(() => undefined));
  t.equal((await request(server, 'POST', '/reset', {}, { 'x-session-id': id })).status, 200, 'reset');
  return id;
}

/** Which process of a sandbox the test kills: the guest itself, or the bubblewrap that holds it. */
type Target = 'guest' | 'bwrap';

/**
 * Register the kill tests of `backend` as the tests of the calling file (one file per backend keeps
 * each under tap's per-file timeout), then the check that no sandbox process outlived its close().
 */
export function sandboxKillSuite(backend: PythonBackendName): void {
  const spawned = trackSpawnedProcesses();
  for (const target of ['guest', 'bwrap'] satisfies Target[]) {
    t.test(`${backend} backend: SIGKILL of the sandbox's ${target === 'guest' ? (backend === 'process' ? 'CPython' : 'Node (Pyodide)') : 'bwrap (forked from a template: its keeper)'} mid-step → 137, state lost, fresh sandbox next`, async (t) => {
      const server = await startFaultServer(t, { pythonBackend: backend });
      const before = await baseline(server);

      // Bystanders: a Python session over HTTP and a JavaScript one over WebSocket, each with state.
      const bystander = await openSession(t, server);
      t.equal((await step(server, bystander, 'x = 41')).body.observation.exit_code, 0);
      const jsBystander = new CodingEnv({ baseUrl: server.url, transport: 'ws' });
      t.teardown(() => jsBystander.close());
      await jsBystander.reset({ language: 'javascript' });
      await jsBystander.step({ code: 'let y = 7' });

      const victim = await openSession(t, server);
      t.equal((await step(server, victim, 'x = 1')).body.observation.exit_code, 0);
      const uid = Number((await step(server, victim, 'import os; os.getuid()')).body.observation.metadata.result);
      const rows = await sandboxOfUid(uid);
      // bubblewrap's own command line names the guest too: the guest is the row that is not bwrap.
      const guest = rows.find((row) => !/^(bwrap|setpriv) /.test(row.args) && / \S*(runner\.py|guest\.mjs) /.test(row.args));
      // What holds the guest from outside: its bubblewrap, or (forked from a template, see
      // sandbox/python/template.py) its keeper, which carries the template's command line.
      const all = await listProcesses();
      const keeper = all.find((row) => row.uid === uid && !row.stat.startsWith('Z') && /^\S*python3 -I -B -c /.test(row.args) && descendsFrom(all, row.pid));
      const bwrap = rows.find((row) => row.args.startsWith('bwrap ')) ?? keeper;
      t.ok(guest, `the victim's guest runs as uid ${uid}`);
      if (target === 'bwrap') t.ok(bwrap, `and so does its bubblewrap or keeper (isolation by namespaces): ${bwrap?.args.slice(0, 40)}`);
      const victimPid = (target === 'guest' ? guest : bwrap)?.pid;
      if (guest === undefined || victimPid === undefined) return;

      const killed = step(server, victim, BUSY, 20);
      // Mid-step: the busy loop is burning CPU in the guest before the kill comes.
      await burningCpu(guest.pid);
      process.kill(victimPid, 'SIGKILL');
      const answer = await killed;
      t.equal(answer.status, 200, 'the step is answered, not failed');
      t.equal(answer.body.observation.exit_code, 137);
      t.equal(answer.body.observation.metadata.state_lost, true);
      t.match(
        answer.body.observation.stderr,
        /^envbox: the sandbox process (was killed by SIGKILL|exited with code \d+|was killed with its keeper); its state is lost and the next step starts in a fresh sandbox\.\n$/,
      );

      const lost = await step(server, victim, 'x');
      t.equal(lost.body.observation.exit_code, 1, 'the next step runs, in a fresh sandbox...');
      t.match(lost.body.observation.stderr, /NameError: name 'x' is not defined\n$/, '...where the old state is gone');
      t.equal((await step(server, victim, 'x = 2; x * 21')).body.observation.metadata.result, '42', 'and the episode goes on');
      t.equal((await request(server, 'GET', '/state', undefined, { 'x-session-id': victim })).body.step_count, 5, 'every step counted, the killed one too');
      t.not(Number((await step(server, victim, 'import os; os.getuid()')).body.observation.metadata.result), uid, 'on a sandbox of another uid');

      t.equal((await step(server, bystander, 'x')).body.observation.metadata.result, '41', 'the Python bystander kept its state');
      t.equal((await jsBystander.step({ code: 'y' })).observation.metadata.result, '7', 'the JavaScript bystander kept its state');

      for (const id of [victim, bystander]) t.equal((await request(server, 'DELETE', `/sessions/${id}`)).status, 200);
      await jsBystander.close();
      await assertNoLeaks(t, server, before);
    });
  }
  testNoSandboxOutlivesClose(t, spawned);
}
