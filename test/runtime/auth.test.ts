import t, { type Test } from 'tap';
import WebSocket from 'ws';
import { EchoEnv } from '../../envs/index.js';
import { bearerCheck, ConfigError, parseServeConfig, UnauthorizedError, type EnvboxServer } from '../../runtime/index.js';
import { request, startTestServer } from '../fixtures/test-server.js';

const TOKEN = 'test-token-0123456789abcdefghijklmnopqrstuvwxyz';
const RIGHT = { authorization: `Bearer ${TOKEN}` };
const WRONG = { authorization: `Bearer ${TOKEN}x` };

/** Every route but /health, with a body that succeeds when authorized. */
const ROUTES: readonly { method: string; path: string; body?: unknown; ok: number }[] = [
  { method: 'POST', path: '/reset', body: {}, ok: 200 },
  { method: 'POST', path: '/step', body: { action: { message: 'hi' } }, ok: 200 },
  { method: 'GET', path: '/state', ok: 200 },
  { method: 'GET', path: '/metadata', ok: 200 },
  { method: 'GET', path: '/schema', ok: 200 },
  { method: 'GET', path: '/openapi.json', ok: 200 },
  { method: 'POST', path: '/sessions', ok: 201 },
  // Hot paths with a query string go through Koa: both layers check.
  { method: 'GET', path: '/state?x=1', ok: 200 },
];

function refused(t: Test, response: { status: number; headers: Headers; body: any }, what: string): void {
  t.equal(response.status, 401, `${what}: 401`);
  t.equal(response.headers.get('www-authenticate'), 'Bearer realm="envbox"', `${what}: challenge`);
  t.same(Object.keys(response.body), ['error'], `${what}: envelope`);
  t.equal(response.body.error.code, 'UNAUTHORIZED', `${what}: code`);
  t.type(response.body.error.message, 'string');
  t.notMatch(response.body.error.message, TOKEN, `${what}: the token is not echoed`);
}

