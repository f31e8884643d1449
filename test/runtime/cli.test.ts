import { PassThrough } from 'node:stream';
import t from 'tap';
import { ENVIRONMENTS } from '../../envs/index.js';
import { EXIT_USAGE, parseServeConfig, runCli, type CliContext } from '../../runtime/index.js';

function context(env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk.toString()));
  stderr.on('data', (chunk: Buffer) => err.push(chunk.toString()));
  const ctx: CliContext = { registry: ENVIRONMENTS, version: '9.9.9', env, stdout, stderr };
  return { ctx, out: () => out.join(''), err: () => err.join('') };
}

t.test('parseServeConfig: defaults, flags, ENVBOX_* variables, flags win', async (t) => {
  t.same(parseServeConfig({ env: 'echo_env' }, {}), {
    env: 'echo_env',
    port: 8000,
    host: '127.0.0.1',
    maxSessions: 64,
    sessionIdleMs: 600_000,
    stepTimeoutMs: 30_000,
    maxBodyBytes: 1_048_576,
    wsPingIntervalMs: 30_000,
    requestTimeoutMs: 30_000,
    logLevel: 'info',
    web: false,
  });
  const fromEnv = parseServeConfig(
    {},
    {
      ENVBOX_ENV: 'echo_env',
      ENVBOX_PORT: '9001',
      ENVBOX_HOST: '0.0.0.0',
      ENVBOX_MAX_SESSIONS: '3',
      ENVBOX_SESSION_IDLE_S: '1.5',
      ENVBOX_STEP_TIMEOUT_S: '2',
      ENVBOX_MAX_BODY_BYTES: '2048',
      ENVBOX_LOG_LEVEL: 'warn',
    },
  );
  t.match(fromEnv, { env: 'echo_env', port: 9001, host: '0.0.0.0', maxSessions: 3, sessionIdleMs: 1500, stepTimeoutMs: 2000, maxBodyBytes: 2048, logLevel: 'warn' });
  const flagWins = parseServeConfig({ env: 'echo_env', port: '9002', 'max-sessions': '5' }, { ENVBOX_PORT: '9001', ENVBOX_MAX_SESSIONS: '3' });
  t.equal(flagWins.port, 9002);
  t.equal(flagWins.maxSessions, 5);
});

t.test('parseServeConfig: a bad value names the option, the expected and the received value', async (t) => {
  const cases: [Record<string, string>, NodeJS.ProcessEnv, RegExp][] = [
    [{ env: 'echo_env', port: 'abc' }, {}, /invalid --port: expected an integer from 0 to 65535, received "abc"/],
    [{ env: 'echo_env', port: '70000' }, {}, /invalid --port: .*received "70000"/],
    [{ env: 'echo_env' }, { ENVBOX_PORT: '-1' }, /invalid ENVBOX_PORT: .*received "-1"/],
    [{ env: 'echo_env', 'max-sessions': '0' }, {}, /invalid --max-sessions: expected an integer from 1/],
    [{ env: 'echo_env', 'max-sessions': '2.5' }, {}, /invalid --max-sessions/],
    [{ env: 'echo_env', 'session-idle-s': '0' }, {}, /invalid --session-idle-s: expected a number of seconds greater than 0, received "0"/],
    [{ env: 'echo_env', 'step-timeout-s': 'soon' }, {}, /invalid --step-timeout-s: .*received "soon"/],
    [{ env: 'echo_env' }, { ENVBOX_STEP_TIMEOUT_S: '-3' }, /invalid ENVBOX_STEP_TIMEOUT_S/],
    [{ env: 'echo_env', 'log-level': 'loud' }, {}, /invalid --log-level: expected one of debug, info, warn, error, silent, received "loud"/],
    [{}, {}, /invalid --env: expected an environment name such as echo_env, received nothing/],
  ];
  for (const [flags, env, message] of cases) {
    t.throws(() => parseServeConfig(flags, env), { name: 'ConfigError', message }, JSON.stringify({ flags, env }));
  }
});

