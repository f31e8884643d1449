import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import { createCodingEnvDefinition } from '../../envs/coding_env/index.js';
import { echoEnvDefinition } from '../../envs/index.js';
import type { AnyEnvDefinition, EnvboxServer } from '../../runtime/index.js';
import { request, startTestServer } from '../fixtures/test-server.js';
import {
  CODING_ENV_MODELS,
  ECHO_ENV_MODELS,
  OpenEnvCodeObservation,
  OpenEnvStepReply,
  OpenEnvWsResponse,
  type OpenEnvModels,
} from './openenv-models.js';
import { INTERRUPT_ONLY } from '../fixtures/interrupt-grace.js';

// The contract with OpenEnv's clients: every reply of both environments, over HTTP and WebSocket,
// parsed with strict models of OpenEnv's own declarations (openenv-models.ts). A field added to an
// observation outside `metadata` fails here the way it fails in OpenEnv's clients.

const run = promisify(execFile);
const PYTHON_CLIENTS = fileURLToPath(new URL('./openenv_http_clients.py', import.meta.url));
/** Why OpenEnv's Python client styles cannot run here (python3 without pydantic or requests), or false. */
const PYTHON_MISSING: string | false = await run('python3', ['-c', 'import pydantic, requests']).then(
  () => false,
  (error: Error) => `SKIPPED LOUDLY: python3 lacks pydantic or requests (${error.message.trim().split('\n').at(-1)})`,
);

/** One call of an episode and what its observation must show. */
interface Call {
  what: string;
  kind: 'reset' | 'step' | 'state';
  /** The action (step) or the reset body. */
  data?: Record<string, unknown>;
  timeoutS?: number;
  /** Fields of the OpenEnv observation (or state) that must equal these. */
  expect?: Record<string, unknown>;
  /** Patterns the observation's stderr must match. */
  stderr?: RegExp;
  /** envbox's extras that must be in `metadata`. */
  metadata?: Record<string, unknown>;
}

/** A coding_env episode: state kept, an exception, a timeout (state kept), a killed sandbox (state lost). */
function codingEpisode(language: 'python' | 'javascript'): Call[] {
  const py = language === 'python';
  return [
    { what: 'reset', kind: 'reset', data: { language }, expect: { stdout: '', stderr: '', exit_code: 0, done: false, reward: null }, metadata: { result: null, language } },
    { what: 'state after reset', kind: 'state', expect: { step_count: 0, last_exit_code: 0, language } },
    { what: 'a binding', kind: 'step', data: { code: py ? 'x = 41' : 'var x = 41' }, expect: { exit_code: 0 } },
    { what: 'state kept', kind: 'step', data: { code: py ? 'print(x + 1)\nx' : 'console.log(x + 1); x' }, expect: { stdout: '42\n', exit_code: 0 }, metadata: { result: '41', state_lost: false } },
    { what: 'an exception', kind: 'step', data: { code: py ? '1 / 0' : 'null.r' }, expect: { exit_code: 1 }, stderr: py ? /ZeroDivisionError/ : /TypeError/ },
    { what: 'a timeout', kind: 'step', data: { code: py ? 'while True: pass' : 'while (true) {}' }, timeoutS: 0.5, expect: { exit_code: 124 }, metadata: { state_lost: false } },
    { what: 'the state survived the timeout', kind: 'step', data: { code: 'x' }, expect: { exit_code: 0 }, metadata: { result: '41' } },
    { what: 'state', kind: 'state', expect: { step_count: 5, last_exit_code: 0, language } },
  ];
}

/** A coding_env episode whose sandbox is killed: code that never looks at the interrupt (137, state lost). */
function killedEpisode(language: 'python' | 'javascript'): Call[] {
  const py = language === 'python';
  return [
    { what: 'reset', kind: 'reset', data: { language }, expect: { exit_code: 0 }, metadata: { result: null, language } },
    { what: 'a killed sandbox', kind: 'step', data: { code: py ? 'sum(range(10**12))' : 'a=[];a.length=2**32-1;a.includes(1)' }, timeoutS: 0.5, expect: { exit_code: 137 }, metadata: { state_lost: true } },
    { what: 'state after the kill', kind: 'state', expect: { step_count: 1, last_exit_code: 137, language } },
  ];
}


