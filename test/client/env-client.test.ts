import t, { type Test } from 'tap';
import type { z } from 'zod';
import { EnvClient } from '../../client/index.js';
import { EchoEnv } from '../../envs/index.js';
import {
  CapacityExceededError,
  InvalidRequestError,
  SessionNotFoundError,
  State,
  TransportError,
  type EnvboxServer,
} from '../../runtime/index.js';
import { ProbeObservation, ProbeRegistry, type ProbeAction } from '../fixtures/probe-env.js';
import { request, sessionClosed, startTestServer } from '../fixtures/test-server.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TRANSPORTS = ['http', 'ws'] as const;

/** What `promise` rejected with; a failed assertion (and undefined) when it fulfilled. */
async function rejection(t: Test, promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      t.fail(`expected a rejection, got ${JSON.stringify(value)}`);
      return undefined;
    },
    (error: unknown) => error,
  );
}

/** A typed client of the probe environment from test/fixtures/probe-env.ts. */
function probeClient(server: EnvboxServer, transport: 'http' | 'ws') {
  return new EnvClient<z.input<typeof ProbeAction>, ProbeObservation, State>(
    { observation: ProbeObservation, state: State },
    { baseUrl: server.url, transport },
  );
}

for (const transport of TRANSPORTS) {
  t.test(`${transport}: reset, step and state round trip with typed results`, async (t) => {
    const server = await startTestServer(t);
    const env = new EchoEnv({ baseUrl: server.url, transport });
    t.teardown(() => env.close());

    const reset = await env.reset();
    t.same(reset, {
      observation: { echoed_message: 'Echo environment ready!', message_length: 0, metadata: {}, reward: 0, done: false },
      reward: 0,
      done: false,
    });

    const step = await env.step({ message: 'hi' });
    t.equal(step.observation.echoed_message, 'hi');
    t.equal(step.observation.message_length, 2);
    t.same(step.observation.metadata, { original_message: 'hi', step: 1 });
    t.equal(step.done, false);
    t.equal(step.observation.done, false);
    t.ok(step.reward !== null && Math.abs(step.reward - 0.2) < 1e-9, `reward ${step.reward} is 0.2`);
    t.equal(step.observation.reward, step.reward);

    const state = await env.state();
    t.equal(state.step_count, 1);
    t.match(state.episode_id, UUID);

    await env.reset({ episode_id: 'ep-1' });
    t.same(await env.state(), { episode_id: 'ep-1', step_count: 0 });
    t.equal(server.app.sessions.size, 1, 'one session for this client');
  });

  t.test(`${transport}: an invalid action rejects with InvalidRequestError; the client stays usable`, async (t) => {
    const server = await startTestServer(t);
    const env = new EchoEnv({ baseUrl: server.url, transport });
    t.teardown(() => env.close());
    await env.reset();

    const error = await rejection(t, env.step({ message: 5 } as any));
    t.type(error, InvalidRequestError);
    t.match(error, { code: 'INVALID_REQUEST', details: { issues: [{ path: transport === 'http' ? ['action', 'message'] : ['message'] }] } });

    t.equal((await env.step({ message: 'ok' })).observation.echoed_message, 'ok');
    t.equal((await env.state()).step_count, 1, 'the invalid action was not counted');
  });

  t.test(`${transport}: over capacity rejects with CapacityExceededError; a retry after a slot frees works`, async (t) => {
    const server = await startTestServer(t, { maxSessions: 1 });
    const first = new EchoEnv({ baseUrl: server.url, transport });
    t.teardown(() => first.close());
    await first.reset();
    t.equal(server.app.sessions.size, 1);

    const second = new EchoEnv({ baseUrl: server.url, transport });
    t.teardown(() => second.close());
    const error = await rejection(t, second.reset());
    t.type(error, CapacityExceededError);
    t.match(error, { code: 'CAPACITY_EXCEEDED', details: { active_sessions: 1, max_sessions: 1 } });
    t.equal(server.app.sessions.size, 1);

    const freed = sessionClosed(server);
    await first.close();
    await freed;
    t.equal(server.app.sessions.size, 0);

    if (transport === 'http') {
      // The same client opens its session on the retry.
      t.equal((await second.reset()).observation.echoed_message, 'Echo environment ready!');
      t.equal((await second.step({ message: 'again' })).observation.echoed_message, 'again');
    } else {
      // A refused WebSocket is closed by the server: a new client is needed.
      const third = new EchoEnv({ baseUrl: server.url, transport });
      t.teardown(() => third.close());
      t.equal((await third.reset()).observation.echoed_message, 'Echo environment ready!');
      t.equal((await third.step({ message: 'again' })).observation.echoed_message, 'again');
    }
    t.equal(server.app.sessions.size, 1);
  });

  t.test(`${transport}: a server that is not there rejects with TransportError`, async (t) => {
    const gone = await startTestServer(t);
    const url = gone.url;
    await gone.close();
    const env = new EchoEnv({ baseUrl: url, transport });
    t.teardown(() => env.close());
    const error = await rejection(t, env.reset());
    t.type(error, TransportError);
    t.match(error, { code: 'TRANSPORT' });
  });

  t.test(`${transport}: a call past its timeoutMs rejects with TransportError`, async (t) => {
    const registry = new ProbeRegistry();
    const server = await startTestServer(t, {}, registry.definition());
    // Whatever happens, let the held step finish so the server can close.
    t.teardown(() => registry.release('k'));
    const client = probeClient(server, transport);
    t.teardown(() => client.close());
    await client.reset();

    const entered = registry.entered('k');
    const closed = transport === 'ws' ? sessionClosed(server) : undefined;
    const error = await rejection(t, client.step({ op: 'hold', key: 'k' }, { timeoutMs: 50 }));
    t.type(error, TransportError);
    t.match(error, { code: 'TRANSPORT', message: /timed out/ });

    await entered;
    registry.release('k');
    if (transport === 'http') {
      // The session outlived the client's timeout; the held step finished first (calls are serialised).
      const next = await client.step({ op: 'tick' });
      t.same(next.observation, { order: 2, overlapped: false, done: false, reward: null, metadata: {} });
    } else {
      // The answer would come out of turn: the connection and its session are given up.
      const [, reason] = await closed!;
      t.equal(reason, 'disconnect');
      t.match(await rejection(t, client.step({ op: 'tick' })), { code: 'TRANSPORT' });
    }
  });

  t.test(`${transport}: an already-aborted signal rejects with TransportError`, async (t) => {
    const server = await startTestServer(t);
    const env = new EchoEnv({ baseUrl: server.url, transport });
    t.teardown(() => env.close());
    await env.reset();
    const error = await rejection(t, env.step({ message: 'never' }, { signal: AbortSignal.abort() }));
    t.type(error, TransportError);
    t.match(error, { code: 'TRANSPORT', message: /was aborted/ });
  });

  t.test(`${transport}: await using closes the session`, async (t) => {
    const server = await startTestServer(t);
    const closed = sessionClosed(server);
    {
      await using env = new EchoEnv({ baseUrl: server.url, transport });
      t.teardown(() => env.close());
      await env.step({ message: 'scoped' });
      t.equal(server.app.sessions.size, 1);
    }
    const [, reason] = await closed;
    t.equal(reason, 'client', 'closed on purpose, not as a dropped connection');
    t.equal(server.app.sessions.size, 0);
  });
}