/** Resolve with the HTTP status the upgrade was refused with, or 101 when it opened. */
function upgrade(server: EnvboxServer, headers: Record<string, string>): Promise<{ status: number; body: string; challenge?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`, { headers });
    ws.on('open', () => {
      ws.close();
      resolve({ status: 101, body: '' });
    });
    ws.on('unexpected-response', (req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const result: { status: number; body: string; challenge?: string } = { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') };
        const challenge = res.headers['www-authenticate'];
        if (challenge !== undefined) result.challenge = challenge;
        resolve(result);
        req.destroy();
      });
    });
    ws.on('error', reject);
  });
}

t.test('every route but /health needs the token: 401 UNAUTHORIZED without it or with a wrong one', async (t) => {
  const server = await startTestServer(t, { token: TOKEN, web: true });
  for (const route of ROUTES) {
    const name = `${route.method} ${route.path}`;
    refused(t, await request(server, route.method, route.path, route.body), `${name} without a token`);
    refused(t, await request(server, route.method, route.path, route.body, WRONG), `${name} with a wrong token`);
    refused(t, await request(server, route.method, route.path, route.body, { authorization: TOKEN }), `${name} without "Bearer"`);
    const ok = await request(server, route.method, route.path, route.body, RIGHT);
    t.equal(ok.status, route.ok, `${name} with the token`);
  }
  // The web interface (an HTML page) needs the header too.
  const page = await fetch(`${server.url}/web`);
  t.equal(page.status, 401, 'GET /web without a token');
  t.equal(JSON.parse(await page.text()).error.code, 'UNAUTHORIZED');
  const shown = await fetch(`${server.url}/web`, { headers: RIGHT });
  t.equal(shown.status, 200, 'GET /web with the token');
  t.match(await shown.text(), /<!doctype html>/i);
  const id = (await request(server, 'POST', '/sessions', undefined, RIGHT)).body.session_id as string;
  refused(t, await request(server, 'DELETE', `/sessions/${id}`), 'DELETE /sessions/:id without a token');
  t.equal((await request(server, 'DELETE', `/sessions/${id}`, undefined, RIGHT)).status, 200);
  refused(t, await request(server, 'GET', '/no-such-route'), 'an unknown route without a token');
  t.equal((await request(server, 'GET', '/no-such-route', undefined, RIGHT)).status, 404);
});

t.test('/health: liveness only without a valid token, the full body with it', async (t) => {
  const server = await startTestServer(t, { token: TOKEN });
  for (const headers of [{}, WRONG]) {
    const reply = await request(server, 'GET', '/health', undefined, headers);
    t.equal(reply.status, 200);
    t.same(reply.body, { status: 'healthy' });
    t.strictSame(Object.keys(reply.body), ['status'], 'no env facts');
  }
  const full = await request(server, 'GET', '/health', undefined, RIGHT);
  t.equal(full.status, 200);
  t.match(full.body, { status: 'healthy', env: 'echo_env', active_sessions: Number, max_sessions: 64 });
});

t.test('without a token configured, nothing changes', async (t) => {
  const server = await startTestServer(t);
  t.equal((await request(server, 'POST', '/reset', {})).status, 200);
  t.match((await request(server, 'GET', '/health')).body, { env: 'echo_env' });
  t.equal((await upgrade(server, {})).status, 101);
});

t.test('the WebSocket upgrade is refused with 401 before it completes, and accepted with the token', async (t) => {
  const server = await startTestServer(t, { token: TOKEN });
  for (const headers of [{}, WRONG]) {
    const answer = await upgrade(server, headers);
    t.equal(answer.status, 401);
    t.equal(answer.challenge, 'Bearer realm="envbox"');
    t.equal(JSON.parse(answer.body).error.code, 'UNAUTHORIZED');
  }
  t.equal(server.app.sessions.size, 0, 'a refused upgrade opens no session');
  t.equal((await upgrade(server, RIGHT)).status, 101);
});

for (const transport of ['http', 'ws'] as const) {
  t.test(`${transport} client: works with the token, throws UnauthorizedError without it`, async (t) => {
    const server = await startTestServer(t, { token: TOKEN });
    const good = new EchoEnv({ baseUrl: server.url, transport, token: TOKEN });
    t.teardown(() => good.close());
    t.equal((await good.step({ message: 'hi' })).observation.echoed_message, 'hi');
    for (const token of [undefined, `${TOKEN}x`]) {
      const bad = new EchoEnv(token === undefined ? { baseUrl: server.url, transport } : { baseUrl: server.url, transport, token });
      t.teardown(() => bad.close().catch(() => undefined));
      const error = await bad.reset().then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      t.type(error, UnauthorizedError);
      t.match(error, { code: 'UNAUTHORIZED', status: 401 });
    }
  });
}

t.test('bearerCheck: exact match only', async (t) => {
  const check = bearerCheck('abc');
  t.ok(check('Bearer abc'));
  t.ok(check('bearer abc'), 'the scheme is case-insensitive (RFC 7235)');
  t.notOk(check('Bearer abcd'));
  t.notOk(check('Bearer ab'));
  t.notOk(check('Bearer '));
  t.notOk(check('Basic abc'));
  t.notOk(check('abc'));
  t.notOk(check(undefined));
  t.notOk(check(['Bearer abc', 'Bearer abc']));
  t.ok(bearerCheck(undefined)(undefined), 'no token configured: every request passes');
});

t.test('config: --token and ENVBOX_TOKEN; an empty token is an error that does not show values', async (t) => {
  t.equal(parseServeConfig({ env: 'echo_env', token: 'a' }, {}).token, 'a');
  t.equal(parseServeConfig({ env: 'echo_env' }, { ENVBOX_TOKEN: 'b' }).token, 'b');
  t.equal(parseServeConfig({ env: 'echo_env', token: 'a' }, { ENVBOX_TOKEN: 'b' }).token, 'a', 'the flag wins');
  t.equal(parseServeConfig({ env: 'echo_env' }, {}).token, undefined, 'no token by default');
  t.throws(() => parseServeConfig({ env: 'echo_env', token: '' }, {}), new ConfigError('invalid --token: expected a non-empty secret, received ""'));
  t.throws(() => parseServeConfig({ env: 'echo_env' }, { ENVBOX_TOKEN: '' }), new ConfigError('invalid ENVBOX_TOKEN: expected a non-empty secret, received ""'));
});
