import t from 'tap';
import { createLogger, SessionManager } from '../../runtime/index.js';
import { ProbeRegistry } from '../fixtures/probe-env.js';
import { request, sessionClosed, startTestServer } from '../fixtures/test-server.js';

t.test('two sessions hold two independent episodes', async (t) => {
  const server = await startTestServer(t);
  const a = { 'X-Session-Id': (await request(server, 'POST', '/sessions')).body.session_id as string };
  const b = { 'X-Session-Id': (await request(server, 'POST', '/sessions')).body.session_id as string };
  t.not(a['X-Session-Id'], b['X-Session-Id']);
  await request(server, 'POST', '/reset', {}, a);
  await request(server, 'POST', '/reset', {}, b);
  for (let i = 0; i < 3; i += 1) await request(server, 'POST', '/step', { action: { message: 'a' } }, a);
  await request(server, 'POST', '/step', { action: { message: 'b' } }, b);
  const stateA = (await request(server, 'GET', '/state', undefined, a)).body;
  const stateB = (await request(server, 'GET', '/state', undefined, b)).body;
  t.equal(stateA.step_count, 3);
  t.equal(stateB.step_count, 1);
  t.not(stateA.episode_id, stateB.episode_id);
  const plain = (await request(server, 'GET', '/state')).body;
  t.equal(plain.step_count, 0, 'the default session is a third, separate episode');
  t.equal(server.app.sessions.size, 3);
});

t.test('calls within a session are serialised; sessions run concurrently', async (t) => {
  const registry = new ProbeRegistry();
  const server = await startTestServer(t, {}, registry.definition());
  const a = { 'X-Session-Id': (await request(server, 'POST', '/sessions')).body.session_id as string };
  const b = { 'X-Session-Id': (await request(server, 'POST', '/sessions')).body.session_id as string };

  // A step of session a holds; a second step of a must wait for it, while b goes on.
  const entered = registry.entered('gate-a');
  const held = request(server, 'POST', '/step', { action: { op: 'hold', key: 'gate-a' } }, a);
  await entered;
  const queued = request(server, 'POST', '/step', { action: { op: 'tick' } }, a);
  const other = await request(server, 'POST', '/step', { action: { op: 'tick' } }, b);
  t.equal(other.status, 200, 'session b is not blocked by session a');
  t.equal(other.body.observation.order, 1);
  registry.release('gate-a');
  const [first, second] = await Promise.all([held, queued]);
  t.equal(first.body.observation.order, 1);
  t.equal(second.body.observation.order, 2, 'the queued step ran after the held one');
  t.equal(second.body.observation.overlapped, false);

  // Many concurrent steps in one session never overlap and run in arrival order over one connection each.
  const many = await Promise.all(Array.from({ length: 40 }, () => request(server, 'POST', '/step', { action: { op: 'tick' } }, b)));
  t.ok(many.every((r) => r.status === 200 && r.body.observation.overlapped === false), 'no step overlapped another');
  t.same(
    many.map((r) => r.body.observation.order).sort((x: number, y: number) => x - y),
    Array.from({ length: 40 }, (_, i) => i + 2),
    'every step got its own turn',
  );
});

t.test('capacity: 503 CAPACITY_EXCEEDED with Retry-After, then recovery after a session closes', async (t) => {
  const server = await startTestServer(t, { maxSessions: 2 });
  const first = await request(server, 'POST', '/sessions');
  await request(server, 'POST', '/reset', {}); // the default session takes the second slot
  const refused = await request(server, 'POST', '/sessions');
  t.equal(refused.status, 503);
  t.equal(refused.body.error.code, 'CAPACITY_EXCEEDED');
  t.equal(refused.headers.get('retry-after'), '1');
  t.match(refused.body.error.details, { active_sessions: 2, max_sessions: 2 });
  t.match((await request(server, 'GET', '/health')).body, { active_sessions: 2, max_sessions: 2 });
  // Existing sessions keep working at capacity.
  t.equal((await request(server, 'POST', '/step', { action: { message: 'x' } })).status, 200);
  await request(server, 'DELETE', `/sessions/${first.body.session_id}`);
  const admitted = await request(server, 'POST', '/sessions');
  t.equal(admitted.status, 201, 'a slot freed by DELETE is reused');
});