const ECHO_EPISODE: Call[] = [
  { what: 'reset', kind: 'reset', data: {}, expect: { echoed_message: 'Echo environment ready!', message_length: 0, done: false } },
  { what: 'a step', kind: 'step', data: { message: 'héllo' }, expect: { echoed_message: 'héllo', message_length: 5 } },
  { what: 'state', kind: 'state', expect: { step_count: 1 } },
];

/** Check one reset/step reply (the envelope, then the observation) or one state with OpenEnv's models. */
function checkReply(t: Test, models: OpenEnvModels, call: Call, body: unknown, via: string): void {
  const label = `${via} ${call.what}`;
  if (call.kind === 'state') {
    const state = models.state.safeParse(body);
    t.ok(state.success, `${label}: OpenEnv's state model accepts it`, { error: state.error?.message, body });
    t.match(state.data, call.expect ?? {}, `${label}: the state`);
    return;
  }
  const envelope = OpenEnvStepReply.safeParse(body);
  t.ok(envelope.success, `${label}: the reply has observation, reward, done`, { error: envelope.error?.message, body });
  if (!envelope.success) return;
  const observation = models.observation.safeParse(envelope.data.observation);
  t.ok(observation.success, `${label}: OpenEnv's observation model accepts it (no undeclared field)`, { error: observation.error?.message, body });
  if (!observation.success) return;
  t.match(observation.data, call.expect ?? {}, `${label}: the observation`);
  if (call.stderr) t.match(observation.data.stderr, call.stderr, `${label}: stderr`);
  if (call.metadata) t.match(observation.data.metadata, call.metadata, `${label}: envbox's extras are in metadata`);
  t.equal(envelope.data.done, false, `${label}: done beside the observation`);
  t.ok(envelope.data.reward === null || typeof envelope.data.reward === 'number', `${label}: the reward beside the observation`);
}

/** Run the episode over plain HTTP (the default session, as OpenEnv's HTTP clients use it). */
async function overHttp(t: Test, server: EnvboxServer, models: OpenEnvModels, calls: Call[]): Promise<void> {
  for (const call of calls) {
    const timeout = call.timeoutS === undefined ? {} : { timeout_s: call.timeoutS };
    const reply =
      call.kind === 'state'
        ? await request(server, 'GET', '/state')
        : await request(server, 'POST', `/${call.kind}`, call.kind === 'step' ? { action: call.data, ...timeout } : call.data);
    t.equal(reply.status, 200, `http ${call.what}: 200`);
    checkReply(t, models, call, reply.body, 'http');
  }
}

/** Run the episode over `/ws`, every frame parsed with OpenEnv's strict WebSocket models; then close. */
async function overWebSocket(t: Test, server: EnvboxServer, models: OpenEnvModels, calls: Call[]): Promise<void> {
  const socket = new WebSocket(`${server.url.replace('http', 'ws')}/ws`);
  t.teardown(() => socket.terminate());
  await once(socket, 'open');
  const frames: unknown[] = [];
  const waiting: ((frame: unknown) => void)[] = [];
  socket.on('message', (data) => {
    const frame: unknown = JSON.parse(String(data));
    const resolve = waiting.shift();
    if (resolve) resolve(frame);
    else frames.push(frame);
  });
  const next = (): Promise<unknown> => (frames.length > 0 ? Promise.resolve(frames.shift()) : new Promise((resolve) => waiting.push(resolve)));
  const expectedType = { reset: 'observation', step: 'observation', state: 'state' } as const;
  for (const call of calls) {
    const message =
      call.kind === 'state'
        ? { type: 'state' }
        : call.kind === 'step'
          ? { type: 'step', data: call.data, ...(call.timeoutS === undefined ? {} : { timeout_s: call.timeoutS }) }
          : { type: 'reset', data: call.data };
    socket.send(JSON.stringify(message));
    const frame = OpenEnvWsResponse.safeParse(await next());
    t.ok(frame.success, `ws ${call.what}: OpenEnv's WebSocket response models accept the frame`, { error: frame.error?.message });
    if (!frame.success) continue;
    t.equal(frame.data.type, expectedType[call.kind], `ws ${call.what}: a ${expectedType[call.kind]} message`);
    checkReply(t, models, call, frame.data.data, 'ws');
  }
  // An error frame too: OpenEnv's client reads data.message and data.code.
  socket.send(JSON.stringify({ type: 'step', data: { no_such_field: 1 } }));
  const error = OpenEnvWsResponse.safeParse(await next());
  t.ok(error.success && error.data.type === 'error', 'ws: a bad action gets an error frame OpenEnv reads', { error: error.error?.message });
  // close: the session and the socket end (1000), with no reply.
  socket.send(JSON.stringify({ type: 'close' }));
  const [code] = (await once(socket, 'close')) as [number];
  t.equal(code, 1000, 'ws close: the socket closes normally');
  t.same(frames, [], 'ws close: no reply to close');
}

