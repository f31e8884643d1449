import t from 'tap';
import { request, startTestServer } from '../fixtures/test-server.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

t.test('POST /reset, POST /step, GET /state round trip on the default session', async (t) => {
  const server = await startTestServer(t);
  const reset = await request(server, 'POST', '/reset', {});
  t.equal(reset.status, 200);
  t.same(reset.body, {
    observation: { echoed_message: 'Echo environment ready!', message_length: 0, metadata: {} },
    reward: 0,
    done: false,
    metadata: {},
  });
  const step = await request(server, 'POST', '/step', { action: { message: 'Hello' } });
  t.equal(step.status, 200);
  t.same(step.body, {
    observation: { echoed_message: 'Hello', message_length: 5, metadata: { original_message: 'Hello', step: 1 } },
    reward: 0.5,
    done: false,
    metadata: { original_message: 'Hello', step: 1 },
  });
  const state = await request(server, 'GET', '/state');
  t.equal(state.status, 200);
  t.match(state.body, { episode_id: UUID, step_count: 1 });
  t.equal(reset.headers.get('content-type'), 'application/json; charset=utf-8');
});

t.test('POST /reset without a body, and with seed and episode_id', async (t) => {
  const server = await startTestServer(t);
  const bare = await fetch(`${server.url}/reset`, { method: 'POST' });
  t.equal(bare.status, 200);
  const named = await request(server, 'POST', '/reset', { seed: 7, episode_id: 'episode-7' });
  t.equal(named.status, 200);
  t.same((await request(server, 'GET', '/state')).body, { episode_id: 'episode-7', step_count: 0 });
  // OpenEnv clients written in Python send None for unset fields.
  const nulls = await request(server, 'POST', '/reset', { seed: null, episode_id: null });
  t.equal(nulls.status, 200);
  t.match((await request(server, 'GET', '/state')).body, { episode_id: UUID, step_count: 0 });
});

t.test('POST /step accepts timeout_s and request_id beside the action', async (t) => {
  const server = await startTestServer(t);
  const step = await request(server, 'POST', '/step', { action: { message: 'x', metadata: { a: 1 } }, timeout_s: 2.5, request_id: 'r1' });
  t.equal(step.status, 200);
  t.equal(step.body.observation.echoed_message, 'x');
});

t.test('GET /health reports liveness and session occupancy', async (t) => {
  const server = await startTestServer(t, { maxSessions: 5 });
  t.same((await request(server, 'GET', '/health')).body, {
    status: 'healthy',
    env: 'echo_env',
    version: '1.0.0',
    active_sessions: 0,
    max_sessions: 5,
  });
  await request(server, 'POST', '/reset', {});
  await request(server, 'POST', '/sessions');
  t.match((await request(server, 'GET', '/health')).body, { active_sessions: 2, max_sessions: 5 });
});