t.test('runCli: usage errors exit 2 with a message naming the problem', async (t) => {
  const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [['serve', '--env', 'echo_env', '--port', 'abc'], {}, /envbox: invalid --port/],
    [['serve', '--env', 'nope'], {}, /invalid --env: expected one of coding_env, echo_env, received "nope"/],
    [['serve', '--env', '__proto__'], {}, /invalid --env: expected one of/],
    [['serve'], {}, /invalid --env/],
    [['serve', '--env', 'echo_env', '--colour'], {}, /Unknown option '--colour'/],
    [[], {}, /missing command/],
    [['launch'], {}, /unknown command "launch"/],
    [['serve', '--env', 'echo_env'], { ENVBOX_MAX_SESSIONS: 'many' }, /invalid ENVBOX_MAX_SESSIONS/],
    // coding_env's own options, derived from its option schema.
    [['serve', '--env', 'coding_env', '--python-backend', 'jython'], {}, /envbox: invalid --python-backend: expected one of auto, pyodide, process, received "jython"/],
    [['serve', '--env', 'coding_env'], { ENVBOX_POOL_SIZE: '-1' }, /envbox: invalid ENVBOX_POOL_SIZE: expected an integer from 0 to 1024, received "-1"/],
  ];
  for (const [argv, env, message] of cases) {
    const { ctx, err } = context(env);
    const outcome = await runCli(argv, ctx);
    t.same(outcome, { exitCode: EXIT_USAGE }, argv.join(' '));
    t.match(err(), message);
  }
});

t.test('runCli: --help and --version', async (t) => {
  const help = context();
  t.same(await runCli(['--help'], help.ctx), { exitCode: 0 });
  t.match(help.out(), /envbox serve --env <name>/);
  for (const flag of ['--port', '--host', '--max-sessions', '--session-idle-s', '--step-timeout-s', 'ENVBOX_PORT']) {
    t.match(help.out(), flag);
  }
  t.match(help.out(), /Options of --env coding_env:\n(.*\n)*  --python-backend +ENVBOX_PYTHON_BACKEND +sandbox of Python episodes \(default auto: process where \/usr\/bin\/python3 and namespaces serve, else pyodide\)/, "an environment's own options, from its schema");
  for (const flag of ['--default-language', '--allow-subprocess', '--require-isolation', '--pool-size', '--max-output-bytes']) t.match(help.out(), flag);
  const version = context();
  t.same(await runCli(['--version'], version.ctx), { exitCode: 0 });
  t.equal(version.out(), '9.9.9\n');
});

t.test('runCli: serve starts a server with the parsed options', async (t) => {
  const { ctx, out } = context({ ENVBOX_MAX_SESSIONS: '7', ENVBOX_LOG_LEVEL: 'silent' });
  const outcome = await runCli(['serve', '--env', 'echo_env', '--port', '0'], ctx);
  if (!('server' in outcome)) throw new Error(`expected a server, got ${'exitCode' in outcome ? `exit code ${outcome.exitCode}` : 'an MCP server'}`);
  t.teardown(() => outcome.server.close(100));
  t.match(out(), /serving echo_env on http:\/\/127\.0\.0\.1:\d+/);
  const health = (await (await fetch(`${outcome.server.url}/health`)).json()) as { max_sessions: number };
  t.equal(health.max_sessions, 7);
});

t.test("runCli: another environment's flag is accepted and reported as ignored", async (t) => {
  const { ctx, err } = context({ ENVBOX_LOG_LEVEL: 'silent' });
  const outcome = await runCli(['serve', '--env', 'echo_env', '--port', '0', '--python-backend', 'process'], ctx);
  if (!('server' in outcome)) throw new Error(`expected a server, got ${'exitCode' in outcome ? `exit code ${outcome.exitCode}` : 'an MCP server'}`);
  t.teardown(() => outcome.server.close(100));
  t.match(err(), 'envbox: --python-backend is an option of coding_env; echo_env ignores it');
});
