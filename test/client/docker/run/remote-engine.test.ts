import Docker from 'dockerode';
import t from 'tap';
import { LocalDockerProvider, publishTarget } from '../../../../client/index.js';
import { CodingEnv } from '../../../../envs/index.js';
import { probeSwarm, skipSwarmFile, SWARM_STATE_DIR } from '../../../fixtures/swarm.js';

t.setTimeout(180_000);

t.test("the published port's address follows the engine's", async (t) => {
  t.same(publishTarget(new Docker({ socketPath: '/var/run/docker.sock' })), { host: '127.0.0.1', bindIp: '127.0.0.1', exposed: false });
  t.same(publishTarget(new Docker({ host: '127.0.0.1', port: 2375 })), { host: '127.0.0.1', bindIp: '127.0.0.1', exposed: false });
  t.same(publishTarget(new Docker({ host: 'localhost', port: 2375 })), { host: '127.0.0.1', bindIp: '127.0.0.1', exposed: false });
  t.same(publishTarget(new Docker({ host: '10.0.0.5', port: 2376, protocol: 'https' })), { host: '10.0.0.5', bindIp: '0.0.0.0', exposed: true });
  t.same(publishTarget(new Docker({ protocol: 'ssh', host: 'gpu-host', username: 'me' })), { host: 'gpu-host', bindIp: '0.0.0.0', exposed: true });
  t.same(publishTarget(new Docker({ socketPath: '/x.sock' }), '192.168.1.9'), { host: '192.168.1.9', bindIp: '0.0.0.0', exposed: true });
});

t.test('a remote engine never runs a container without a token', async (t) => {
  await using provider = new LocalDockerProvider({ docker: new Docker({ host: '10.255.255.1', port: 2375 }) });
  await t.rejects(provider.start('envbox/appliance:latest', { token: false }), {
    code: 'CONTAINER_START',
    message:
      'Invalid token: expected a string or undefined, received false; the engine at tcp://10.255.255.1:2375 publishes on 10.255.255.1, reachable from other machines, so a token is always set.',
  });
});

// A real second engine: a swarm worker of `make swarm-up`, reached as another machine would be (its own network namespace and address).
const probe = await probeSwarm();
if (probe.swarm === undefined) {
  t.test('LocalDockerProvider on another engine', async (t) => skipSwarmFile(t, probe.reason));
} else {
  const { imageId } = probe.swarm;
  t.test("LocalDockerProvider on another machine's engine: published on its address, with a token", async (t) => {
    const docker = new Docker({ socketPath: `${SWARM_STATE_DIR}/envbox-w1/docker.sock` });
    await using provider = new LocalDockerProvider({ docker, publishHost: '192.168.213.2' });
    const container = await provider.start(imageId);
    t.match(container.baseUrl, /^http:\/\/192\.168\.213\.2:\d+$/);
    t.equal(typeof container.token, 'string', 'a token, though none was asked for');
    const inspected = await docker.getContainer(container.id).inspect();
    t.same(inspected.HostConfig.PortBindings?.['8000/tcp'], [{ HostIp: '0.0.0.0', HostPort: '' }]);
    const refused = await fetch(`${container.baseUrl}/reset`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    t.equal(refused.status, 401);
    await using env = new CodingEnv({ baseUrl: container.baseUrl, token: container.token, transport: 'ws' });
    await env.reset();
    t.equal((await env.step({ code: 'print(7)' })).observation.stdout, '7\n');
    await container.close();
    t.equal((await docker.listContainers({ all: true, filters: { id: [container.id] } })).length, 0, 'close() removed it on that engine');
  });
}
