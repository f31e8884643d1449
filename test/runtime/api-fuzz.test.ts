/**
 * API fuzzer (issue 8): property-based requests against every route and the WS protocol of a real
 * echo_env server over real sockets. Invariants on every run: never a 5xx, an answer to every
 * request (per-request timeouts), every error is the documented envelope with a code from the
 * README's table (and that code's status), and a bystander session keeps its episode throughout.
 *
 * The seed is fixed (override with FUZZ_SEED); fast-check prints seed and counterexample on failure.
 */
import { request as httpRequest, Agent } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import type { EnvboxServer } from '../../runtime/index.js';
import { startTestServer } from '../fixtures/test-server.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_250_608);
const MAX_BODY_BYTES = 65_536;
const ANSWER_TIMEOUT_MS = 5_000;

/** The README's errors table: code -> status. */
const ERROR_STATUS: Record<string, number> = {
  INVALID_JSON: 400,
  BAD_REQUEST: 400,
  REQUEST_TIMEOUT: 408,
  HEADERS_TOO_LARGE: 431,
  INVALID_REQUEST: 422,
  PAYLOAD_TOO_LARGE: 413,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  UNAUTHORIZED: 401,
  SESSION_NOT_FOUND: 404,
  SESSION_CLOSED: 409,
  UPGRADE_REQUIRED: 426,
  CAPACITY_EXCEEDED: 503,
  INTERNAL: 500,
};

const agent = new Agent({ keepAlive: true, maxSockets: 8 });
t.teardown(() => agent.destroy());

interface Answer {
  status: number;
  text: string;
}

