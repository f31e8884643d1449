import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { existsSync } from 'node:fs';
import t, { type Test } from 'tap';
import { CLI, ROOT } from '../fixtures/cli-process.js';
import { rejection, runCode, textOf } from './mcp-fixtures.js';

// `envbox mcp` as a local agent starts it: the real binary as a child, the SDK's stdio client.
// stdout must carry protocol only (any other line would be a parse error of the client's
// transport, recorded in `errors`), logs go to stderr.

if (!existsSync(CLI)) throw new Error(`${CLI} is missing; run 'make build' (make test does) first.`);

/** `envbox mcp` with `args`, connected; closed (and the child reaped) when the test ends. */
async function stdioClient(t: Test, args: string[]): Promise<{ client: Client; transport: StdioClientTransport; errors: Error[]; stderr: () => string }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp', ...args], cwd: ROOT, env: { PATH: process.env.PATH ?? '' }, stderr: 'pipe' });
  let stderr = '';
  transport.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const errors: Error[] = [];
  const client = new Client({ name: 'envbox-test', version: '1.0.0' });
  client.onerror = (error) => errors.push(error);
  await client.connect(transport);
  t.teardown(() => client.close());
  return { client, transport, errors, stderr: () => stderr };
}

t.test('envbox mcp --env coding_env: tools, state kept, an exception, a timeout, a killed sandbox, reset', async (t) => {
  const { client, errors, stderr } = await stdioClient(t, ['--env', 'coding_env', '--python-backend', 'process', '--pool-size', '1']);
  t.same(client.getServerVersion()?.name, 'envbox coding_env');
  t.same((await client.listTools()).tools.map((tool) => tool.name), ['run_code', 'reset', 'state']);

  t.match((await runCode(client, { code: 'import math\nr = 2' })).structuredContent, { exit_code: 0, stdout: '' });
  const kept = await runCode(client, { code: 'print(round(math.pi * r ** 2, 3))' });
  t.same(kept.structuredContent, { stdout: '12.566\n', stderr: '', exit_code: 0, result: null, language: 'python', state_lost: false });
  t.equal(textOf(kept), '12.566');

  const raised = await runCode(client, { code: 'r.missing' });
  t.equal(raised.isError, true);
  t.match(raised.structuredContent, { exit_code: 1, stderr: /AttributeError: 'int' object has no attribute 'missing'/ });

  // An interruptible wait past its deadline: 124 with the state kept, or, if a loaded machine
  // made the interrupt miss its grace, 137 with the state lost; never a protocol error.
  const timedOut = await runCode(client, { code: 'import time\ntime.sleep(60)', timeout_s: 0.3 });
  t.equal(timedOut.isError, true);
  t.ok(timedOut.structuredContent.exit_code === 124 || timedOut.structuredContent.exit_code === 137, `exit code ${timedOut.structuredContent.exit_code}`);
  t.equal(timedOut.structuredContent.state_lost, timedOut.structuredContent.exit_code === 137);

  await runCode(client, { code: 'r = 3' });
  const killed = await runCode(client, { code: 'sum(range(10**12))', timeout_s: 0.3 });
  t.match(killed, { isError: true, structuredContent: { exit_code: 137, state_lost: true } });
  t.match((await runCode(client, { code: 'r' })).structuredContent, { exit_code: 1, stderr: /NameError/ }, 'the kill took the state');

  t.match((await client.callTool({ name: 'reset', arguments: { language: 'javascript' } })).structuredContent, { language: 'javascript' });
  t.match((await runCode(client, { code: 'let n = 20; n + 1' })).structuredContent, { result: '21', language: 'javascript' });
  t.match((await client.callTool({ name: 'state', arguments: {} })).structuredContent, { step_count: 1, language: 'javascript' });

  t.match(await rejection(client.callTool({ name: 'run_code', arguments: {} })), { code: -32602, message: /Arguments of run_code are invalid at code/ });
  t.type(await rejection(client.callTool({ name: 'run', arguments: {} })), McpError);

  t.same(errors, [], 'stdout carried only protocol');
  t.match(stderr(), /"msg":"serving MCP on stdio","env":"coding_env"/, 'logs went to stderr');
});

t.test('envbox mcp --env echo_env: OpenEnv\'s echo tools; HTTP-only options are reported as ignored; stdin closing ends it', async (t) => {
  const { client, transport, errors, stderr } = await stdioClient(t, ['--env', 'echo_env', '--port', '9']);
  t.same(await client.callTool({ name: 'echo_message', arguments: { message: 'Hello!' } }), { content: [{ type: 'text', text: 'Hello!' }], structuredContent: { result: 'Hello!' }, isError: false });
  t.same((await client.callTool({ name: 'echo_with_length', arguments: { message: 'Test' } })).structuredContent, { message: 'Test', length: 4 });
  t.match(stderr(), 'envbox: --port is an option of serve; envbox mcp (stdio) ignores it');
  const pid = transport.pid!;
  await client.close();
  t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the child exited once its stdin closed');
  t.same(errors, []);
});

t.test('envbox mcp: a bad option exits 2 naming it, before any protocol', async (t) => {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp', '--env', 'nope'], cwd: ROOT, env: { PATH: process.env.PATH ?? '' }, stderr: 'pipe' });
  let stderr = '';
  transport.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name: 'envbox-test', version: '1.0.0' });
  const exited = new Promise<void>((resolve) => (transport.onclose = resolve));
  await rejection(client.connect(transport));
  await exited;
  t.match(stderr, /envbox: invalid --env: expected one of coding_env, echo_env, received "nope"/);
});
