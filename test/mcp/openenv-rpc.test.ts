import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import t from 'tap';
import { request, sessionClosed, startTestServer } from '../fixtures/test-server.js';
import { httpClient, rejection, rpc, WsPeer } from './mcp-fixtures.js';

// OpenEnv's plain JSON-RPC use of MCP (as its HTTPEnvServer answers it) on echo_env: POST /mcp
// without initialize, WS /mcp, and {"type": "mcp"} on /ws; errors, sessions, capacity, the token.

const ECHO_TOOLS = [
  {
    name: 'echo_message',
    description: 'Echo back the provided message.',
    inputSchema: { type: 'object', properties: { message: { type: 'string', description: 'The message to echo back.' } }, required: ['message'] },
  },
  {
    name: 'echo_with_length',
    description: 'Echo back the message with its length.',
    inputSchema: { type: 'object', properties: { message: { type: 'string', description: 'The message to echo back.' } }, required: ['message'] },
  },
];

/** OpenEnv's tools/call result of echo_message (FastMCP's CallToolResult as JSON), plus MCP's own keys. */
function echoResult(message: string) {
  return {
    content: [{ type: 'text', text: message, annotations: null, meta: null }],
    structured_content: { result: message },
    meta: null,
    data: message,
    is_error: false,
    structuredContent: { result: message },
    isError: false,
  };
}

const call = (id: number | string, name: string, args: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  method: 'tools/call',
  params: { name, arguments: args, ...extra },
  id,
});

t.test('POST /mcp without initialize: tools/list and tools/call as OpenEnv answers them', async (t) => {
  const server = await startTestServer(t);
  const listed = await rpc(server, { jsonrpc: '2.0', method: 'tools/list', params: {}, id: 1 });
  t.equal(listed.status, 200);
  t.same(listed.body, { jsonrpc: '2.0', id: 1, result: { tools: ECHO_TOOLS } });

  const echoed = await rpc(server, call(2, 'echo_message', { message: 'Hello, MCP!' }));
  t.same(echoed.body, { jsonrpc: '2.0', id: 2, result: echoResult('Hello, MCP!') });
  const withLength = await rpc(server, call('three', 'echo_with_length', { message: 'Test' }));
  t.match(withLength.body, {
    jsonrpc: '2.0',
    id: 'three',
    result: { content: [{ type: 'text', text: '{"message":"Test","length":4}' }], data: { message: 'Test', length: 4 }, structured_content: { message: 'Test', length: 4 }, is_error: false },
  });
  t.equal(server.app.sessions.size, 0, 'a call without a session ran in a session of its own, closed after it');
});

t.test('openenv/session/create and close: calls with session_id act on that envbox session', async (t) => {
  const server = await startTestServer(t);
  const created = await rpc(server, { jsonrpc: '2.0', method: 'openenv/session/create', params: {}, id: 1 });
  const sessionId: string = created.body.result.session_id;
  t.match(sessionId, /^[0-9a-f-]{36}$/);
  t.equal(server.app.sessions.get(sessionId).kind, 'mcp');

  t.same((await rpc(server, call(2, 'echo_message', { message: 'a' }, { session_id: sessionId }))).body.result.data, 'a');
  t.same((await rpc(server, call(3, 'echo_message', { message: 'b' }, { session_id: sessionId }))).body.result.data, 'b');
  // The same session over plain HTTP: its episode counted both tool calls as steps.
  t.match((await request(server, 'GET', '/state', undefined, { 'x-session-id': sessionId })).body, { step_count: 2 });
  t.same((await rpc(server, { jsonrpc: '2.0', method: 'tools/list', params: { session_id: sessionId }, id: 4 })).body.result.tools.length, 2);

  const closed = await rpc(server, { jsonrpc: '2.0', method: 'openenv/session/close', params: { session_id: sessionId }, id: 5 });
  t.same(closed.body, { jsonrpc: '2.0', id: 5, result: { session_id: sessionId, closed: true } });
  t.equal(server.app.sessions.size, 0);

  const afterClose = await rpc(server, call(6, 'echo_message', { message: 'c' }, { session_id: sessionId }));
  t.same(afterClose.body, { jsonrpc: '2.0', id: 6, error: { code: -32602, message: `Unknown session_id: ${sessionId}`, data: null } });
  const closeAgain = await rpc(server, { jsonrpc: '2.0', method: 'openenv/session/close', params: { session_id: sessionId }, id: 7 });
  t.same(closeAgain.body.error, { code: -32602, message: `Unknown session_id: ${sessionId}`, data: null });
  const closeNothing = await rpc(server, { jsonrpc: '2.0', method: 'openenv/session/close', params: {}, id: 8 });
  t.same(closeNothing.body.error, { code: -32602, message: "Invalid params - 'session_id' is required", data: null });
});