/** One raw request (Buffer bodies, any method, any header); rejects if no answer in time. */
function send(server: EnvboxServer, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const all: Record<string, string | number> = { ...headers };
    if (body !== undefined) all['content-length'] = body.length;
    const req = httpRequest(`${server.url}${path}`, { method, headers: all, agent, timeout: ANSWER_TIMEOUT_MS }, (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to ${method} ${path} within ${ANSWER_TIMEOUT_MS} ms`)));
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    req.end(body);
  });
}

function fail(message: string): never {
  throw new Error(message);
}

/** The invariants on one HTTP answer; throws (so fast-check shrinks) on a violation. */
function checkAnswer(what: string, answer: Answer, method: string): void {
  if (answer.status >= 500) fail(`${what}: ${answer.status} ${answer.text}`);
  if (answer.status < 400 || method === 'HEAD') return;
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    fail(`${what}: error ${answer.status} is not JSON: ${JSON.stringify(answer.text.slice(0, 200))}`);
  }
  checkEnvelope(what, body, answer.status);
}

/** `{"error": {"code": string, "message": string, "details"?}}` with a documented code (and its status). */
function checkEnvelope(what: string, body: unknown, status?: number): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) fail(`${what}: envelope is not an object`);
  const keys = Object.keys(body);
  if (keys.length !== 1 || keys[0] !== 'error') fail(`${what}: envelope keys ${JSON.stringify(keys)}`);
  checkWireError(what, (body as { error: unknown }).error, status);
}

function checkWireError(what: string, error: unknown, status?: number): void {
  if (typeof error !== 'object' || error === null || Array.isArray(error)) fail(`${what}: error is not an object`);
  const { code, message } = error as Record<string, unknown>;
  const extra = Object.keys(error).filter((key) => !['code', 'message', 'details'].includes(key));
  if (extra.length > 0) fail(`${what}: unexpected error fields ${JSON.stringify(extra)}`);
  if (typeof code !== 'string' || !(code in ERROR_STATUS)) fail(`${what}: undocumented code ${JSON.stringify(code)}`);
  if (typeof message !== 'string') fail(`${what}: message is not a string`);
  if (status !== undefined && ERROR_STATUS[code] !== status) fail(`${what}: ${code} came with status ${status}`);
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];

const sessionId = fc.oneof(
  fc.uuid(),
  fc.stringMatching(/^[\x21-\x7e]{0,40}$/),
  fc.constantFrom('', 'default', '00000000-0000-0000-0000-000000000000', '../state', '%00'),
);

const path = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('/reset', '/step', '/state', '/health', '/metadata', '/schema', '/sessions') },
  { weight: 2, arbitrary: sessionId.map((id) => `/sessions/${encodeURIComponent(id)}`) },
  { weight: 1, arbitrary: fc.constantFrom('/sessions/', '/sessions/a/b', '/reset/', '/STEP', '/%ff', '/%', '//step', '/step?x=%zz', '/ws/x', '/') },
  { weight: 2, arbitrary: fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)) },
);

const text = (s: string) => Buffer.from(s, 'utf8');
const serialized = (value: unknown) => {
  try {
    return JSON.stringify(value) ?? 'undefined';
  } catch {
    return 'null';
  }
};
const INVALID_UTF8 = [[0xff], [0xfe], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0x80]];

const validJsonText = fc.oneof(
  fc.json(),
  fc.record({ action: fc.record({ message: fc.string() }) }).map(serialized),
  fc.constant('{"action":{"message":"hi"},"timeout_s":5,"request_id":"r"}'),
  fc.constant('{"seed":1,"episode_id":"e"}'),
);

const body: fc.Arbitrary<Buffer | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constant(Buffer.alloc(0)),
  fc.json().map(text),
  fc.anything().map((value) => text(serialized(value))),
  // Truncated JSON.
  fc.tuple(validJsonText, fc.nat()).map(([s, n]) => text(s.slice(0, s.length === 0 ? 0 : n % s.length))),
  // Random bytes.
  fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)),
  // Invalid UTF-8 spliced into otherwise valid JSON.
  fc.tuple(validJsonText, fc.nat(), fc.constantFrom(...INVALID_UTF8)).map(([s, n, bad]) => {
    const bytes = text(s);
    const at = n % (bytes.length + 1);
    return Buffer.concat([bytes.subarray(0, at), Buffer.from(bad), bytes.subarray(at)]);
  }),
  // Wrong types in the known fields.
  fc.record(
    { action: fc.anything(), timeout_s: fc.anything(), request_id: fc.anything(), seed: fc.anything(), episode_id: fc.anything() },
    { requiredKeys: [] },
  ).map((value) => text(serialized(value))),
  // Unknown fields beside and inside valid bodies.
  fc.tuple(fc.string(), fc.jsonValue(), fc.string(), fc.jsonValue()).map(([k1, v1, k2, v2]) =>
    text(serialized({ action: { message: 'm', [k1]: v1 }, [k2]: v2 })),
  ),
  fc.tuple(fc.string(), fc.jsonValue()).map(([k, v]) => text(serialized({ seed: 3, [k]: v }))),
  // Just over (or at) the size limit.
  fc.integer({ min: -2, max: 64 }).map((over) => {
    const shell = '{"action":{"message":""}}';
    return text(shell.slice(0, -2) + 'x'.repeat(MAX_BODY_BYTES + over - shell.length) + '"}}');
  }),
);

const contentType = fc.option(
  fc.constantFrom('application/json', 'application/json; charset=latin1', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '*/*', ''),
  { nil: undefined },
);

// ---------------------------------------------------------------------------------------------
// The bystander

class Bystander {
  steps = 0;
  constructor(
    readonly server: EnvboxServer,
    readonly id: string,
  ) {}

  static async open(server: EnvboxServer): Promise<Bystander> {
    const created = await send(server, 'POST', '/sessions');
    if (created.status !== 201) fail(`bystander: POST /sessions ${created.status}`);
    const bystander = new Bystander(server, (JSON.parse(created.text) as { session_id: string }).session_id);
    const reset = await send(server, 'POST', '/reset', text('{}'), bystander.#headers());
    if (reset.status !== 200) fail(`bystander: reset ${reset.status} ${reset.text}`);
    await bystander.check();
    return bystander;
  }

  #headers(): Record<string, string> {
    return { 'x-session-id': this.id, 'content-type': 'application/json' };
  }

  /** Its state still has exactly the steps taken; one more step echoes its known message; health is fine. */
  async check(): Promise<void> {
    const state = await send(this.server, 'GET', '/state', undefined, this.#headers());
    if (state.status !== 200) fail(`bystander: state ${state.status} ${state.text}`);
    const stepCount = (JSON.parse(state.text) as { step_count: number }).step_count;
    if (stepCount !== this.steps) fail(`bystander: step_count ${stepCount}, expected ${this.steps}`);
    const message = `bystander-${this.steps}`;
    const step = await send(this.server, 'POST', '/step', text(JSON.stringify({ action: { message } })), this.#headers());
    if (step.status !== 200) fail(`bystander: step ${step.status} ${step.text}`);
    const echoed = (JSON.parse(step.text) as { observation: { echoed_message: string } }).observation.echoed_message;
    if (echoed !== message) fail(`bystander: echoed ${JSON.stringify(echoed)}, expected ${message}`);
    this.steps += 1;
    const health = await send(this.server, 'GET', '/health');
    if (health.status !== 200 || (JSON.parse(health.text) as { status: string }).status !== 'healthy') {
      fail(`bystander: health ${health.status} ${health.text}`);
    }
  }
}

async function setup(t: Test): Promise<{ server: EnvboxServer; bystander: Bystander }> {
  const server = await startTestServer(t, { maxBodyBytes: MAX_BODY_BYTES, maxSessions: 1000 });
  const bystander = await Bystander.open(server);
  t.comment(`fast-check seed ${SEED} (set FUZZ_SEED to change)`);
  return { server, bystander };
}

// ---------------------------------------------------------------------------------------------
// HTTP

t.test('HTTP: random methods, paths, bodies, headers', async (t) => {
  const { server, bystander } = await setup(t);
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...METHODS), path, body, fc.option(sessionId, { nil: undefined }), contentType, async (method, p, b, id, type) => {
      const headers: Record<string, string> = {};
      if (id !== undefined) headers['x-session-id'] = id;
      if (type !== undefined) headers['content-type'] = type;
      const what = `${method} ${p}`;
      const answer = await send(server, method, p, b, headers);
      checkAnswer(what, answer, method);
      // Do not let created sessions pile up to the capacity limit.
      if (answer.status === 201 && p === '/sessions') {
        const created = JSON.parse(answer.text) as { session_id: string };
        checkAnswer('DELETE created', await send(server, 'DELETE', `/sessions/${created.session_id}`), 'DELETE');
      }
      if (++run % 50 === 0) await bystander.check();
    }),
    { numRuns: 300, seed: SEED },
  );
  await bystander.check();
  t.equal(bystander.steps, 2 + Math.floor(run / 50), 'the bystander kept every step it took');
});

t.test('HTTP: deeply nested bodies (up to 10,000 levels) on every POST route', async (t) => {
  const { server, bystander } = await setup(t);
  const nested = (depth: number, kind: 'array' | 'object') =>
    kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  const shapes = fc.constantFrom(
    (deep: string) => deep,
    (deep: string) => `{"action":${deep}}`,
    (deep: string) => `{"action":{"message":"m","metadata":{"x":${deep}}}}`,
    (deep: string) => `{"seed":1,"extra":${deep}}`,
    (deep: string) => `{"episode_id":${deep}}`,
    (deep: string) => `{"action":{"message":"m"},"request_id":${deep}}`,
  );
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('/reset', '/step', '/sessions', '/state'),
      fc.oneof(fc.constant(10_000), fc.integer({ min: 500, max: 10_000 })),
      fc.constantFrom<'array' | 'object'>('array', 'object'),
      shapes,
      fc.boolean(),
      async (p, depth, kind, shape, truncate) => {
        let s = shape(nested(depth, kind));
        if (truncate) s = s.slice(0, s.length - 3);
        const answer = await send(server, 'POST', p, text(s), { 'content-type': 'application/json' });
        checkAnswer(`POST ${p} depth ${depth} ${kind}`, answer, 'POST');
        if (answer.status === 201 && p === '/sessions') {
          await send(server, 'DELETE', `/sessions/${(JSON.parse(answer.text) as { session_id: string }).session_id}`);
        }
      },
    ),
    { numRuns: 60, seed: SEED },
  );
  await bystander.check();
  t.equal(bystander.steps, 2, 'the bystander kept its episode');
});

// ---------------------------------------------------------------------------------------------
// HTTP framing over raw sockets: trickled, slow, truncated and mis-framed bodies

/** How long the framing server waits for a whole request (short, so stalled uploads answer 408 soon). */
const REQUEST_TIMEOUT_MS = 1_000;

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Write `chunks` to a fresh TCP connection, yielding to the event loop between them (so each is its
 * own segment), optionally half-close, and collect every response until the server closes the
 * connection. Rejects if the server neither answers nor closes within ANSWER_TIMEOUT_MS.
 */
function raw(server: EnvboxServer, chunks: readonly Buffer[], options: { end?: boolean } = {}): Promise<RawResponse[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    const received: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`raw: no answer and no close within ${ANSWER_TIMEOUT_MS} ms (got ${JSON.stringify(Buffer.concat(received).toString('latin1').slice(0, 200))})`));
    }, ANSWER_TIMEOUT_MS);
    socket.on('data', (data: Buffer) => received.push(data));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(parseResponses(Buffer.concat(received)));
      } catch (error) {
        reject(error);
      }
    });
    socket.once('connect', async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        socket.write(chunk);
        await new Promise((next) => setImmediate(next));
      }
      if (options.end === true) socket.end();
    });
  });
}

/** Split a byte stream into HTTP/1.1 responses (Content-Length framed, as the server writes them). */
function parseResponses(bytes: Buffer): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = bytes;
  while (rest.length > 0) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) fail(`raw: a partial response: ${JSON.stringify(rest.toString('latin1').slice(0, 200))}`);
    const [statusLine, ...lines] = rest.subarray(0, headEnd).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine!)?.[1] ?? fail(`raw: status line ${JSON.stringify(statusLine)}`));
    const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
    const length = Number(headers['content-length'] ?? fail(`raw: a response without Content-Length: ${statusLine}`));
    const body = rest.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8');
    responses.push({ status, headers, body });
    rest = rest.subarray(headEnd + 4 + length);
  }
  return responses;
}

/** A request's bytes: `head` lines, then the body (Content-Length `length`, by default its size; none for null). */
function httpBytes(method: string, path: string, body: string, extra: string[] = [], length?: number | string | null): Buffer {
  const bytes = text(body);
  const head = [`${method} ${path} HTTP/1.1`, 'Host: x', 'Content-Type: application/json', 'Connection: close', ...extra];
  if (length !== null) head.push(`Content-Length: ${length ?? bytes.length}`);
  return Buffer.concat([text(head.join('\r\n') + '\r\n\r\n'), bytes]);
}

/** Every response documented: never a 5xx, every error the envelope with its code's status. */
function checkRaw(what: string, responses: RawResponse[]): void {
  for (const response of responses) checkAnswer(what, { status: response.status, text: response.body }, 'POST');
}

/** The one error code of a single error response. */
function codeOf(responses: RawResponse[]): string | undefined {
  if (responses.length !== 1) return undefined;
  return (JSON.parse(responses[0]!.body) as { error?: { code?: string } }).error?.code;
}

t.test('HTTP framing: trickled, slow, truncated and mis-framed bodies over raw sockets', async (t) => {
  const server = await startTestServer(t, { maxBodyBytes: MAX_BODY_BYTES, maxSessions: 1000, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  const bystander = await Bystander.open(server);
  const step = JSON.stringify({ action: { message: 'trickled' } });

  // A body (and its headers) trickled in random pieces, each its own write: answered as if whole.
  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(fc.nat(), { maxLength: 12 }), async (cuts) => {
      const bytes = httpBytes('POST', '/step', step);
      const points = [...new Set(cuts.map((c) => c % bytes.length))].sort((a, b) => a - b);
      const pieces = [0, ...points, bytes.length].slice(1).map((end, i, ends) => bytes.subarray(i === 0 ? 0 : ends[i - 1], end));
      const responses = await raw(server, pieces);
      checkRaw('trickled step', responses);
      if (responses.length !== 1 || responses[0]!.status !== 200) fail(`trickled step: ${JSON.stringify(responses)}`);
      if ((JSON.parse(responses[0]!.body) as { observation: { echoed_message: string } }).observation.echoed_message !== 'trickled') {
        fail(`trickled step echoed ${responses[0]!.body}`);
      }
    }),
    { numRuns: 40, seed: SEED },
  );

  // A Content-Length longer or shorter than the body sent, the connection left open or half-closed.
  await fc.assert(
    fc.asyncProperty(fc.constantFrom('/step', '/reset', '/sessions'), fc.integer({ min: -20, max: 200 }), fc.boolean(), async (p, delta, end) => {
      const body = p === '/step' ? step : '{}';
      const declared = Math.max(0, Buffer.byteLength(body) + delta);
      const responses = await raw(server, [httpBytes('POST', p, body, [], declared)], { end });
      checkRaw(`POST ${p} Content-Length ${declared} for ${Buffer.byteLength(body)} bytes${end ? ', half-closed' : ''}`, responses);
      for (const r of responses) {
        if (r.status === 201) await send(server, 'DELETE', `/sessions/${(JSON.parse(r.body) as { session_id: string }).session_id}`);
      }
      // Longer than sent and left open: nothing more comes, so a route that reads the body must give
      // up with 408 (POST /sessions reads none and answers at once).
      if (p !== '/sessions' && delta > 0 && !end && codeOf(responses) !== 'REQUEST_TIMEOUT') fail(`stalled body: ${JSON.stringify(responses)}`);
    }),
    { numRuns: 30, seed: SEED },
  );
  await bystander.check();

  const cases: { name: string; bytes: Buffer[]; code: string; status: number }[] = [
    { name: 'headers that never end (slowloris)', bytes: [text('POST /step HTTP/1.1\r\nHost: x\r\nX-Slow: ')], code: 'REQUEST_TIMEOUT', status: 408 },
    { name: 'a body that stops half-way and stalls', bytes: [httpBytes('POST', '/step', step.slice(0, 10), [], step.length)], code: 'REQUEST_TIMEOUT', status: 408 },
    { name: 'Content-Length and Transfer-Encoding together (smuggling)', bytes: [httpBytes('POST', '/step', '0\r\n\r\n', ['Transfer-Encoding: chunked'])], code: 'BAD_REQUEST', status: 400 },
    { name: 'a negative Content-Length', bytes: [httpBytes('POST', '/step', step, [], -5)], code: 'BAD_REQUEST', status: 400 },
    { name: 'a non-numeric Content-Length', bytes: [httpBytes('POST', '/step', step, [], '12abc')], code: 'BAD_REQUEST', status: 400 },
    { name: 'two different Content-Lengths', bytes: [httpBytes('POST', '/step', step, [`Content-Length: ${step.length + 1}`])], code: 'BAD_REQUEST', status: 400 },
    { name: 'an invalid chunk size', bytes: [httpBytes('POST', '/step', 'zz\r\n{}\r\n0\r\n\r\n', ['Transfer-Encoding: chunked'], null)], code: 'BAD_REQUEST', status: 400 },
    { name: 'a malformed request line', bytes: [text('POST /step HTTP/9.x\r\n\r\n')], code: 'BAD_REQUEST', status: 400 },
    { name: 'a header with no colon', bytes: [text('POST /step HTTP/1.1\r\nHost x\r\n\r\n')], code: 'BAD_REQUEST', status: 400 },
    { name: 'a control character in a header value', bytes: [text('POST /step HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n')], code: 'BAD_REQUEST', status: 400 },
    { name: '64 KiB of headers', bytes: [text(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(65_536)}\r\n\r\n`)], code: 'HEADERS_TOO_LARGE', status: 431 },
    { name: 'a chunked body over --max-body-bytes', bytes: [httpBytes('POST', '/step', `10001\r\n${'a'.repeat(0x10001)}\r\n0\r\n\r\n`, ['Transfer-Encoding: chunked'], null)], code: 'PAYLOAD_TOO_LARGE', status: 413 },
  ];
  for (const c of cases) {
    const responses = await raw(server, c.bytes);
    checkRaw(c.name, responses);
    t.equal(codeOf(responses), c.code, `${c.name}: ${c.code}`);
    t.equal(responses[0]?.status, c.status, `${c.name}: ${c.status}`);
  }

  // A Content-Length shorter than the body: the request ends early (its truncated JSON is 400) and the
  // rest is not taken as a second request (no request smuggling past the first response).
  const short = await raw(server, [httpBytes('POST', '/step', `${step}POST /reset HTTP/1.1\r\nHost: x\r\n\r\n`, [], step.length - 4)]);
  checkRaw('short Content-Length', short);
  t.equal(short[0]?.status, 400, 'short Content-Length: the truncated body is 400 INVALID_JSON');
  t.notOk(short.some((r) => r.status === 200), 'the bytes after the declared length are never served as a request');

  await bystander.check();
  const health = await send(server, 'GET', '/health');
  t.equal(health.status, 200, 'the server is up after every mis-framed request');
  t.equal(bystander.steps, 3, 'the bystander kept its episode');
});

