import t from 'tap';
import { ContainerGoneError, explainGone } from '../../../client/index.js';
import { EchoEnv } from '../../../envs/index.js';
import { TransportError } from '../../../protocol/index.js';
import { LocalServerProvider, type LocalServerContainer } from '../../fixtures/local-server-provider.js';

/** What `promise` rejected with (undefined when it fulfilled). */
const rejection = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );

for (const transport of ['http', 'ws'] as const) {
  t.test(`${transport}: the container stopped under the client: the next call rejects with ContainerGoneError; close() succeeds`, async (t) => {
    const provider = new LocalServerProvider();
    t.teardown(() => provider.close());
    const env = await EchoEnv.fromProvider(provider, { image: 'envbox/test:seam' }, { transport });
    t.teardown(() => env.close());
    await env.reset();
    t.equal((await env.step({ message: 'before' })).observation.echoed_message, 'before');

    const container = env.container as LocalServerContainer;
    await container.stop({ running: false, status: 'exited', exitCode: 137, notes: ['killed'] });
    const error = await rejection(env.step({ message: 'after' }));
    t.type(error, ContainerGoneError, `the step rejects with ContainerGoneError: ${String(error)}`);
    const gone = error as ContainerGoneError;
    t.equal(gone.code, 'CONTAINER_GONE');
    t.equal(gone.containerId, container.id);
    t.same(gone.state, { status: 'exited', exitCode: 137 });
    t.equal(
      gone.message,
      `Container ${container.id.slice(0, 12)} (envbox/test:seam) is not running (exited, exit code 137); its server and every session in it are gone. ` +
        'close() this client and start a new container with fromDockerImage() (or fromProvider()).',
    );
    t.equal((gone.cause as { code?: string }).code, 'TRANSPORT', 'the transport failure is kept as the cause');
    t.type(await rejection(env.state()), ContainerGoneError, 'state() too');

    await env.close();
    t.pass('close() succeeds on a stopped container');
    t.equal(container.alive, false);
    t.same(await provider.cleanup(), [], 'nothing is left for cleanup()');
  });
}

t.test('a transport failure while the provider says it runs, or cannot say: the TransportError itself', async (t) => {
  for (const reported of [{ running: true, status: 'running', exitCode: null }, undefined]) {
    const provider = new LocalServerProvider();
    t.teardown(() => provider.close());
    const env = await EchoEnv.fromProvider(provider, { image: 'envbox/test:seam' });
    t.teardown(() => env.close());
    await env.reset();
    await (env.container as LocalServerContainer).stop(reported);
    const error = await rejection(env.step({ message: 'x' }));
    t.type(error, TransportError, `state ${JSON.stringify(reported)}: ${String(error)}`);
    t.notOk(error instanceof ContainerGoneError);
  }
});

t.test('explainGone: only transport failures of a container still open are explained', async (t) => {
  const provider = new LocalServerProvider();
  t.teardown(() => provider.close());
  const container = await provider.start({ image: 'envbox/test:seam' });
  await container.stop({ running: false, status: 'exited', exitCode: 0 });
  const transport = new TransportError('connect ECONNREFUSED');
  const other = new Error('not a transport failure');
  t.type(await explainGone(container, transport), ContainerGoneError);
  t.equal(await explainGone(container, other), other, 'another error passes through');
  t.equal(await explainGone(undefined, transport), transport, 'no container: passes through');
  await container.close();
  t.equal(await explainGone(container, transport), transport, 'a closed container: passes through');
  t.same(await provider.cleanup(), [], 'closed containers are no leftovers');
});

t.test('cleanup() removes containers stopped under their clients', async (t) => {
  const provider = new LocalServerProvider();
  t.teardown(() => provider.close());
  const stopped = await provider.start({ image: 'envbox/test:seam' });
  const running = await provider.start({ image: 'envbox/test:seam' });
  await stopped.stop({ running: false, status: 'exited', exitCode: 0 });
  t.same(await provider.cleanup(), [stopped.id]);
  t.equal(stopped.alive, false);
  t.equal(running.alive, true);
});
