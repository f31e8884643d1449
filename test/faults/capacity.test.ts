/**
 * Fault: the server is at capacity (`maxSessions`, `--max-sessions` / `ENVBOX_MAX_SESSIONS`).
 * Documented outcome (DESIGN.md; runtime/errors.ts `CapacityExceededError`): the next
 * `POST /sessions` (and a first call on the default session) is a 503 `CAPACITY_EXCEEDED` with
 * `Retry-After`; the next WebSocket is accepted, told `{"type":"error"}` with `CAPACITY_EXCEEDED`
 * and closed with 1013 (Try Again Later: a WebSocket has no status line after the upgrade); the
 * typed client throws `CapacityExceededError` on both transports; open sessions keep working; once
 * one closes, a new one opens; nothing leaks.
 * Existing coverage: test/runtime/session-manager.test.ts and ws-endpoint.test.ts check the same
 * refusals on echo_env; here sessions hold real sandboxes, and the refusals must not disturb them.
 */
import { once } from 'node:events';
import t from 'tap';
import WebSocket from 'ws';
import { CodingEnv } from '../../envs/coding_env/index.js';
import { CapacityExceededError, type EnvboxServer } from '../../runtime/index.js';
import { assertNoLeaks, baseline, startFaultServer } from '../fixtures/fault-server.js';
import { testNoSandboxOutlivesClose, trackSpawnedProcesses } from '../fixtures/sandbox-processes.js';
import { request, sessionClosed } from '../fixtures/test-server.js';

const spawned = trackSpawnedProcesses();

const MAX_SESSIONS = 3;

/** A raw WebSocket to `/ws`: its first message and how it was closed. */
async function refusedSocket(server: EnvboxServer): Promise<{ message: any; code: number; reason: string }> {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`);
  const first = once(ws, 'message');
  const closed = once(ws, 'close');
  const [data] = (await first) as [Buffer];
  const [code, reason] = (await closed) as [number, Buffer];
  return { message: JSON.parse(data.toString('utf8')), code, reason: reason.toString('utf8') };
}

t.test(`at --max-sessions ${MAX_SESSIONS}: 503 / 1013 CAPACITY_EXCEEDED, open sessions unharmed, a freed slot is reusable`, async (t) => {
  const server = await startFaultServer(t, {}, { maxSessions: MAX_SESSIONS });
  const before = await baseline(server);

  // Fill the server: two HTTP sessions (Python, JavaScript) and a WebSocket one (Python).
  const python = new CodingEnv({ baseUrl: server.url });
  const javascript = new CodingEnv({ baseUrl: server.url });
  const overWs = new CodingEnv({ baseUrl: server.url, transport: 'ws' });
  const open = [python, javascript, overWs];
  t.teardown(() => Promise.all(open.map((env) => env.close().catch(() => undefined))));
  await python.reset();
  await javascript.reset({ language: 'javascript' });
  await overWs.reset();
  await python.step({ code: 'x = 1' });
  await javascript.step({ code: 'let x = 2' });
  await overWs.step({ code: 'x = 3' });
  t.equal((await request(server, 'GET', '/health')).body.active_sessions, MAX_SESSIONS, 'the server is full');

  const refused = await request(server, 'POST', '/sessions');
  t.equal(refused.status, 503, 'POST /sessions: 503');
  t.equal(refused.headers.get('retry-after'), '1', 'with Retry-After');
  t.equal(refused.body.error.code, 'CAPACITY_EXCEEDED');
  t.match(refused.body.error.message, `Server at capacity: ${MAX_SESSIONS}/${MAX_SESSIONS} sessions open`);
  const defaultSession = await request(server, 'POST', '/reset', {});
  t.equal(defaultSession.status, 503, 'the default session cannot open either');
  t.equal(defaultSession.headers.get('retry-after'), '1');
  t.equal(defaultSession.body.error.code, 'CAPACITY_EXCEEDED');

  const socket = await refusedSocket(server);
  t.equal(socket.message.type, 'error', 'a WebSocket over capacity is told why...');
  t.equal(socket.message.data.code, 'CAPACITY_EXCEEDED');
  t.same({ code: socket.code, reason: socket.reason }, { code: 1013, reason: 'CAPACITY_EXCEEDED' }, '...and closed with 1013 Try Again Later');

  for (const transport of ['http', 'ws'] as const) {
    const extra = new CodingEnv({ baseUrl: server.url, transport });
    await t.rejects(extra.reset(), CapacityExceededError, `the typed client (${transport}) throws CapacityExceededError`);
    await extra.close().catch(() => undefined);
  }

  t.same(
    [(await python.step({ code: 'x' })).observation.metadata.result, (await javascript.step({ code: 'x' })).observation.metadata.result, (await overWs.step({ code: 'x' })).observation.metadata.result],
    ['1', '2', '3'],
    'the open sessions kept their state through the refusals',
  );
  t.equal((await request(server, 'GET', '/health')).body.active_sessions, MAX_SESSIONS, 'and no refused attempt holds a slot');

  // A freed HTTP slot, then a freed WebSocket slot, each taken by a new session of the other kind.
  await python.close();
  const replacement = new CodingEnv({ baseUrl: server.url, transport: 'ws' });
  open.push(replacement);
  await replacement.reset();
  t.equal((await replacement.step({ code: '6 * 7' })).observation.metadata.result, '42', 'a new session opens once one closed');
  const wsGone = sessionClosed(server);
  await overWs.close();
  await wsGone;
  const created = await request(server, 'POST', '/sessions');
  t.equal(created.status, 201, 'POST /sessions succeeds once a WebSocket session closed');
  t.equal((await request(server, 'DELETE', `/sessions/${created.body.session_id}`)).status, 200);

  await Promise.all([javascript.close(), replacement.close()]);
  await assertNoLeaks(t, server, before);
});

testNoSandboxOutlivesClose(t, spawned);