// ---------------------------------------------------------------------------------------------
// WebSocket

type WsSend = { kind: 'text'; data: string } | { kind: 'binary'; data: Buffer } | { kind: 'close' };

const wsMessage: fc.Arbitrary<WsSend> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('{"type":"reset"}', '{"type":"reset","data":{"seed":2}}', '{"type":"step","data":{"message":"hi"}}', '{"type":"state"}').map((data) => ({ kind: 'text' as const, data })) },
  { weight: 2, arbitrary: fc.json().map((data) => ({ kind: 'text' as const, data })) },
  { weight: 2, arbitrary: fc.anything().map((v) => ({ kind: 'text' as const, data: serialized(v) })) },
  {
    weight: 2,
    arbitrary: fc
      .record({ type: fc.constantFrom('reset', 'step', 'state', 'close', 'STEP', ''), data: fc.anything(), timeout_s: fc.anything(), request_id: fc.anything() }, { requiredKeys: ['type'] })
      .map((v) => ({ kind: 'text' as const, data: serialized(v) })),
  },
  { weight: 2, arbitrary: fc.string().map((data) => ({ kind: 'text' as const, data })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }).map((bytes) => ({ kind: 'binary' as const, data: Buffer.from(bytes) })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'binary' as const, data: text('{"type":"state"}') }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'close' as const }) },
);

