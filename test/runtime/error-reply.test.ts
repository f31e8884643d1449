import { connect } from 'node:net';
import t from 'tap';
import WebSocket from 'ws';
import {
  CapacityExceededError,
  errorReply,
  InvalidRequestError,
  PayloadTooLargeError,
  SandboxUnavailableError,
  UnauthorizedError,
  type Logger,
} from '../../runtime/index.js';
import { ProbeRegistry } from '../fixtures/probe-env.js';
import { request, startTestServer } from '../fixtures/test-server.js';

/** A logger that keeps its error entries, and a metrics stand-in that keeps the codes counted. */
function recordingSink(): { logger: Logger; metrics: { recordError(code: string): void }; errors: [string, Record<string, unknown>][]; counted: string[] } {
  const errors: [string, Record<string, unknown>][] = [];
  const counted: string[] = [];
  const ignore = (): void => undefined;
  return {
    logger: { debug: ignore, info: ignore, warn: ignore, error: (message, fields = {}) => errors.push([message, fields]) },
    metrics: { recordError: (code) => counted.push(code) },
    errors,
    counted,
  };
}

t.test('errorReply: the envelope, the headers, the count, and the one 5xx rule', async (t) => {
  const sink = recordingSink();
  const bug = new Error('secret internals');
  const internal = errorReply(bug, sink, { method: 'POST', path: '/step' });
  t.equal(internal.status, 500);
  t.equal(internal.body.error.code, 'INTERNAL');
  t.notMatch(internal.body.error.message, /secret internals/, 'no internals in the reply');
  t.same(sink.errors, [['request failed', { method: 'POST', path: '/step', error: bug }]], 'a 5xx is logged once, with its origin and cause');

  for (const busy of [new CapacityExceededError('full', { retryAfterS: 2 }), new SandboxUnavailableError('no sandbox')]) {
    t.equal(errorReply(busy, sink, {}).status, 503);
  }
  t.equal(errorReply(new InvalidRequestError('bad'), sink, {}).status, 422);
  t.equal(sink.errors.length, 1, '503 and 4xx are not logged');
  t.same(sink.counted, ['INTERNAL', 'CAPACITY_EXCEEDED', 'SANDBOX_UNAVAILABLE', 'INVALID_REQUEST'], 'every reply is counted');

  t.same(errorReply(new CapacityExceededError('full', { retryAfterS: 2 }), sink, {}).headers, { 'Retry-After': '2' });
  t.same(errorReply(new SandboxUnavailableError('memory', { retryAfterS: 1 }), sink, {}).headers, { 'Retry-After': '1' }, 'a sandbox refused for a passing cause says when to retry');
  t.same(errorReply(new SandboxUnavailableError('shutting down'), sink, {}).headers, {}, 'one refused for good does not');
  t.same(errorReply(new UnauthorizedError('no'), sink, {}).headers, { 'WWW-Authenticate': 'Bearer realm="envbox"' });
  t.same(errorReply(new PayloadTooLargeError('big'), sink, {}).headers, { Connection: 'close' });
  t.same(errorReply(new InvalidRequestError('bad', { details: { at: 1 } }), sink, {}).body, {
    error: { code: 'INVALID_REQUEST', message: 'bad', details: { at: 1 } },
  });
});

t.test('a 5xx is logged once and counted once on each transport: fast path, Koa route, WebSocket', async (t) => {
  const registry = new ProbeRegistry();
  const server = await startTestServer(t, {}, registry.definition());
  const logged: string[] = [];
  const { logger } = server.service;
  const original = logger.error;
  logger.error = (message, fields) => {
    logged.push(`${message} ${String(fields?.path)}`);
  };
  t.teardown(() => {
    logger.error = original;
  });

  for (const path of ['/step', '/step?via=query', '/STEP']) {
    const broken = await request(server, 'POST', path, { action: { op: 'throw' } });
    t.equal(broken.status, 500, path);
    t.equal(broken.body.error.code, 'INTERNAL', path);
  }
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`);
  t.teardown(() => ws.terminate());
  await new Promise((resolve) => ws.once('open', resolve));
  ws.send(JSON.stringify({ type: 'step', data: { op: 'throw' } }));
  const frame = await new Promise<string>((resolve) => ws.once('message', (data: Buffer) => resolve(data.toString('utf8'))));
  const { type, data } = JSON.parse(frame);
  t.equal(type, 'error');
  t.equal(data.code, 'INTERNAL');
  t.notMatch(data.message, /probe environment is broken/, 'internal messages stay in the log');

  t.same(logged, ['request failed /step', 'request failed /step', 'request failed /STEP', 'request failed /ws']);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  t.match(metrics, /^envbox_errors_total\{code="INTERNAL"\} 4$/m);
});

t.test('raw-socket replies (a request the parser rejects) are the same envelope with the common headers, and counted', async (t) => {
  const server = await startTestServer(t);
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1', () => socket.write('GARBAGE\r\n\r\n'));
    const parts: Buffer[] = [];
    socket.on('data', (part: Buffer) => parts.push(part));
    socket.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    socket.on('error', reject);
  });
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  const lines = head.split('\r\n');
  t.equal(lines[0], 'HTTP/1.1 400 Bad Request');
  for (const header of ['Cache-Control: no-store', 'X-Content-Type-Options: nosniff', 'Content-Type: application/json; charset=utf-8', 'Connection: close']) {
    t.ok(lines.includes(header), header);
  }
  t.ok(lines.includes(`Content-Length: ${Buffer.byteLength(body)}`), 'Content-Length');
  t.equal(JSON.parse(body).error.code, 'BAD_REQUEST');
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  t.match(metrics, /^envbox_errors_total\{code="BAD_REQUEST"\} 1$/m);
});
