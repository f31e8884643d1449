import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
// The package's own export, resolved as a creator's test resolves it (package.json "exports").
import { CONFORMANCE_CHECKS, formatReport, validateServer, ValidationReport } from 'envbox/testing';
import { CLI, ROOT, startCliServer } from '../../fixtures/cli-process.js';

/** Run the real `envbox validate` with `args`; its exit code and what it printed. */
async function runValidate(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'validate', ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += String(chunk)));
  child.stderr.on('data', (chunk) => (stderr += String(chunk)));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/**
 * A plain HTTP server answering `routes` (by `METHOD /path`) with JSON, 404 otherwise; closed when
 * the test ends. `forward` lets a route pass the request on to another server and rewrite its reply.
 */
async function fakeServer(t: Test, routes: Record<string, (request: IncomingMessage) => Promise<{ status: number; body: unknown }> | { status: number; body: unknown }>): Promise<string> {
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const route = routes[`${request.method} ${request.url}`];
    void Promise.resolve(route === undefined ? { status: 404, body: { error: { code: 'NOT_FOUND', message: 'no such route' } } } : route(request)).then(({ status, body }) => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const CHECK_NAMES = CONFORMANCE_CHECKS.map((check) => check.name);

t.test('envbox validate passes on echo_env served by the real CLI: one ok line per check, a summary, exit 0', async (t) => {
  const { url } = await startCliServer(t, ['--env', 'echo_env']);
  const { code, stdout, stderr } = await runValidate([url]);
  t.equal(code, 0, stdout);
  t.equal(stderr, '');
  const lines = stdout.trimEnd().split('\n');
  t.same(
    lines.slice(0, CHECK_NAMES.length).map((line) => line.split(/\s+/).slice(0, 2)),
    CHECK_NAMES.map((name) => ['ok', name]),
  );
  t.match(stdout, /^ok {4}sample_action +\{"message":"hi"\} \(schema examples\)$/m, "the sample action is echo_env's declared example");
  t.equal(lines.at(-1), `valid: ${url} (echo_env 1.0.0): ${CHECK_NAMES.length} of ${CHECK_NAMES.length} checks passed`);
});

t.test('envbox validate --json prints the report: its shape, every check passed', async (t) => {
  const { url } = await startCliServer(t, ['--env', 'echo_env']);
  const { code, stdout } = await runValidate([url, '--json']);
  t.equal(code, 0);
  const report = ValidationReport.parse(JSON.parse(stdout));
  t.match(report, { target: url, passed: true, env: { name: 'echo_env', version: '1.0.0' }, mode: 'simulation', sample_action: { action: { message: 'hi' }, source: 'schema examples' } });
  t.same(report.checks.map((check) => [check.name, check.status]), CHECK_NAMES.map((name) => [name, 'pass']));
  t.same(report.summary, { total: CHECK_NAMES.length, passed: CHECK_NAMES.length, failed: 0, skipped: 0 });
});

t.test('validateServer (envbox/testing) passes on coding_env served by the real CLI', async (t) => {
  const { url } = await startCliServer(t, ['--env', 'coding_env', '--pool-size', '1']);
  const report = await validateServer(url);
  t.ok(report.passed, formatReport(report));
  t.same(report.sample_action, { action: { code: 'print(1)' }, source: 'schema examples' });
  t.match(report.checks.find((check) => check.name === 'http_invalid_action'), { status: 'pass', detail: 'the sample action without its required "code": 422 INVALID_REQUEST' });
  t.match(report.checks.find((check) => check.name === 'ws_close'), { status: 'pass', detail: /^closed 1000/ });
});

t.test('a server whose /health is unhealthy: exit 1, FAIL health_endpoint, the rest skipped', async (t) => {
  const url = await fakeServer(t, { 'GET /health': () => ({ status: 503, body: { status: 'unhealthy' } }) });
  const { code, stdout } = await runValidate([url]);
  t.equal(code, 1, stdout);
  t.match(stdout, /^FAIL {2}health_endpoint +GET \/health answered 503 \{"status":"unhealthy"\}; expected 200 \{"status": "healthy"\}$/m);
  t.match(stdout, /^skip {2}still_healthy +needs health_endpoint$/m);
  t.match(stdout, new RegExp(`^INVALID: ${url}: 0 of ${CHECK_NAMES.length} checks passed, 1 failed \\(health_endpoint\\), ${CHECK_NAMES.length - 1} skipped$`, 'm'));
});

t.test('a server whose /schema does not compile, in front of a real echo_env: exit 1, names schema_endpoint', async (t) => {
  const { url: real } = await startCliServer(t, ['--env', 'echo_env']);
  const pass = (path: string) => async () => {
    const response = await fetch(`${real}${path}`);
    return { status: response.status, body: await response.json() };
  };
  const schema = async () => {
    const body = (await (await fetch(`${real}/schema`)).json()) as Record<string, unknown>;
    return { status: 200, body: { ...body, observation: { type: 'object', properties: { echoed_message: { type: 'text' } } } } };
  };
  const url = await fakeServer(t, { 'GET /health': pass('/health'), 'GET /metadata': pass('/metadata'), 'GET /openapi.json': pass('/openapi.json'), 'GET /schema': schema });
  const { code, stdout } = await runValidate([url, '--json']);
  t.equal(code, 1);
  const report = ValidationReport.parse(JSON.parse(stdout));
  t.equal(report.passed, false);
  const failed = report.checks.filter((check) => check.status === 'fail');
  t.match(failed.find((check) => check.name === 'schema_endpoint'), { detail: /^GET \/schema: observation: does not compile: .*type/ });
  t.match(report.checks.find((check) => check.name === 'metadata_endpoint'), { status: 'pass' });
  t.match(report.checks.find((check) => check.name === 'openapi_version_available'), { status: 'pass' });
});

t.test('an observation with a field /schema does not declare fails the episode check, naming the field', async (t) => {
  const { url: real } = await startCliServer(t, ['--env', 'echo_env']);
  // A proxy that forwards to echo_env and adds a field to each observation (what OpenEnv's clients reject).
  const forward = (add: boolean) => async (request: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (typeof request.headers['x-session-id'] === 'string') headers['x-session-id'] = request.headers['x-session-id'];
    const response = await fetch(`${real}${request.url}`, { method: request.method!, headers, ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}) });
    const body = (await response.json()) as { observation?: Record<string, unknown> };
    if (add && body.observation !== undefined) body.observation.score = 1;
    return { status: response.status, body };
  };
  const routes = Object.fromEntries(
    ['GET /health', 'GET /metadata', 'GET /schema', 'GET /openapi.json', 'POST /sessions', 'POST /reset', 'POST /step', 'GET /state'].map((route) => [route, forward(route === 'POST /reset')]),
  );
  const url = await fakeServer(t, routes);
  const report = await validateServer(url, { timeoutMs: 5_000 });
  t.equal(report.passed, false);
  t.match(report.checks.find((check) => check.name === 'http_episode'), {
    status: 'fail',
    detail: `POST /reset's observation does not match /schema's observation schema: (root) must NOT have additional properties ("score")`,
  });
});

