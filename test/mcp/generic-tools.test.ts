import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import t from 'tap';
import { echoEnvDefinition } from '../../envs/index.js';
import { request, startTestServer } from '../fixtures/test-server.js';
import { httpClient, rejection, textOf } from './mcp-fixtures.js';

// An environment that declares no tools gets reset, step (its action schema as input) and state,
// answering what /reset, /step and /state answer.

t.test('an environment without tools: generic reset, step and state', async (t) => {
  const { tools: _declared, ...withoutTools } = echoEnvDefinition;
  const server = await startTestServer(t, {}, withoutTools);
  const { client } = await httpClient(t, server);
  const { tools } = await client.listTools();
  t.same(tools.map((tool) => tool.name), ['reset', 'step', 'state']);
  const step = tools.find((tool) => tool.name === 'step')!;
  t.same(step.inputSchema.required, ['message'], "step's input is the action schema");
  t.match(step.inputSchema.properties, { message: { type: 'string' }, metadata: { type: 'object' } });

  const reset = await client.callTool({ name: 'reset', arguments: { seed: 7 } });
  t.match(reset.structuredContent, { observation: { echoed_message: 'Echo environment ready!' }, done: false });
  const stepped = await client.callTool({ name: 'step', arguments: { message: 'hey' } });
  // What POST /step answers for the same first step (in the default session).
  await request(server, 'POST', '/reset', {});
  t.same(stepped.structuredContent, (await request(server, 'POST', '/step', { action: { message: 'hey' } })).body);
  t.match(stepped.structuredContent, { observation: { echoed_message: 'hey', message_length: 3 }, done: false });
  t.same(JSON.parse(textOf(stepped as CallToolResult)), stepped.structuredContent, 'the text is the same JSON');
  t.match((await client.callTool({ name: 'state', arguments: {} })).structuredContent, { step_count: 1 });
  t.match(await rejection(client.callTool({ name: 'step', arguments: { message: 'x', extra: 1 } })), { code: -32602, message: /Arguments of step are invalid/ }, 'the action schema is strict');
});
