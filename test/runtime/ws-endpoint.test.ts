import { once } from 'node:events';
import { connect as connectTcp } from 'node:net';
import t, { type Test } from 'tap';
import WebSocket, { type ClientOptions } from 'ws';
import type { EnvboxServer } from '../../runtime/index.js';
import { heartbeatIntervalMs } from '../fixtures/event-loop-lag.js';
import { request, sessionClosed, startTestServer } from '../fixtures/test-server.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** How a socket was closed, as its client saw it. */
interface Closed {
  code: number;
  reason: string;
}

/**
 * A raw `ws` client that keeps every message it receives, in order, so a test can await the next
 * one without ever missing a message that came early.
 */
class Peer {
  readonly ws: WebSocket;
  /** Resolves when the handshake is done; rejects when it fails. */
  readonly opened: Promise<void>;
  /** Resolves with the close code and reason when the socket is closed (by either side). */
  readonly closed: Promise<Closed>;
  readonly errors: Error[] = [];
  readonly #received: unknown[] = [];
  readonly #waiting: { resolve: (message: any) => void; reject: (error: Error) => void }[] = [];
  #isClosed = false;

  constructor(server: EnvboxServer, options: ClientOptions = {}, path = '/ws') {
    this.ws = new WebSocket(`${server.url.replace('http', 'ws')}${path}`, options);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    // Handled here; a test that expects the handshake to fail awaits `opened` itself.
    this.opened.catch(() => undefined);
    this.ws.on('error', (error) => this.errors.push(error));
    this.ws.on('message', (data: Buffer) => {
      const message: unknown = JSON.parse(data.toString('utf8'));
      const waiter = this.#waiting.shift();
      if (waiter === undefined) this.#received.push(message);
      else waiter.resolve(message);
    });
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code: number, reason: Buffer) => {
        this.#isClosed = true;
        for (const waiter of this.#waiting.splice(0)) waiter.reject(new Error(`socket closed (${code}) before a message came`));
        resolve({ code, reason: reason.toString('utf8') });
      });
    });
  }

  /** The next message from the server (rejects if the socket closes first). */
  next(): Promise<any> {
    if (this.#received.length > 0) return Promise.resolve(this.#received.shift());
    if (this.#isClosed) return Promise.reject(new Error('socket closed before a message came'));
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  /** Send `message` as JSON text. */
  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  /** Send `message` and return the server's reply. */
  request(message: unknown): Promise<any> {
    this.send(message);
    return this.next();
  }

  close(): void {
    if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    else this.ws.close();
  }
}

/** Open a socket to `/ws`, closed when the test ends; resolves once the server opened its session. */
async function connect(t: Test, server: EnvboxServer, options: ClientOptions = {}): Promise<{ peer: Peer; sessionId: string }> {
  const sessionOpened = once(server.app.sessions, 'session-opened');
  const peer = new Peer(server, options);
  t.teardown(() => peer.close());
  await peer.opened;
  const [session] = (await sessionOpened) as [{ id: string }];
  return { peer, sessionId: session.id };
}

t.test('reset, step and state round trip', async (t) => {
  const server = await startTestServer(t);
  const { peer } = await connect(t, server);

  t.same(await peer.request({ type: 'reset', data: {} }), {
    type: 'observation',
    data: {
      observation: { echoed_message: 'Echo environment ready!', message_length: 0, metadata: {} },
      reward: 0,
      done: false,
      metadata: {},
    },
  });

  const step = await peer.request({ type: 'step', data: { message: 'hi' } });
  t.match(step, {
    type: 'observation',
    data: {
      observation: { echoed_message: 'hi', message_length: 2, metadata: { original_message: 'hi', step: 1 } },
      done: false,
      metadata: { step: 1 },
    },
  });
  t.equal(typeof step.data.reward, 'number');
  t.ok(Math.abs(step.data.reward - 0.2) < 1e-9, `reward ${step.data.reward} is 0.2`);

  const state = await peer.request({ type: 'state' });
  t.same(Object.keys(state), ['type', 'data']);
  t.equal(state.type, 'state');
  t.same(state.data, { episode_id: state.data.episode_id, step_count: 1 });
  t.match(state.data.episode_id, UUID);

  t.same(await peer.request({ type: 'reset', data: { episode_id: 'ep-1' } }), {
    type: 'observation',
    data: {
      observation: { echoed_message: 'Echo environment ready!', message_length: 0, metadata: {} },
      reward: 0,
      done: false,
      metadata: {},
    },
  });
  t.same(await peer.request({ type: 'state' }), { type: 'state', data: { episode_id: 'ep-1', step_count: 0 } });
});

t.test('bad messages are answered with errors and keep the connection open', async (t) => {
  const server = await startTestServer(t);
  const { peer } = await connect(t, server);

  peer.ws.send('{"type": "step", "data": ');
  const invalidJson = await peer.next();
  t.equal(invalidJson.type, 'error');
  t.equal(invalidJson.data.code, 'INVALID_JSON');
  t.match(invalidJson.data.message, /^Message is not valid JSON \(.+\); send a JSON object/);
  t.match(await peer.request({ type: 'step', data: { message: 'still here' } }), {
    type: 'observation',
    data: { observation: { echoed_message: 'still here', metadata: { step: 1 } } },
  });

  t.same(await peer.request({ type: 'dance' }), {
    type: 'error',
    data: {
      code: 'INVALID_REQUEST',
      message: 'Unknown message type "dance"; expected one of reset, step, state, close, mcp.',
      details: { type: 'dance', expected: ['reset', 'step', 'state', 'close', 'mcp'] },
    },
  });
  t.same(await peer.request({ data: {} }), {
    type: 'error',
    data: {
      code: 'INVALID_REQUEST',
      message: 'Unknown message type null; expected one of reset, step, state, close, mcp.',
      details: { type: null, expected: ['reset', 'step', 'state', 'close', 'mcp'] },
    },
  });

  const badAction = await peer.request({ type: 'step', data: { msg: 1 } });
  t.equal(badAction.type, 'error');
  t.equal(badAction.data.code, 'INVALID_REQUEST');
  t.match(badAction.data.message, /^Action is invalid/);
  const paths = (badAction.data.details.issues as { path: unknown[] }[]).map((issue) => issue.path);
  t.same(paths.sort((a, b) => a.length - b.length), [[], ['message']], 'one issue for the unknown key, one for the missing message');
  t.match(badAction.data.details.issues, [{ code: String, message: String }, { code: String, message: String }]);

  for (const text of ['[1,2]', '"x"', 'null', '42']) {
    peer.ws.send(text);
    t.same(
      await peer.next(),
      {
        type: 'error',
        data: { code: 'INVALID_REQUEST', message: 'Message must be a JSON object such as {"type": "reset", "data": {}}.' },
      },
      `non-object ${text}`,
    );
  }

  // None of it cost the episode its steps.
  t.same((await peer.request({ type: 'state' })).data.step_count, 1);
  t.equal(peer.ws.readyState, WebSocket.OPEN);
  t.equal(server.app.sessions.size, 1);
});

t.test('replies come back in request order when messages are pipelined', async (t) => {
  const server = await startTestServer(t);
  const { peer } = await connect(t, server);
  const count = 50;
  for (let i = 0; i < count; i += 1) peer.send({ type: 'step', data: { message: `m${i}` } });
  const replies: any[] = [];
  for (let i = 0; i < count; i += 1) replies.push(await peer.next());
  t.same(
    replies.map((reply) => reply.data.observation.echoed_message),
    Array.from({ length: count }, (_, i) => `m${i}`),
  );
  t.same(
    replies.map((reply) => reply.data.metadata.step),
    Array.from({ length: count }, (_, i) => i + 1),
  );
  t.same((await peer.request({ type: 'state' })).data.step_count, count);
});

t.test('each connection is its own session', async (t) => {
  const server = await startTestServer(t);
  const a = await connect(t, server);
  const b = await connect(t, server);
  t.not(a.sessionId, b.sessionId);
  t.equal(server.app.sessions.size, 2);
  t.equal(server.ws.size, 2);

  await a.peer.request({ type: 'reset', data: {} });
  await b.peer.request({ type: 'reset', data: {} });
  await a.peer.request({ type: 'step', data: { message: 'a1' } });
  await a.peer.request({ type: 'step', data: { message: 'a2' } });
  const bStep = await b.peer.request({ type: 'step', data: { message: 'b1' } });
  t.equal(bStep.data.metadata.step, 1, 'b counts its own steps');

  const stateA = (await a.peer.request({ type: 'state' })).data;
  const stateB = (await b.peer.request({ type: 'state' })).data;
  t.equal(stateA.step_count, 2);
  t.equal(stateB.step_count, 1);
  t.match(stateA.episode_id, UUID);
  t.match(stateB.episode_id, UUID);
  t.not(stateA.episode_id, stateB.episode_id);

  t.equal((await request(server, 'GET', '/health')).body.active_sessions, 2);
  const closed = sessionClosed(server, a.sessionId);
  a.peer.ws.close();
  const [session, reason] = await closed;
  t.equal(session.id, a.sessionId);
  t.equal(reason, 'disconnect');
  t.equal(server.app.sessions.size, 1);
  t.equal((await request(server, 'GET', '/health')).body.active_sessions, 1);
  // The other session did not notice.
  t.equal((await b.peer.request({ type: 'state' })).data.step_count, 1);
});

t.test('a close message closes the session (reason client) and the socket with 1000', async (t) => {
  const server = await startTestServer(t);
  const { peer, sessionId } = await connect(t, server);
  await peer.request({ type: 'reset', data: {} });
  const closed = sessionClosed(server, sessionId);
  peer.send({ type: 'close' });
  t.same(await peer.closed, { code: 1000, reason: 'closed by client' });
  const [, reason] = await closed;
  t.equal(reason, 'client');
  t.equal(server.app.sessions.size, 0);
});

t.test('over capacity a socket gets CAPACITY_EXCEEDED and 1013; a slot freed is reusable', async (t) => {
  const server = await startTestServer(t, { maxSessions: 1 });
  const first = await connect(t, server);
  t.equal((await first.peer.request({ type: 'reset', data: {} })).type, 'observation');

  const second = new Peer(server);
  t.teardown(() => second.close());
  await second.opened;
  const refusal = await second.next();
  t.equal(refusal.type, 'error');
  t.equal(refusal.data.code, 'CAPACITY_EXCEEDED');
  t.match(refusal.data.message, /^Server at capacity: 1\/1 sessions open/);
  t.same(refusal.data.details, { active_sessions: 1, max_sessions: 1 });
  t.same(await second.closed, { code: 1013, reason: 'CAPACITY_EXCEEDED' });
  t.equal(server.app.sessions.size, 1);
  // The refused socket did not disturb the open session.
  t.equal((await first.peer.request({ type: 'step', data: { message: 'x' } })).data.metadata.step, 1);

  const freed = sessionClosed(server, first.sessionId);
  first.peer.ws.close();
  await freed;
  t.equal(server.app.sessions.size, 0);

  const third = await connect(t, server);
  t.match(await third.peer.request({ type: 'reset', data: {} }), { type: 'observation', data: { reward: 0, done: false } });
  t.equal(server.app.sessions.size, 1);
});

t.test('a peer that stops answering pings is dropped; a live one survives', async (t) => {
  const server = await startTestServer(t, { wsPingIntervalMs: await heartbeatIntervalMs(50) });
  const healthy = await connect(t, server);
  await healthy.peer.request({ type: 'reset', data: {} });

  // Only the dead peer's session may close on this server: listen before it even exists.
  const closed = sessionClosed(server);
  const dead = await connect(t, server, { autoPong: false });
  t.equal((await dead.peer.request({ type: 'reset', data: {} })).type, 'observation');
  const [session, reason] = await closed;
  t.equal(session.id, dead.sessionId);
  t.equal(reason, 'disconnect');
  t.equal((await dead.peer.closed).code, 1006, 'terminated without a close frame');

  // Several ping intervals later the healthy peer is still served.
  for (let i = 0; i < 3; i += 1) await once(healthy.peer.ws, 'ping');
  t.match(await healthy.peer.request({ type: 'step', data: { message: 'alive' } }), {
    type: 'observation',
    data: { observation: { echoed_message: 'alive' }, metadata: { step: 1 } },
  });
  t.equal(server.app.sessions.size, 1);
});

t.test('an idle session is closed with its socket (4000)', async (t) => {
  const server = await startTestServer(t, { sessionIdleMs: 50 });
  const closed = sessionClosed(server);
  const peer = new Peer(server);
  t.teardown(() => peer.close());
  t.same(await peer.closed, { code: 4000, reason: 'session closed: idle' });
  const [, reason] = await closed;
  t.equal(reason, 'idle');
  t.equal(server.app.sessions.size, 0);
});

t.test('a message over maxBodyBytes closes that socket with 1009, and only that one', async (t) => {
  const server = await startTestServer(t, { maxBodyBytes: 1024 });
  const big = await connect(t, server);
  const closed = sessionClosed(server, big.sessionId);
  big.peer.send({ type: 'step', data: { message: 'x'.repeat(2000) } });
  t.equal((await big.peer.closed).code, 1009);
  const [, reason] = await closed;
  t.equal(reason, 'disconnect');

  const other = await connect(t, server);
  t.match(await other.peer.request({ type: 'step', data: { message: 'small' } }), {
    type: 'observation',
    data: { observation: { echoed_message: 'small' } },
  });
  const health = await request(server, 'GET', '/health');
  t.equal(health.status, 200);
  t.equal(health.body.active_sessions, 1);
});

t.test('binary frames: JSON is accepted, invalid UTF-8 is INVALID_JSON', async (t) => {
  const server = await startTestServer(t);
  const { peer } = await connect(t, server);
  peer.ws.send(Buffer.from(JSON.stringify({ type: 'step', data: { message: 'bin' } }), 'utf8'), { binary: true });
  t.match(await peer.next(), { type: 'observation', data: { observation: { echoed_message: 'bin' } } });

  peer.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: true });
  t.same(await peer.next(), {
    type: 'error',
    data: { code: 'INVALID_JSON', message: 'Binary message is not valid UTF-8; send JSON encoded as UTF-8.' },
  });
  t.equal((await peer.request({ type: 'state' })).data.step_count, 1);
});