t.test('JSON-RPC errors: parse, invalid request, unknown method, invalid params (HTTP 200, as OpenEnv)', async (t) => {
  const server = await startTestServer(t);
  const malformed = await rpc(server, '{"jsonrpc": "2.0", "method": ');
  t.equal(malformed.status, 200);
  t.match(malformed.body, { jsonrpc: '2.0', id: null, error: { code: -32700, message: /^Parse error: Body is not valid JSON/, data: null } });
  const notUtf8 = await rpc(server, Buffer.from([0xff, 0xfe]) as never);
  t.match(notUtf8.body.error, { code: -32700 });

  t.match((await rpc(server, { jsonrpc: '1.0', method: 'tools/list', id: 1 })).body, { id: 1, error: { code: -32600, message: /^Invalid request at jsonrpc/ } });
  t.match((await rpc(server, { jsonrpc: '2.0', method: 'tools/list', params: [1], id: 2 })).body, { id: 2, error: { code: -32600, message: /at params/ } });
  t.match((await rpc(server, [{ jsonrpc: '2.0', method: 'tools/list', id: 3 }])).body, { id: null, error: { code: -32600 } });
  t.match((await rpc(server, { jsonrpc: '2.0', method: 'tools/list', id: 4, extra: true })).body, { id: 4, error: { code: -32600 } });

  // `openenv validate` posts {} and wants HTTP 200 with a JSON-RPC payload.
  const validator = await rpc(server, {});
  t.equal(validator.status, 200);
  t.match(validator.body, { jsonrpc: '2.0', id: null, error: { code: -32600 } });

  t.same((await rpc(server, { jsonrpc: '2.0', method: 'resources/list', id: 5 })).body, { jsonrpc: '2.0', id: 5, error: { code: -32601, message: 'Method not found: resources/list', data: null } });

  t.same((await rpc(server, { jsonrpc: '2.0', method: 'tools/call', params: {}, id: 6 })).body.error, { code: -32602, message: "Missing 'name' in params", data: null });
  t.match((await rpc(server, call(7, 'nope', {}))).body.error, { code: -32602, message: 'Unknown tool "nope"; tools: echo_message, echo_with_length.' });
  t.match((await rpc(server, call(8, 'echo_message', { message: 5 }))).body.error, {
    code: -32602,
    message: 'Arguments of echo_message are invalid at message: Invalid input: expected string, received number.',
    data: { issues: [{ path: ['message'], code: 'invalid_type' }] },
  });
  t.match((await rpc(server, call(9, 'echo_message', {}, { session_id: 'no-such-session' }))).body.error, { code: -32602, message: 'Unknown session_id: no-such-session' });
  // Every refusal was counted like any other error reply.
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  t.match(metrics, /envbox_errors_total\{code="INVALID_JSON"\} 2/);
  t.equal(server.app.sessions.size, 0, 'no refused request left a session behind');
});