/** Whether the server will read `m` as a close message (any object whose `type` is "close"). */
function isClose(m: WsSend): boolean {
  if (m.kind === 'close') return true;
  try {
    const raw = m.kind === 'binary' ? new TextDecoder('utf-8', { fatal: true }).decode(m.data) : m.data;
    const value = JSON.parse(raw) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) && (value as { type?: unknown }).type === 'close';
  } catch {
    return false;
  }
}

function checkWsReply(what: string, raw: string): { type: string } {
  let message: unknown;
  try {
    message = JSON.parse(raw);
  } catch {
    fail(`${what}: reply is not JSON`);
  }
  const { type, data } = (message ?? {}) as { type?: unknown; data?: unknown };
  if (type === 'error') checkWireError(what, data);
  else if (type !== 'observation' && type !== 'state') fail(`${what}: reply type ${JSON.stringify(type)}`);
  if (typeof data !== 'object' || data === null) fail(`${what}: reply data is not an object`);
  if (type === 'error' && ERROR_STATUS[(data as { code: string }).code]! >= 500) fail(`${what}: 5xx error ${raw}`);
  return { type: type as string };
}

t.test('WebSocket: random and out-of-order messages, binary frames, close then more', async (t) => {
  const { server, bystander } = await setup(t);
  const url = `${server.url.replace('http', 'ws')}/ws`;
  let connections = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(wsMessage, { minLength: 1, maxLength: 8 }), async (messages) => {
      connections += 1;
      const ws = new WebSocket(url);
      const replies: string[] = [];
      let closed: { code: number } | undefined;
      let wake = () => {};
      ws.on('message', (data: Buffer) => {
        replies.push(data.toString('utf8'));
        wake();
      });
      ws.on('close', (code: number) => {
        closed = { code };
        wake();
      });
      ws.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      const until = async (what: string, done: () => boolean) => {
        const deadline = Date.now() + ANSWER_TIMEOUT_MS;
        while (!done()) {
          if (Date.now() > deadline) fail(`WS: no answer: ${what} (replies ${replies.length}, closed ${JSON.stringify(closed)})`);
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, 50);
          });
        }
      };
      const closeAt = messages.findIndex(isClose);
      for (const m of messages) {
        if (m.kind === 'close') ws.send('{"type":"close"}', () => undefined);
        else ws.send(m.data, { binary: m.kind === 'binary' }, () => undefined);
      }
      try {
        if (closeAt >= 0) {
          // One reply per message before the close, then a normal close and nothing more.
          await until('close after {"type":"close"}', () => closed !== undefined);
          if (closed!.code !== 1000) fail(`WS: close code ${closed!.code}`);
          if (replies.length !== closeAt) fail(`WS: ${replies.length} replies before close, expected ${closeAt}`);
        } else {
          // One reply per message, in order, then a state reply to a final state message.
          ws.send('{"type":"state"}');
          await until('a reply to every message', () => replies.length >= messages.length + 1 || closed !== undefined);
          if (closed !== undefined) fail(`WS: server closed the socket (${closed.code}) after ${replies.length} replies`);
          if (replies.length !== messages.length + 1) fail(`WS: ${replies.length} replies to ${messages.length + 1} messages`);
          if (checkWsReply('WS final state', replies.at(-1)!).type !== 'state') fail(`WS: final reply is not state: ${replies.at(-1)}`);
        }
        replies.forEach((raw, i) => checkWsReply(`WS reply ${i}`, raw));
      } finally {
        if (closed === undefined) {
          ws.close();
          await until('client close', () => closed !== undefined).catch(() => ws.terminate());
        }
      }
      if (connections % 25 === 0) await bystander.check();
    }),
    { numRuns: 150, seed: SEED },
  );
  // An over-size message closes with 1009 and leaves the server up.
  const big = new WebSocket(url);
  await new Promise((resolve) => big.once('open', resolve));
  const code = await new Promise<number>((resolve) => {
    big.once('close', (c: number) => resolve(c));
    big.on('error', () => undefined);
    big.send(`{"type":"step","data":{"message":"${'x'.repeat(MAX_BODY_BYTES)}"}}`);
  });
  t.equal(code, 1009, 'an over-size message closes with 1009');
  await bystander.check();
  t.equal(bystander.steps, 2 + Math.floor(connections / 25), 'the bystander kept every step it took');
});

