import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import t, { type Test } from 'tap';
import type { EnvboxServer } from '../../runtime/index.js';
import { ProbeRegistry } from '../fixtures/probe-env.js';
import { request, startTestServer } from '../fixtures/test-server.js';

/** A raw request, for bodies fetch will not send (bad UTF-8 with a lying length, chunked floods). */
function raw(server: EnvboxServer, path: string, chunks: Buffer[], headers: Record<string, string | number> = {}) {
  return new Promise<{ status: number; body: any }>((resolve, reject) => {
    const req = httpRequest(`${server.url}${path}`, { method: 'POST', headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString('utf8')) }));
    });
    // The server may answer 413 and close before the whole flood is written.
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' || error.code === 'EPIPE' ? undefined : reject(error)));
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

/** After each bad request, the server is up and an unrelated session still has its episode. */
async function assertUnharmed(t: Test, server: EnvboxServer, sessionId: string, steps: number) {
  const state = await request(server, 'GET', '/state', undefined, { 'X-Session-Id': sessionId });
  t.equal(state.status, 200, 'the other session still answers');
  t.equal(state.body.step_count, steps, 'the other session kept its step count');
}

t.test('every bad-input class gets its code, and no other session is disturbed', async (t) => {
  const server = await startTestServer(t, { maxBodyBytes: 4096 });
  const other = (await request(server, 'POST', '/sessions')).body.session_id as string;
  const headers = { 'X-Session-Id': other };
  await request(server, 'POST', '/reset', {}, headers);
  await request(server, 'POST', '/step', { action: { message: 'kept' } }, headers);

  const cases: { name: string; path: string; body: string | Uint8Array; status: number; code: string; paths?: unknown[] }[] = [
    { name: 'malformed JSON', path: '/step', body: '{"action": {', status: 400, code: 'INVALID_JSON' },
    { name: 'trailing garbage', path: '/step', body: '{"action": {"message": "a"}} x', status: 400, code: 'INVALID_JSON' },
    { name: 'invalid UTF-8', path: '/step', body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), status: 400, code: 'INVALID_JSON' },
    { name: 'lone surrogate bytes', path: '/reset', body: Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), status: 400, code: 'INVALID_JSON' },
    { name: 'a JSON array', path: '/step', body: '[1, 2]', status: 422, code: 'INVALID_REQUEST', paths: [[]] },
    { name: 'a JSON string', path: '/reset', body: '"reset"', status: 422, code: 'INVALID_REQUEST' },
    { name: 'JSON null', path: '/step', body: 'null', status: 422, code: 'INVALID_REQUEST' },
    { name: 'missing action', path: '/step', body: '{}', status: 422, code: 'INVALID_REQUEST', paths: [['action']] },
    { name: 'action of the wrong type', path: '/step', body: '{"action": "hi"}', status: 422, code: 'INVALID_REQUEST', paths: [['action']] },
    { name: 'field of the wrong type', path: '/step', body: '{"action": {"message": 42}}', status: 422, code: 'INVALID_REQUEST', paths: [['action', 'message']] },
    { name: 'unknown action field', path: '/step', body: '{"action": {"message": "a", "shout": true}}', status: 422, code: 'INVALID_REQUEST', paths: [['action']] },
    { name: 'metadata not an object', path: '/step', body: '{"action": {"message": "a", "metadata": 3}}', status: 422, code: 'INVALID_REQUEST', paths: [['action', 'metadata']] },
    { name: 'negative timeout', path: '/step', body: '{"action": {"message": "a"}, "timeout_s": -1}', status: 422, code: 'INVALID_REQUEST', paths: [['timeout_s']] },
    { name: 'negative seed', path: '/reset', body: '{"seed": -1}', status: 422, code: 'INVALID_REQUEST', paths: [['seed']] },
    { name: 'fractional seed', path: '/reset', body: '{"seed": 1.5}', status: 422, code: 'INVALID_REQUEST', paths: [['seed']] },
    { name: 'episode_id of the wrong type', path: '/reset', body: '{"episode_id": 5}', status: 422, code: 'INVALID_REQUEST', paths: [['episode_id']] },
    { name: 'body over the limit', path: '/step', body: JSON.stringify({ action: { message: 'x'.repeat(5000) } }), status: 413, code: 'PAYLOAD_TOO_LARGE' },
  ];
  for (const c of cases) {
    const response = await request(server, 'POST', c.path, c.body);
    t.equal(response.status, c.status, `${c.name}: status`);
    t.equal(response.body.error.code, c.code, `${c.name}: code`);
    t.type(response.body.error.message, 'string', `${c.name}: message`);
    if (c.paths !== undefined) {
      const paths = (response.body.error.details.issues as { path: unknown[] }[]).map((issue) => issue.path);
      for (const path of c.paths) t.ok(paths.some((p) => JSON.stringify(p) === JSON.stringify(path)), `${c.name}: issue at ${JSON.stringify(path)}`);
    }
    await assertUnharmed(t, server, other, 1);
  }
});