t.test('capacity (--max-sessions 1): -32000 with the counts, on every MCP path; a freed slot is reusable', async (t) => {
  const server = await startTestServer(t, { maxSessions: 1 });
  const first = await rpc(server, { jsonrpc: '2.0', method: 'openenv/session/create', params: {}, id: 1 });
  const held: string = first.body.result.session_id;

  const second = await rpc(server, { jsonrpc: '2.0', method: 'openenv/session/create', params: {}, id: 2 });
  t.equal(second.status, 200);
  t.match(second.body, { jsonrpc: '2.0', id: 2, error: { code: -32000, message: /^Server at capacity: 1\/1 sessions open/, data: { code: 'CAPACITY_EXCEEDED', active_sessions: 1, max_sessions: 1 } } });
  t.match((await rpc(server, call(3, 'echo_message', { message: 'x' }))).body.error, { code: -32000, data: { code: 'CAPACITY_EXCEEDED' } }, 'a call without a session needs a slot too');

  const sdk = new Client({ name: 'envbox-test', version: '1.0.0' });
  const refused = await rejection(sdk.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`))));
  t.type(refused, StreamableHTTPError);
  t.equal(refused.code, 503);
  t.match(refused.message, /"code":-32000.*Server at capacity/);

  const socket = new WsPeer(t, server, '/mcp');
  t.match(await socket.next(), { jsonrpc: '2.0', id: null, error: { code: -32000, message: /^Server at capacity/, data: { active_sessions: 1, max_sessions: 1 } } });
  t.match(await socket.closed, { code: 1013 });

  t.equal((await rpc(server, call(4, 'echo_message', { message: 'still here' }, { session_id: held }))).body.result.data, 'still here', 'the open session is unharmed');
  await rpc(server, { jsonrpc: '2.0', method: 'openenv/session/close', params: { session_id: held }, id: 5 });
  const { client } = await httpClient(t, server);
  t.same((await client.callTool({ name: 'echo_message', arguments: { message: 'freed' } })).structuredContent, { result: 'freed' });
});

t.test('--token is enforced on POST /mcp, the SDK transport and WS /mcp', async (t) => {
  const server = await startTestServer(t, { token: 'sekrit' });
  const refused = await rpc(server, { jsonrpc: '2.0', method: 'tools/list', id: 1 });
  t.equal(refused.status, 401);
  t.equal(refused.headers.get('www-authenticate'), 'Bearer realm="envbox"');
  t.match(refused.body, { error: { code: 'UNAUTHORIZED', message: /requires a bearer token/ } });
  t.equal((await rpc(server, { jsonrpc: '2.0', method: 'tools/list', id: 1 }, { authorization: 'Bearer wrong' })).status, 401);
  t.equal((await rpc(server, { jsonrpc: '2.0', method: 'tools/list', id: 1 }, { authorization: 'Bearer sekrit' })).body.result.tools.length, 2);

  const sdk = new Client({ name: 'envbox-test', version: '1.0.0' });
  const sdkRefused = await rejection(sdk.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`))));
  t.match(sdkRefused.message, /401|Unauthorized|UNAUTHORIZED/);
  const { client } = await httpClient(t, server, { authorization: 'Bearer sekrit' });
  t.equal((await client.listTools()).tools.length, 2);

  await t.rejects(new WsPeer(t, server, '/mcp').opened, /upgrade refused: 401/);
  const allowed = new WsPeer(t, server, '/mcp', { authorization: 'Bearer sekrit' });
  t.equal((await allowed.call({ jsonrpc: '2.0', method: 'tools/list', id: 1 })).result.tools.length, 2);
  t.equal(server.app.sessions.size, 2, 'no refused request opened a session');
});