t.test('GET /metadata names the environment and carries its README', async (t) => {
  const server = await startTestServer(t);
  const { status, body } = await request(server, 'GET', '/metadata');
  t.equal(status, 200);
  t.equal(body.name, 'echo_env');
  t.equal(body.version, '1.0.0');
  t.match(body.description, /[Ee]cho/);
  t.match(body.readme, /^# echo_env/);
  t.equal(body.readme_content, body.readme);
});

t.test('GET /schema gives JSON Schemas generated from the zod models', async (t) => {
  const server = await startTestServer(t);
  const { status, body } = await request(server, 'GET', '/schema');
  t.equal(status, 200);
  t.same(Object.keys(body).sort(), ['action', 'observation', 'reset', 'state']);
  t.equal(body.action.type, 'object');
  t.same(body.action.required, ['message']);
  t.equal(body.action.additionalProperties, false);
  t.equal(body.action.properties.message.type, 'string');
  t.ok(body.observation.properties.echoed_message);
  t.ok(body.observation.properties.message_length);
  t.ok(body.observation.properties.reward);
  t.ok(body.state.properties.episode_id);
  t.ok(body.state.properties.step_count);
  t.ok(body.reset.properties.seed);
});

t.test('sessions: create, act with X-Session-Id, delete, then 404', async (t) => {
  const server = await startTestServer(t);
  const created = await request(server, 'POST', '/sessions');
  t.equal(created.status, 201);
  t.match(created.body, { session_id: UUID });
  const headers = { 'X-Session-Id': created.body.session_id as string };
  t.equal((await request(server, 'POST', '/reset', {}, headers)).status, 200);
  t.equal((await request(server, 'POST', '/step', { action: { message: 'a' } }, headers)).status, 200);
  t.match((await request(server, 'GET', '/state', undefined, headers)).body, { step_count: 1 });
  const deleted = await request(server, 'DELETE', `/sessions/${created.body.session_id}`);
  t.equal(deleted.status, 200);
  t.same(deleted.body, { session_id: created.body.session_id, closed: true });
  const gone = await request(server, 'GET', '/state', undefined, headers);
  t.equal(gone.status, 404);
  t.equal(gone.body.error.code, 'SESSION_NOT_FOUND');
  t.match(gone.body.error.message, /closed: client/);
  const again = await request(server, 'DELETE', `/sessions/${created.body.session_id}`);
  t.equal(again.status, 404);
  t.equal(again.body.error.code, 'SESSION_NOT_FOUND');
});

t.test('unknown session ids are 404 SESSION_NOT_FOUND on every session route', async (t) => {
  const server = await startTestServer(t);
  const headers = { 'X-Session-Id': 'no-such-session' };
  for (const [method, path, body] of [
    ['POST', '/reset', {}],
    ['POST', '/step', { action: { message: 'x' } }],
    ['GET', '/state', undefined],
  ] as const) {
    const response = await request(server, method, path, body, headers);
    t.equal(response.status, 404, `${method} ${path}`);
    t.equal(response.body.error.code, 'SESSION_NOT_FOUND');
    t.match(response.body.error.message, /no-such-session/);
  }
  const empty = await request(server, 'GET', '/state', undefined, { 'X-Session-Id': '' });
  t.equal(empty.status, 404);
  t.equal(empty.body.error.code, 'SESSION_NOT_FOUND');
  t.equal(server.app.sessions.size, 0, 'no session was opened by failed lookups');
});

t.test('unknown routes are 404 NOT_FOUND; wrong methods 405; GET /ws without upgrade 426', async (t) => {
  const server = await startTestServer(t);
  const missing = await request(server, 'GET', '/nope');
  t.equal(missing.status, 404);
  t.equal(missing.body.error.code, 'NOT_FOUND');
  const wrong = await request(server, 'PUT', '/reset', {});
  t.equal(wrong.status, 405);
  t.equal(wrong.body.error.code, 'METHOD_NOT_ALLOWED');
  t.match(wrong.headers.get('allow'), /POST/);
  const ws = await request(server, 'GET', '/ws');
  t.equal(ws.status, 426);
  t.equal(ws.body.error.code, 'UPGRADE_REQUIRED');
});

t.test('an environment that throws gives 500 INTERNAL without its message, and the session goes on', async (t) => {
  const { ProbeRegistry } = await import('../fixtures/probe-env.js');
  const registry = new ProbeRegistry();
  const server = await startTestServer(t, {}, registry.definition());
  const broken = await request(server, 'POST', '/step', { action: { op: 'throw' } });
  t.equal(broken.status, 500);
  t.equal(broken.body.error.code, 'INTERNAL');
  t.notMatch(broken.body.error.message, /probe environment is broken/, 'internal messages stay in the log');
  const next = await request(server, 'POST', '/step', { action: { op: 'tick' } });
  t.equal(next.status, 200);
  t.equal(next.body.observation.order, 2);
});

t.test('the fast path and the Koa routes answer alike (a query string takes the fast path too; other spellings, Koa)', async (t) => {
  const server = await startTestServer(t);
  const hot = await request(server, 'POST', '/step', { action: { message: 'same' } });
  const koa = await request(server, 'POST', '/step?via=koa', { action: { message: 'same' } });
  t.same({ ...koa.body, observation: { ...koa.body.observation, metadata: {} }, metadata: {} }, { ...hot.body, observation: { ...hot.body.observation, metadata: {} }, metadata: {} });
  t.equal(koa.body.observation.metadata.step, 2, 'both acted on the same default session');
  for (const name of ['content-type', 'cache-control', 'x-content-type-options']) {
    t.equal(koa.headers.get(name), hot.headers.get(name), name);
  }
  const hotError = await request(server, 'POST', '/step', '{bad');
  const koaError = await request(server, 'POST', '/step?via=koa', '{bad');
  t.equal(hotError.status, 400);
  t.same(hotError.body, koaError.body);
  const hotState = await request(server, 'GET', '/state', undefined, { 'X-Session-Id': 'nope' });
  const koaState = await request(server, 'GET', '/state?via=koa', undefined, { 'X-Session-Id': 'nope' });
  t.equal(hotState.status, 404);
  t.same(hotState.body, koaState.body);

  // Spellings only Koa's router matches (case, trailing slash) reach the same operation.
  const spelled = await request(server, 'POST', '/STEP/', { action: { message: 'same' } });
  t.equal(spelled.status, 200);
  t.equal(spelled.body.observation.metadata.step, 3, 'the Koa route acted on the same default session');
  for (const name of ['content-type', 'cache-control', 'x-content-type-options']) {
    t.equal(spelled.headers.get(name), hot.headers.get(name), name);
  }
  t.same((await request(server, 'POST', '/Step', '{bad')).body, hotError.body);
  t.same((await request(server, 'GET', '/state/', undefined, { 'X-Session-Id': 'nope' })).body, hotState.body);
  const head = await fetch(`${server.url}/state`, { method: 'HEAD' });
  t.equal(head.status, 200, 'HEAD /state is GET without a body, as Koa serves it');
  t.equal(head.headers.get('content-type'), 'application/json; charset=utf-8');
});