t.test('http: the default mode opens a session of its own and close() deletes it', async (t) => {
  const server = await startTestServer(t);
  const env = new EchoEnv({ baseUrl: server.url });
  t.teardown(() => env.close());
  t.equal(server.app.sessions.size, 0, 'nothing is opened before the first call');
  await env.reset({ episode_id: 'own' });
  t.equal(server.app.sessions.size, 1);
  await env.step({ message: 'mine' });
  // The plain-HTTP default session is a different one.
  const plain = (await request(server, 'GET', '/state')).body;
  t.same(plain, { episode_id: plain.episode_id, step_count: 0 });
  t.match(plain.episode_id, UUID);
  t.equal(server.app.sessions.size, 2);

  const closed = sessionClosed(server);
  await env.close();
  const [session, reason] = await closed;
  t.not(session.id, 'default');
  t.equal(reason, 'client');
  t.equal(server.app.sessions.size, 1, 'only the default session is left');
  t.match(await rejection(t, env.state()), { code: 'TRANSPORT' }, 'a closed client refuses calls');
  await env.close();
});

t.test("http: session 'default' shares the server's default session with plain requests", async (t) => {
  const server = await startTestServer(t);
  const env = new EchoEnv({ baseUrl: server.url, session: 'default' });
  t.teardown(() => env.close());
  await env.reset({ episode_id: 'shared' });
  await env.step({ message: 'one' });
  t.same((await request(server, 'GET', '/state')).body, { episode_id: 'shared', step_count: 1 });
  const plain = await request(server, 'POST', '/step', { action: { message: 'two' } });
  t.equal(plain.body.metadata.step, 2);
  t.same(await env.state(), { episode_id: 'shared', step_count: 2 });
  t.equal(server.app.sessions.size, 1);
  await env.close();
  t.equal(server.app.sessions.size, 1, 'close() leaves the default session open');
});

t.test('http: session {id} acts on an existing session and leaves it open', async (t) => {
  const server = await startTestServer(t);
  const created = await request(server, 'POST', '/sessions');
  t.equal(created.status, 201);
  const id: string = created.body.session_id;
  const env = new EchoEnv({ baseUrl: server.url, session: { id } });
  t.teardown(() => env.close());
  await env.reset({ episode_id: 'existing' });
  await env.step({ message: 'x' });
  t.same((await request(server, 'GET', '/state', undefined, { 'X-Session-Id': id })).body, { episode_id: 'existing', step_count: 1 });
  t.equal(server.app.sessions.size, 1, 'no other session was opened');
  await env.close();
  t.equal(server.app.sessions.size, 1);
  t.equal((await request(server, 'GET', '/state', undefined, { 'X-Session-Id': id })).status, 200);
});

t.test('http: an unknown session id rejects with SessionNotFoundError', async (t) => {
  const server = await startTestServer(t);
  const env = new EchoEnv({ baseUrl: server.url, session: { id: 'nope' } });
  t.teardown(() => env.close());
  const error = await rejection(t, env.reset());
  t.type(error, SessionNotFoundError);
  t.match(error, { code: 'SESSION_NOT_FOUND', details: { session_id: 'nope' } });
  t.match(await rejection(t, env.state()), { code: 'SESSION_NOT_FOUND' });
  t.equal(server.app.sessions.size, 0);
});