t.test('WS /mcp: JSON-RPC in the connection\'s own session, as OpenEnv answers it', async (t) => {
  const server = await startTestServer(t);
  const peer = new WsPeer(t, server, '/mcp');
  t.same(await peer.call({ jsonrpc: '2.0', method: 'tools/list', id: 1 }), { jsonrpc: '2.0', id: 1, result: { tools: ECHO_TOOLS } });
  t.same(await peer.call(call(2, 'echo_message', { message: 'over ws' })), { jsonrpc: '2.0', id: 2, result: echoResult('over ws') });
  const created = await peer.call({ jsonrpc: '2.0', method: 'openenv/session/create', id: 3 });
  const own: string = created.result.session_id;
  t.equal(server.app.sessions.get(own).kind, 'ws', 'session/create answers the socket\'s own session');
  t.match((await request(server, 'GET', '/state', undefined, { 'x-session-id': own })).body, { step_count: 1 }, 'the tool call was a step of that session');
  t.same((await peer.call({ jsonrpc: '2.0', method: 'openenv/session/close', params: { session_id: own }, id: 4 })).error, {
    code: -32600,
    message: 'Cannot close active WebSocket-managed session via MCP method',
    data: null,
  });
  t.match(await peer.call('not json'), { jsonrpc: '2.0', id: null, error: { code: -32700, message: /^Parse error/ } });
  t.match(await peer.call({ method: 'tools/list', id: 5 }), { id: 5, error: { code: -32600 } });
  t.match(await peer.call({ jsonrpc: '2.0', method: 'nope', id: 6 }), { id: 6, error: { code: -32601, message: 'Method not found: nope' } });
  peer.ws.close();
  await peer.closed;
  t.equal(server.app.sessions.size, 0, 'the session closed with the socket');
});

t.test('{"type": "mcp"} on /ws: the JSON-RPC response in an mcp frame, in the socket\'s session', async (t) => {
  const server = await startTestServer(t);
  const peer = new WsPeer(t, server, '/ws');
  await peer.call({ type: 'reset' });
  t.same(await peer.call({ type: 'mcp', data: call(1, 'echo_message', { message: 'hi' }) }), { type: 'mcp', data: { jsonrpc: '2.0', id: 1, result: echoResult('hi') } });
  t.match(await peer.call({ type: 'state' }), { type: 'state', data: { step_count: 1 } }, 'the tool call was a step of the socket\'s episode');
  t.same(await peer.call({ type: 'mcp', data: { jsonrpc: '2.0', method: 'tools/list', id: 2 } }), { type: 'mcp', data: { jsonrpc: '2.0', id: 2, result: { tools: ECHO_TOOLS } } });
  t.match(await peer.call({ type: 'mcp', data: { jsonrpc: '2.0', method: 'nope', id: 3 } }), { type: 'mcp', data: { id: 3, error: { code: -32601 } } });
  t.match(await peer.call({ type: 'mcp', data: { method: 'tools/list' } }), { type: 'mcp', data: { id: null, error: { code: -32600 } } });
  t.match(await peer.call({ type: 'mcp', data: 'tools/list' }), { type: 'error', data: { code: 'INVALID_REQUEST', message: /^Message is invalid at data/ } });
  t.match(await peer.call({ type: 'step', data: { message: 'plain step' } }), { type: 'observation', data: { observation: { echoed_message: 'plain step' } } });
});

t.test('an MCP session is an envbox session: idle reaping ends it, and tool calls are counted as steps', async (t) => {
  const server = await startTestServer(t, { sessionIdleMs: 60_000 });
  const { client, transport } = await httpClient(t, server);
  t.same((await client.callTool({ name: 'echo_message', arguments: { message: 'counted' } })).structuredContent, { result: 'counted' });
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  t.match(metrics, /^envbox_steps_total\{[^}]*\} 1$/m, 'the tool call is a step in the metrics');
  t.match(metrics, /^envbox_sessions 1$/m, 'the MCP session is an open session');

  // The reaper's own pass, as if a minute later (no waiting): the idle MCP session is closed.
  const closing = sessionClosed(server, transport.sessionId);
  t.equal(server.app.sessions.reapIdle(Date.now() + 61_000), 1);
  const [closed, reason] = await closing;
  t.equal(reason, 'idle');
  t.equal(closed.kind, 'mcp');
  t.equal(server.mcp!.size, 0, 'its MCP session ended with it');
  const gone = await rejection(client.callTool({ name: 'echo_message', arguments: { message: 'late' } }));
  t.type(gone, StreamableHTTPError);
  t.equal(gone.code, 404);
});