// ---------------------------------------------------------------------------------------------
// MCP (issue 22): POST/GET/DELETE /mcp, WS /mcp and {"type": "mcp"} on /ws

/** The JSON-RPC error codes envbox documents; -32603 (internal) would be a bug. */
const RPC_CODES = new Set([-32700, -32600, -32601, -32602, -32000, -32001]);

const rpcMessage = fc.record(
  {
    jsonrpc: fc.oneof({ weight: 5, arbitrary: fc.constant('2.0') }, { weight: 1, arbitrary: fc.anything() }),
    method: fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom('tools/list', 'tools/call', 'openenv/session/create', 'openenv/session/close', 'initialize', 'ping', 'notifications/initialized') },
      { weight: 1, arbitrary: fc.anything() },
    ),
    params: fc.oneof(
      fc.record(
        { name: fc.oneof(fc.constantFrom('echo_message', 'echo_with_length', 'nope', ''), fc.anything()), arguments: fc.oneof(fc.record({ message: fc.oneof(fc.string(), fc.anything()) }), fc.anything()), session_id: fc.oneof(sessionId, fc.anything()) },
        { requiredKeys: [] },
      ),
      fc.anything(),
    ),
    id: fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.anything()),
  },
  { requiredKeys: [] },
);

const mcpBody: fc.Arbitrary<Buffer | undefined> = fc.oneof({ weight: 3, arbitrary: rpcMessage.map((m) => text(serialized(m))) }, { weight: 2, arbitrary: body });

