import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import t, { type Test } from 'tap';
import type { EnvboxServer } from '../../runtime/index.js';
import { createCodingEnvDefinition } from '../../envs/index.js';
import { INTERRUPT_ONLY } from '../fixtures/interrupt-grace.js';
import { request, startTestServer } from '../fixtures/test-server.js';
import { httpClient, rejection, runCode, textOf } from './mcp-fixtures.js';

// The SDK's own client against coding_env over Streamable HTTP (real server, real sockets,
// CPython sandboxes): tools, state kept between calls, guest failures as isError results.

/** A server of coding_env (CPython sandboxes) of its own: closing a server closes its definition. */
async function codingServer(t: Test, interruptOnly = true): Promise<EnvboxServer> {
  const definition = await createCodingEnvDefinition({ pythonBackend: 'process', poolSize: 1, ...(interruptOnly ? INTERRUPT_ONLY : {}) });
  return startTestServer(t, {}, definition);
}

t.test('tools/list: run_code, reset and state with their input schemas', async (t) => {
  const server = await codingServer(t);
  const { client } = await httpClient(t, server);
  t.same(client.getServerVersion(), { name: 'envbox coding_env', version: server.app.definition.version });
  const { tools } = await client.listTools();
  t.same(tools.map((tool) => tool.name), ['run_code', 'reset', 'state']);
  const runCodeTool = tools[0]!;
  t.same(runCodeTool.inputSchema.required, ['code']);
  t.same(Object.keys(runCodeTool.inputSchema.properties ?? {}), ['code', 'language', 'timeout_s']);
  t.match(runCodeTool.description, /persist between calls/);
});