t.test('GET /ws without upgrade is 426; an upgrade elsewhere is 404', async (t) => {
  const server = await startTestServer(t);
  const plain = await request(server, 'GET', '/ws');
  t.equal(plain.status, 426);
  t.same(plain.body, {
    error: { code: 'UPGRADE_REQUIRED', message: 'GET /ws is a WebSocket endpoint; connect with a WebSocket client.' },
  });

  const nope = new Peer(server, {}, '/nope');
  t.teardown(() => nope.close());
  const failure = await nope.opened.then(
    () => undefined,
    (error: unknown) => error,
  );
  t.type(failure, Error);
  t.equal((failure as Error).message, 'Unexpected server response: 404');
  await nope.closed;
  t.equal(server.app.sessions.size, 0);
  t.equal((await request(server, 'GET', '/health')).status, 200);

  // The refusal is the documented envelope, as every other error reply.
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connectTcp(server.port, '127.0.0.1', () =>
      socket.write('GET /nope HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'),
    );
    const parts: Buffer[] = [];
    socket.on('data', (part: Buffer) => parts.push(part));
    socket.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    socket.on('error', reject);
  });
  const [head = '', body = ''] = raw.split('\r\n\r\n');
  t.equal(head.split('\r\n')[0], 'HTTP/1.1 404 Not Found');
  t.same(JSON.parse(body), { error: { code: 'NOT_FOUND', message: 'No WebSocket endpoint at /nope; connect to /ws (or /mcp for MCP).' } });
});