t.test('the default session is refused at capacity too, and opened once under concurrent first use', async (t) => {
  const registry = new ProbeRegistry();
  const server = await startTestServer(t, { maxSessions: 1 }, registry.definition());
  const results = await Promise.all(Array.from({ length: 10 }, () => request(server, 'POST', '/step', { action: { op: 'tick' } })));
  t.ok(results.every((r) => r.status === 200));
  t.equal(registry.created, 1, 'one environment for the default session');
  const refused = await request(server, 'POST', '/sessions');
  t.equal(refused.status, 503);
});

t.test('idle sessions are closed after sessionIdleMs and their ids say so', async (t) => {
  const registry = new ProbeRegistry();
  const server = await startTestServer(t, { sessionIdleMs: 30 }, registry.definition());
  const id = (await request(server, 'POST', '/sessions')).body.session_id as string;
  const [session, reason] = await sessionClosed(server, id);
  t.equal(session.id, id);
  t.equal(reason, 'idle');
  t.equal(server.app.sessions.size, 0);
  const gone = await request(server, 'GET', '/state', undefined, { 'X-Session-Id': id });
  t.equal(gone.status, 404);
  t.equal(gone.body.error.code, 'SESSION_NOT_FOUND');
  t.match(gone.body.error.message, /idle for 30 ms/);
  t.equal(registry.closed, 1, 'the environment was closed');
});

t.test('a session with a call in flight is never reaped for idleness', async (t) => {
  const registry = new ProbeRegistry();
  const server = await startTestServer(t, { sessionIdleMs: 20 }, registry.definition());
  const id = (await request(server, 'POST', '/sessions')).body.session_id as string;
  const headers = { 'X-Session-Id': id };
  const entered = registry.entered('long');
  const held = request(server, 'POST', '/step', { action: { op: 'hold', key: 'long' } }, headers);
  await entered;
  // A second session's reaping proves the reaper ran while the first was busy.
  const probe = (await request(server, 'POST', '/sessions')).body.session_id as string;
  await sessionClosed(server, probe);
  t.equal(server.app.sessions.reapIdle(Date.now() + 60_000), 0, 'the busy session is not idle');
  registry.release('long');
  t.equal((await held).status, 200);
  t.equal(server.app.sessions.get(id).id, id);
});

t.test('DELETE while a step is in flight: the step finishes, then the environment closes', async (t) => {
  const registry = new ProbeRegistry();
  const server = await startTestServer(t, {}, registry.definition());
  const id = (await request(server, 'POST', '/sessions')).body.session_id as string;
  const headers = { 'X-Session-Id': id };
  const entered = registry.entered('d');
  const held = request(server, 'POST', '/step', { action: { op: 'hold', key: 'd' } }, headers);
  await entered;
  const queued = request(server, 'POST', '/step', { action: { op: 'tick' } }, headers);
  const deleted = await request(server, 'DELETE', `/sessions/${id}`);
  const closing = server.app.sessions.size;
  registry.release('d');
  t.equal((await held).status, 200, 'the running step completes');
  const late = await queued;
  t.equal(late.status, 409, 'the queued step is refused');
  t.equal(late.body.error.code, 'SESSION_CLOSED');
  t.equal(deleted.status, 200);
  t.equal(closing, 0);
  t.equal(registry.closed, 1, 'the environment closed after its step');
});

t.test('the manager and its sessions close once, also through Symbol.asyncDispose', async (t) => {
  const registry = new ProbeRegistry();
  const manager = new SessionManager(registry.definition(), { maxSessions: 4, sessionIdleMs: 60_000, logger: createLogger('silent') });
  const session = await manager.create('http');
  const other = await manager.create('ws');
  await session[Symbol.asyncDispose]();
  await session[Symbol.asyncDispose]();
  t.equal(session.closeReason, 'shutdown');
  t.equal(registry.closed, 1, 'a session closes its environment once');
  await t.rejects(session.run(() => 1), { code: 'SESSION_CLOSED' });
  const first = manager.closeAll();
  t.equal(manager.closeAll(), first, 'a second closeAll gets the first one\'s promise');
  await manager[Symbol.asyncDispose]();
  t.equal(other.closeReason, 'shutdown');
  t.equal(registry.closed, 2, 'every environment closed once');
  t.equal(manager.size, 0);
  await t.rejects(manager.create('http'), { code: 'CAPACITY_EXCEEDED' });
});
