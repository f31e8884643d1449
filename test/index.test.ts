import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { ROOT } from './fixtures/cli-process.js';

const run = promisify(execFile);

t.test("the package entry: import { createApp, EnvClient, EchoEnv } from 'envbox'", async (t) => {
  const script = `
    import { createApp, startServer, EnvClient, EchoEnv, EnvboxError, SessionNotFoundError, VERSION } from 'envbox';
    import { echoEnvDefinition } from 'envbox';
    const app = createApp(echoEnvDefinition, { logLevel: 'silent' });
    await app.close();
    console.log([typeof createApp, typeof startServer, typeof EnvClient, typeof EchoEnv, typeof EnvboxError,
      new SessionNotFoundError('x').code, VERSION].join(' '));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
  const version = (await import('../version.js')).VERSION;
  t.equal(stdout.trim(), `function function function function function SESSION_NOT_FOUND ${version}`);
});

t.test('the package API is deliberate: what users need, nothing internal', async (t) => {
  const api = (await import('../index.js')) as Record<string, unknown>;
  for (const name of ['CodingEnv', 'EchoEnv', 'EnvClient', 'LocalDockerProvider', 'startServer', 'createApp', 'envOption', 'EnvboxError', 'SandboxUnavailableError', 'ContainerGoneError', 'CodeObservation', 'Observation', 'createCodingEnvDefinition', 'WarmPool', 'VERSION']) {
    t.ok(name in api, `${name} is exported`);
  }
  for (const name of ['createHotRoutes', 'errorReply', 'COMMON_HEADERS', 'registerWebInterface', 'serializeObservation', 'validate', 'bearerCheck', 'WsEndpoint', 'runCli']) {
    t.notOk(name in api, `${name} (internal) is not exported`);
  }
});