/** OpenEnv's own Python client styles (pydantic and the October 2025 dataclasses) over HTTP. */
async function pythonClients(t: Test, server: EnvboxServer, env: 'coding_env' | 'echo_env'): Promise<void> {
  const { stdout } = await run('python3', [PYTHON_CLIENTS, server.url, env]).catch((error: Error & { stderr?: string }) => {
    t.fail(`OpenEnv's Python client styles fail against ${env}: ${error.stderr ?? error.message}`);
    return { stdout: '{"ok": false}' };
  });
  const report = JSON.parse(stdout) as { ok: boolean; checks?: string[] };
  t.equal(report.ok, true, `OpenEnv's pydantic and dataclass observation models accept every ${env} reply (${report.checks?.join(', ')})`);
}

async function serve(t: Test, definition: AnyEnvDefinition): Promise<EnvboxServer> {
  return startTestServer(t, {}, definition);
}

for (const language of ['python', 'javascript'] as const) {
  t.test(`coding_env (${language}) through OpenEnv's models`, async (t) => {
    const server = await serve(t, await createCodingEnvDefinition({ pythonBackend: 'process', poolSize: 1, ...INTERRUPT_ONLY }));
    await t.test('over HTTP', (t) => overHttp(t, server, CODING_ENV_MODELS, codingEpisode(language)));
    await t.test('over WebSocket', (t) => overWebSocket(t, server, CODING_ENV_MODELS, codingEpisode(language)));
    const killing = await serve(t, await createCodingEnvDefinition({ pythonBackend: 'process', poolSize: 1 }));
    await t.test('a killed sandbox over HTTP', (t) => overHttp(t, killing, CODING_ENV_MODELS, killedEpisode(language)));
    await t.test('a killed sandbox over WebSocket', (t) => overWebSocket(t, killing, CODING_ENV_MODELS, killedEpisode(language)));
    if (language === 'python') await t.test("OpenEnv's Python client styles", { skip: PYTHON_MISSING }, (t) => pythonClients(t, server, 'coding_env'));
  });
}

t.test("echo_env through OpenEnv's models", async (t) => {
  const server = await serve(t, echoEnvDefinition);
  await t.test('over HTTP', (t) => overHttp(t, server, ECHO_ENV_MODELS, ECHO_EPISODE));
  await t.test('over WebSocket', (t) => overWebSocket(t, server, ECHO_ENV_MODELS, ECHO_EPISODE));
  await t.test("OpenEnv's Python client styles", { skip: PYTHON_MISSING }, (t) => pythonClients(t, server, 'echo_env'));
});

t.test('the models are strict: an observation field outside metadata is refused, as OpenEnv refuses it', async (t) => {
  const declared = { stdout: '', stderr: '', exit_code: 0, metadata: { result: '1' } };
  t.ok(OpenEnvCodeObservation.safeParse(declared).success, 'the declared fields pass');
  const leaked = OpenEnvCodeObservation.safeParse({ ...declared, result: '1' });
  t.notOk(leaked.success, 'a top-level `result` fails');
  t.match(leaked.error?.issues[0], { code: 'unrecognized_keys', keys: ['result'] });
  t.notOk(CODING_ENV_MODELS.state.safeParse({ episode_id: null, step_count: 0, last_exit_code: null }).success, 'last_exit_code null fails (an int in OpenEnv)');
});