t.test('run_code twice keeps the state; an exception and a timeout are isError results; reset clears it', async (t) => {
  const server = await codingServer(t);
  const { client, transport } = await httpClient(t, server);
  t.ok(transport.sessionId, 'the server gave an Mcp-Session-Id');
  t.equal(server.app.sessions.get(transport.sessionId!).kind, 'mcp', 'the MCP session is an envbox session with the same id');

  const first = await runCode(client, { code: 'x = 41\nprint("set")' });
  t.same(first.structuredContent, { stdout: 'set\n', stderr: '', exit_code: 0, result: null, language: 'python', state_lost: false });
  t.equal(first.isError, false);
  t.equal(textOf(first), 'set');

  const second = await runCode(client, { code: 'print(x + 1)\nx' });
  t.same(second.structuredContent, { stdout: '42\n', stderr: '', exit_code: 0, result: '41', language: 'python', state_lost: false });
  t.equal(textOf(second), '42\n41');

  const raised = await runCode(client, { code: '1 / 0' });
  t.equal(raised.isError, true);
  t.equal(raised.structuredContent.exit_code, 1);
  t.match(raised.structuredContent.stderr, /ZeroDivisionError: division by zero/);
  t.match(textOf(raised), /ZeroDivisionError[\s\S]*exit code 1$/);

  const timedOut = await runCode(client, { code: 'while True: pass', timeout_s: 0.3 });
  t.equal(timedOut.isError, true);
  t.equal(timedOut.structuredContent.exit_code, 124);
  t.match(textOf(timedOut), /exit code 124: timed out; the episode's state is kept/);
  t.equal((await runCode(client, { code: 'x' })).structuredContent.result, '41', 'the state survived the timeout');

  const state = await client.callTool({ name: 'state', arguments: {} });
  t.match(state.structuredContent, { step_count: 5, last_exit_code: 0, language: 'python' });

  const reset = await client.callTool({ name: 'reset', arguments: { language: 'javascript' } });
  t.match(reset.structuredContent, { language: 'javascript', episode_id: String });
  const js = await runCode(client, { code: 'typeof x' });
  t.same(js.structuredContent.result, "'undefined'", 'a new episode, in JavaScript, without the old variables');
  const back = await runCode(client, { code: 'y = 1\ny', language: 'python' });
  t.match(back.structuredContent, { language: 'python', result: '1' }, 'another language starts a new episode in it');
});

t.test('a killed sandbox is an isError result saying the state is lost; the next call runs in a fresh sandbox', async (t) => {
  // The default kill grace: a loop that never looks at the interrupt is killed (137).
  const server = await codingServer(t, false);
  const { client } = await httpClient(t, server);
  await runCode(client, { code: 'x = 1' });
  const killed = await runCode(client, { code: 'sum(range(10**12))', timeout_s: 0.3 });
  t.equal(killed.isError, true);
  t.match(killed.structuredContent, { exit_code: 137, state_lost: true });
  t.match(textOf(killed), /exit code 137: the sandbox was killed; the episode's state is lost/);
  const after = await runCode(client, { code: 'print("alive")' });
  t.match(after.structuredContent, { stdout: 'alive\n', exit_code: 0 });
  t.equal((await runCode(client, { code: 'x' })).structuredContent.exit_code, 1, 'x is gone with the killed sandbox');
});

t.test('protocol errors: an unknown tool and invalid arguments are -32602; the server stays usable', async (t) => {
  const server = await codingServer(t);
  const { client } = await httpClient(t, server);
  const unknown = await rejection(client.callTool({ name: 'nope', arguments: {} }));
  t.type(unknown, McpError);
  t.match(unknown, { code: -32602, message: 'MCP error -32602: Unknown tool "nope"; tools: run_code, reset, state.' });
  const invalid = await rejection(client.callTool({ name: 'run_code', arguments: { code: 7 } }));
  t.match(invalid, { code: -32602, message: /Arguments of run_code are invalid at code: Invalid input: expected string, received number/, data: { issues: [{ path: ['code'] }] } });
  t.match(await rejection(client.callTool({ name: 'run_code', arguments: { code: '1', language: 'cobol' } })), { code: -32602, message: /at language/ });
  t.equal((await runCode(client, { code: '2 + 2' })).structuredContent.result, '4');
});

t.test('closing: the MCP session ends with its envbox session, and a call on it is "Session not found"', async (t) => {
  const server = await codingServer(t);
  const { client, transport } = await httpClient(t, server);
  await runCode(client, { code: 'x = 1' });
  const id = transport.sessionId!;
  t.equal(server.app.sessions.size, 1);
  await transport.terminateSession();
  t.equal(server.app.sessions.size, 0, 'DELETE /mcp closed the envbox session');
  const after = await fetch(`${server.url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'run_code', arguments: { code: 'x' } } }),
  });
  t.equal(after.status, 404);
  t.same(await after.json(), { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });

  // An envbox session closed from elsewhere (DELETE /sessions/<id>) ends its MCP session too.
  const other = await httpClient(t, server);
  t.equal((await request(server, 'DELETE', `/sessions/${other.transport.sessionId}`)).status, 200);
  const gone = await rejection(other.client.listTools());
  t.type(gone, StreamableHTTPError);
  t.equal(gone.code, 404);
});

t.test('JSON answers when the client accepts only JSON; SSE when it takes event streams', async (t) => {
  const server = await codingServer(t);
  const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
  const post = (accept: string, body: unknown, session?: string) =>
    fetch(`${server.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept, ...(session ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' } : {}) }, body: JSON.stringify(body) });

  const json = await post('application/json', initialize);
  t.equal(json.status, 200);
  t.match(json.headers.get('content-type'), /^application\/json/);
  const session = json.headers.get('mcp-session-id')!;
  t.match(await json.json(), { jsonrpc: '2.0', id: 1, result: { serverInfo: { name: 'envbox coding_env' }, capabilities: { tools: {} } } });
  const listed = await post('application/json', { jsonrpc: '2.0', id: 2, method: 'tools/list' }, session);
  t.match(listed.headers.get('content-type'), /^application\/json/);
  t.match(await listed.json(), { id: 2, result: { tools: [{ name: 'run_code' }, { name: 'reset' }, { name: 'state' }] } });

  const sse = await post('application/json, text/event-stream', initialize);
  t.equal(sse.status, 200);
  t.match(sse.headers.get('content-type'), /^text\/event-stream/);
  t.match(await sse.text(), /^event: message\ndata: \{"result":\{.*"serverInfo":\{"name":"envbox coding_env"/m);
  // A client that accepts anything gets SSE too (the SDK's transport alone would refuse it, 406).
  const any = await post('*/*', initialize);
  t.equal(any.status, 200);
  t.match(any.headers.get('content-type'), /^text\/event-stream/);
  await any.text();
  t.equal(server.app.sessions.size, 3);
  // An initialize the SDK's transport refuses (not sent as JSON: 415) leaves no session behind.
  const refused = await fetch(`${server.url}/mcp`, { method: 'POST', headers: { 'content-type': 'text/plain', accept: 'application/json, text/event-stream' }, body: JSON.stringify(initialize) });
  t.equal(refused.status, 415);
  t.match(await refused.json(), { jsonrpc: '2.0', error: { code: -32000, message: /Content-Type must be application\/json/ } });
  t.equal(server.app.sessions.size, 3, 'the refused initialize freed its session');
});