/** A JSON-RPC response with a documented error code (or a result); throws otherwise. */
function checkRpc(what: string, value: unknown): { result?: unknown; error?: { code: number } } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${what}: JSON-RPC reply is not an object`);
  const reply = value as Record<string, unknown>;
  if (reply.jsonrpc !== '2.0') fail(`${what}: jsonrpc ${JSON.stringify(reply.jsonrpc)}`);
  if (('result' in reply) === ('error' in reply)) fail(`${what}: needs exactly one of result and error: ${JSON.stringify(reply).slice(0, 200)}`);
  if ('error' in reply) {
    const error = reply.error as { code?: unknown; message?: unknown };
    if (typeof error.code !== 'number' || !RPC_CODES.has(error.code)) fail(`${what}: JSON-RPC error code ${JSON.stringify(error.code)}: ${JSON.stringify(error).slice(0, 300)}`);
    if (typeof error.message !== 'string') fail(`${what}: JSON-RPC error message is not a string`);
  }
  return reply as { result?: unknown; error?: { code: number } };
}

t.test('MCP over HTTP: random JSON-RPC, methods, bodies and session headers on /mcp', async (t) => {
  const { server, bystander } = await setup(t);
  let run = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('POST', 'POST', 'POST', 'GET', 'DELETE', 'PUT'),
      mcpBody,
      fc.option(sessionId, { nil: undefined }),
      fc.constantFrom('*/*', 'application/json', 'application/json, text/event-stream', 'text/plain'),
      async (method, b, id, accept) => {
        const headers: Record<string, string> = { 'content-type': 'application/json', accept };
        if (id !== undefined) headers['mcp-session-id'] = id;
        const what = `${method} /mcp`;
        const answer = await send(server, method, '/mcp', b, headers);
        if (answer.status >= 500 && answer.status !== 503) fail(`${what}: ${answer.status} ${answer.text}`);
        if (answer.status === 200 && method === 'POST' && id === undefined && answer.text.startsWith('{')) {
          const reply = checkRpc(what, JSON.parse(answer.text));
          // Sessions created by the fuzzer are closed again, so they cannot pile up.
          const created = (reply.result as { session_id?: unknown } | undefined)?.session_id;
          if (typeof created === 'string') await send(server, 'POST', '/mcp', text(serialized({ jsonrpc: '2.0', method: 'openenv/session/close', params: { session_id: created }, id: 1 })));
        } else if (answer.status >= 400 && answer.text.startsWith('{"error":{"code":"')) {
          checkAnswer(what, answer, method);
        } else if (answer.status >= 400 && answer.text.startsWith('{')) {
          checkRpc(what, JSON.parse(answer.text));
        }
        if (++run % 50 === 0) await bystander.check();
      },
    ),
    { numRuns: 250, seed: SEED },
  );
  // Every open session is the bystander or a Streamable HTTP session an accepted initialize opened:
  // no call without a session, refused initialize or closed OpenEnv session left one behind.
  t.equal(server.app.sessions.size, 1 + server.mcp!.size, 'no session leaked');
  await bystander.check();
  t.equal(bystander.steps, 2 + Math.floor(run / 50), 'the bystander kept every step it took');
});

t.test('MCP over WebSocket: random messages on WS /mcp and mcp frames on /ws, one JSON-RPC reply each', async (t) => {
  const { server, bystander } = await setup(t);
  const frame = fc.oneof(
    { weight: 3, arbitrary: rpcMessage.map(serialized) },
    { weight: 1, arbitrary: fc.json() },
    { weight: 1, arbitrary: fc.string() },
    { weight: 1, arbitrary: fc.anything().map(serialized) },
  );
  let connections = 0;
  await fc.assert(
    fc.asyncProperty(fc.boolean(), fc.array(frame, { minLength: 1, maxLength: 6 }), async (onWs, frames) => {
      connections += 1;
      const ws = new WebSocket(`${server.url.replace('http', 'ws')}${onWs ? '/ws' : '/mcp'}`);
      const replies: string[] = [];
      let waiter: (() => void) | undefined;
      ws.on('message', (data: Buffer) => {
        replies.push(data.toString('utf8'));
        waiter?.();
      });
      ws.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      try {
        for (const data of frames) {
          const before = replies.length;
          // On /ws the JSON-RPC message rides in an mcp frame.
          const sent = onWs ? `{"type":"mcp","data":${data.startsWith('{') ? data : serialized(data)}}` : data;
          const answered = new Promise<void>((resolve, reject) => {
            waiter = resolve;
            const timer = setTimeout(() => reject(new Error(`no answer to ${sent.slice(0, 200)}`)), ANSWER_TIMEOUT_MS);
            timer.unref();
          });
          ws.send(sent);
          if (replies.length === before) await answered;
          const reply = JSON.parse(replies.at(-1)!) as { type?: unknown; data?: unknown };
          if (!onWs) checkRpc(`WS /mcp reply to ${sent.slice(0, 100)}`, reply);
          else if (reply.type === 'mcp') checkRpc(`/ws mcp reply to ${sent.slice(0, 100)}`, reply.data);
          else checkWsReply(`/ws reply to ${sent.slice(0, 100)}`, replies.at(-1)!);
        }
        if (replies.length !== frames.length) fail(`${replies.length} replies to ${frames.length} messages`);
      } finally {
        ws.close();
      }
      if (connections % 25 === 0) await bystander.check();
    }),
    { numRuns: 120, seed: SEED },
  );
  await bystander.check();
  t.equal(bystander.steps, 2 + Math.floor(connections / 25), 'the bystander kept every step it took');
});
