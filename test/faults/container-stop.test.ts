/**
 * Fault: the appliance container is stopped or killed under a client that launched it
 * (`CodingEnv.fromDockerImage`), through the engine, as an operator or the OOM killer would.
 * Documented outcome (client/provider/container-gone.ts `ContainerGoneError`): the client's next call
 * rejects with `ContainerGoneError` (code `CONTAINER_GONE`), whose message names the container
 * and its state and whose `cause` is the transport failure; `close()` still succeeds; no container
 * is left (by id, and none of this test's under the `envbox.managed=true` label).
 * Docker tests skip loudly without an engine and fail when ENVBOX_DOCKER_TESTS=required (see
 * test/client/docker/run/local-docker-provider.test.ts, whose fixtures this uses).
 */
import t from 'tap';
import { ContainerGoneError, LocalDockerProvider, MANAGED_LABEL } from '../../client/index.js';
import { CodingEnv } from '../../envs/index.js';
import { containerExists, ensureApplianceImage, probeDocker, skipFile } from '../fixtures/docker.js';

const docker = await probeDocker();
const appliance = docker.engine === undefined ? { reason: docker.reason } : await ensureApplianceImage(docker.engine);
if (docker.engine === undefined || appliance.reason !== undefined) {
  t.test('stopping the container under the client', async (t) => skipFile(t, docker.reason ?? appliance.reason ?? ''));
} else {
  const engine = docker.engine;
  const image = (appliance as { image: string }).image;
  const provider = new LocalDockerProvider();
  t.teardown(() => provider.close());

  /** The ids of the running and stopped containers carrying envbox's managed label. */
  const managedIds = async (): Promise<string[]> =>
    (await engine.listContainers({ all: true, filters: { label: [`${MANAGED_LABEL}=true`] } })).map((container) => container.Id);

  for (const [transport, how] of [
    ['http', 'stop'],
    ['ws', 'kill'],
  ] as const) {
    t.test(`${how} the container under a ${transport} client: the next step rejects with ContainerGoneError; close() succeeds; nothing left`, async (t) => {
      const env = await CodingEnv.fromDockerImage(image, { provider, transport });
      t.teardown(() => env.close());
      const container = env.container!;
      t.ok((await managedIds()).includes(container.id), `the container carries ${MANAGED_LABEL}=true`);
      await env.reset();
      t.equal((await env.step({ code: 'x = 1; x + 1' })).observation.metadata.result, '2', 'the appliance answers');

      const handle = engine.getContainer(container.id);
      if (how === 'stop') await handle.stop({ t: 1 });
      else await handle.kill({ signal: 'SIGKILL' });
      // kill returns once the signal is sent; wait returns once the engine saw the container stop.
      await handle.wait();
      t.equal((await handle.inspect()).State.Running, false, `the engine says it is no longer running after docker ${how}`);

      const error = await env.step({ code: 'x' }).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      t.type(error, ContainerGoneError, `the step rejects with ContainerGoneError: ${String(error)}`);
      const gone = error as ContainerGoneError;
      t.equal(gone.code, 'CONTAINER_GONE');
      t.equal(gone.containerId, container.id);
      t.match(gone.message, new RegExp(`^Container ${container.id.slice(0, 12)} \\(${image.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\) is not running \\(exited, exit code \\d+\\)`));
      t.match(gone.message, /fromDockerImage\(\)/, 'the message names the fix');
      t.equal((gone.cause as { code?: string }).code, 'TRANSPORT', 'the transport failure is kept as the cause');
      t.comment(`what the client threw before ContainerGoneError, kept as the cause: ${(gone.cause as Error).message}`);

      await env.close();
      t.pass('close() succeeds on a stopped container');
      t.equal(await containerExists(engine, container.id), false, 'the container is removed');
      t.notOk((await managedIds()).includes(container.id), `and no longer listed under ${MANAGED_LABEL}=true`);
    });
  }
}
