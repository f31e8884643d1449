import t from 'tap';
import { ContainerStartError, EnvClient, launchFromProvider } from '../../client/index.js';
import { EchoEnv } from '../../envs/index.js';
import { LocalServerProvider } from '../fixtures/local-server-provider.js';

t.test('EchoEnv.fromProvider: a client that owns the container, with its token and its command', async (t) => {
  const provider = new LocalServerProvider();
  t.teardown(() => provider.close());
  const env = await EchoEnv.fromProvider(provider, { image: 'envbox/test:seam' });
  t.teardown(() => env.close());

  t.same(provider.specs[0], { image: 'envbox/test:seam', command: ['--env', 'echo_env'] }, "the spec's command defaults to EchoEnv.dockerCommand");
  const container = env.container!;
  t.equal(container, provider.containers[0], 'the client owns the container the provider started');
  t.type(container.token, 'string', 'a fresh token per container');
  t.equal((await container.health()).env, 'echo_env', 'health() answers with the full body (the token is sent)');
  t.same(await container.state(), { running: true, status: 'running', exitCode: null });

  await env.reset();
  t.equal((await env.step({ message: 'hi' })).observation.echoed_message, 'hi', 'the client sends the token: the server requires it');

  await env.close();
  t.equal(container.alive, false, 'close() closes the container');
  t.same(await container.state(), { running: false, status: 'removed', exitCode: null });
  await env.close();
  t.pass('close is idempotent');
});

t.test('fromProvider over WebSocket with `await using`, a command of its own and no token', async (t) => {
  const provider = new LocalServerProvider();
  t.teardown(() => provider.close());
  {
    await using env = await EchoEnv.fromProvider(provider, { image: 'envbox/test:seam', command: ['--env', 'echo_env', '--max-sessions', '2'], token: false }, { transport: 'ws' });
    t.same(provider.specs[0]?.command, ['--env', 'echo_env', '--max-sessions', '2'], "the spec's own command wins");
    t.equal(env.container!.token, undefined);
    await env.reset();
    t.equal((await env.step({ message: 'ws' })).observation.echoed_message, 'ws');
  }
  t.equal(provider.containers[0]!.alive, false, 'disposal closes the container');
});

t.test('launchFromProvider: when making the client fails, the container is closed at once', async (t) => {
  const provider = new LocalServerProvider();
  t.teardown(() => provider.close());
  const failure = new Error('no client today');
  await t.rejects(
    launchFromProvider(provider, { image: 'envbox/test:seam' }, {}, () => {
      throw failure;
    }),
    failure,
  );
  t.equal(provider.containers[0]!.alive, false);
});

t.test('launchFromProvider makes untyped clients too', async (t) => {
  const provider = new LocalServerProvider();
  t.teardown(() => provider.close());
  const env = await launchFromProvider(provider, { image: 'envbox/test:seam' }, { session: 'default' }, (options) => new EchoEnv(options));
  t.teardown(() => env.close());
  t.ok(env instanceof EnvClient);
  t.equal((await env.reset()).observation.echoed_message, 'Echo environment ready!');
});

t.test('a provider that fails the start: its error reaches the caller and no client is made', async (t) => {
  const provider = new LocalServerProvider();
  t.teardown(() => provider.close());
  await t.rejects(EchoEnv.fromProvider(provider, { image: 'envbox/test:seam', token: '' }), new ContainerStartError('Invalid token: expected a non-empty string or false, received "".'));
  t.equal(provider.containers.length, 0);
});