t.test('usage errors exit 2: no URL, not an http URL, a bad --action, an unknown option', async (t) => {
  for (const [args, message] of [
    [[], 'envbox validate: missing the server URL; expected e.g. envbox validate http://127.0.0.1:8000'],
    [['ftp://example.com'], 'envbox validate: invalid server URL: expected http:// or https://, received "ftp://example.com"'],
    [['http://127.0.0.1:8000', '--action', '{'], /^envbox validate: invalid --action: expected JSON such as/],
    [['http://127.0.0.1:8000', '--bogus'], /^envbox validate: Unknown option '--bogus'/],
  ] as const) {
    const { code, stdout, stderr } = await runValidate([...args]);
    t.equal(code, 2, `${args.join(' ')}: exit 2`);
    t.equal(stdout, '');
    t.match(stderr.split('\n')[0], message);
  }
});

t.test('an environment whose episodes end at the first step, and that refuses a step after done, passes: the kit resets an ended episode before stepping again', async (t) => {
  const { validateEnvironment } = await import('../../../runtime/index.js');
  const { Action, Observation, State, InvalidRequestError } = await import('../../../protocol/index.js');
  const { z } = await import('zod');
  let episodes = 0;
  const definition = {
    name: 'one_shot',
    description: 'Every episode is one step long.',
    version: '1.0.0',
    action: Action.extend({ move: z.literal('go') }).meta({ examples: [{ move: 'go' }] }),
    observation: Observation,
    state: State,
    create() {
      let steps = 0;
      let done = false;
      let id = '';
      return {
        reset() {
          episodes += 1;
          [steps, done, id] = [0, false, `episode-${episodes}`];
          return { done: false, reward: null, metadata: {} };
        },
        step() {
          if (done) throw new InvalidRequestError('the episode is over; reset');
          [steps, done] = [steps + 1, true];
          return { done: true, reward: 1, metadata: {} };
        },
        state: () => ({ episode_id: id, step_count: steps }),
        close() {},
      };
    },
  };
  const report = await validateEnvironment(definition);
  t.ok(report.passed, JSON.stringify(report.checks.filter((check) => check.status !== 'pass')));
  t.match(report.checks.find((check) => check.name === 'http_session_usable')?.detail, /step_count 1 \(after a reset: the episode had ended\)/);
  t.match(report.checks.find((check) => check.name === 'ws_sessions_isolated')?.detail, /\(after a reset: the episode had ended\)/);
});