t.test('413 for a chunked body that grows past the limit, and for a declared length past it', async (t) => {
  const server = await startTestServer(t, { maxBodyBytes: 1024 });
  const chunked = await raw(server, '/step', Array.from({ length: 64 }, () => Buffer.alloc(1024, 0x20)), { 'transfer-encoding': 'chunked' });
  t.equal(chunked.status, 413);
  t.equal(chunked.body.error.code, 'PAYLOAD_TOO_LARGE');
  t.match(chunked.body.error.details, { max_body_bytes: 1024 });
  const declared = await raw(server, '/step', [Buffer.alloc(10, 0x20)], { 'content-length': 10 * 1024 * 1024 }).catch(() => undefined);
  // Either the 413 arrives or the server cuts the connection that announced too much; both leave it up.
  if (declared !== undefined) t.equal(declared.status, 413);
  t.equal((await request(server, 'GET', '/health')).status, 200);
});

t.test('the default body limit is 1 MiB', async (t) => {
  const server = await startTestServer(t);
  const fits = await request(server, 'POST', '/step', { action: { message: 'x'.repeat(1024 * 1024 - 100) } });
  t.equal(fits.status, 200);
  const over = await request(server, 'POST', '/step', { action: { message: 'x'.repeat(1024 * 1024) } });
  t.equal(over.status, 413);
  t.equal(over.body.error.code, 'PAYLOAD_TOO_LARGE');
});

t.test('deeply nested JSON is an ordinary 422, not a crash', async (t) => {
  const server = await startTestServer(t);
  const depth = 100_000;
  const nested = `{"action": {"message": ${'['.repeat(depth)}${']'.repeat(depth)}}}`;
  const response = await request(server, 'POST', '/step', nested);
  t.equal(response.status, 422);
  t.equal(response.body.error.code, 'INVALID_REQUEST');
  const inMetadata = `{"action": {"message": "a", "metadata": {"x": ${'['.repeat(depth)}${']'.repeat(depth)}}}}`;
  const accepted = await request(server, 'POST', '/step', inMetadata);
  t.equal(accepted.status, 200, 'free-form metadata may nest deeply');
  t.equal((await request(server, 'GET', '/health')).status, 200);
});

t.test('a malformed URL is a 4xx with the envelope', async (t) => {
  const server = await startTestServer(t);
  const response = await request(server, 'DELETE', '/sessions/%E0%A4%A');
  t.ok(response.status >= 400 && response.status < 500, `status ${response.status}`);
  t.type(response.body.error.code, 'string');
});

t.test('--request-timeout-s bounds receiving a request, not answering it', async (t) => {
  const registry = new ProbeRegistry();
  const server = await startTestServer(t, { requestTimeoutMs: 200 }, registry.definition());
  const id = (await request(server, 'POST', '/sessions')).body.session_id as string;
  await request(server, 'POST', '/reset', {}, { 'X-Session-Id': id });
  const entered = registry.entered('slow');
  const slowStep = request(server, 'POST', '/step', { action: { op: 'hold', key: 'slow' } }, { 'X-Session-Id': id });
  await entered;
  // A request begun after the slow step was received, whose body never completes: its 408 proves the
  // slow step has been running for longer than the request timeout.
  const stalled = await new Promise<string>((resolve) => {
    const socket = connect(server.port, '127.0.0.1', () => socket.write('POST /reset HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{'));
    const parts: Buffer[] = [];
    socket.on('data', (part: Buffer) => parts.push(part));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Buffer.concat(parts).toString('utf8')));
  });
  t.match(stalled, /^HTTP\/1\.1 408 [\s\S]*"code":"REQUEST_TIMEOUT"/, 'a stalled upload gets 408 REQUEST_TIMEOUT');
  registry.release('slow');
  const answered = await slowStep;
  t.equal(answered.status, 200, 'the step that outlived the request timeout is still answered');
  t.equal(answered.body.observation.order, 1, 'with its observation');
});
