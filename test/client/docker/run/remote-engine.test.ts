import { readFile } from 'node:fs/promises';
import Docker from 'dockerode';
import t, { type Test } from 'tap';
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

// The same worker's engine over tcp:// with TLS (`make swarm-up` has every worker listen on
// <its address>:2376 with --tlsverify, certificates of its own CA in <state>/tls/client): as a
// remote machine's engine is reached, by explicit options and by DOCKER_HOST.
if (probe.swarm !== undefined) {
  const { imageId } = probe.swarm;
  const certs = `${SWARM_STATE_DIR}/tls/client`;
  const host = '192.168.213.2';
  const stepOn = async (t: Test, provider: LocalDockerProvider, docker: Docker): Promise<void> => {
    const container = await provider.start(imageId);
    t.match(container.baseUrl, new RegExp(`^http://${host.replaceAll('.', '\\.')}:\\d+$`), 'published on the engine host, not 127.0.0.1');
    t.equal(typeof container.token, 'string', 'with a token, though none was asked for');
    const inspected = await docker.getContainer(container.id).inspect();
    t.same(inspected.HostConfig.PortBindings?.['8000/tcp'], [{ HostIp: '0.0.0.0', HostPort: '' }]);
    t.equal(inspected.HostConfig.ReadonlyRootfs, true, 'hardened as on the local engine');
    await using env = new CodingEnv({ baseUrl: container.baseUrl, token: container.token, transport: 'ws' });
    await env.reset();
    t.equal((await env.step({ code: 'print(6 * 7)' })).observation.stdout, '42\n');
    await container.close();
    t.equal((await docker.listContainers({ all: true, filters: { id: [container.id] } })).length, 0, 'close() removed it on that engine');
  };

  t.test('LocalDockerProvider on an engine over tcp:// with TLS, by explicit options', async (t) => {
    const [ca, cert, key] = await Promise.all(['ca.pem', 'cert.pem', 'key.pem'].map((file) => readFile(`${certs}/${file}`)));
    const docker = new Docker({ host, port: 2376, protocol: 'https', ca, cert, key });
    await using provider = new LocalDockerProvider({ docker });
    await stepOn(t, provider, docker);
  });

  t.test('LocalDockerProvider on an engine named by DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH', async (t) => {
    const saved = { DOCKER_HOST: process.env.DOCKER_HOST, DOCKER_TLS_VERIFY: process.env.DOCKER_TLS_VERIFY, DOCKER_CERT_PATH: process.env.DOCKER_CERT_PATH };
    t.teardown(() => {
      for (const [name, value] of Object.entries(saved)) if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    });
    Object.assign(process.env, { DOCKER_HOST: `tcp://${host}:2376`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs });
    await using provider = new LocalDockerProvider();
    const [ca, cert, key] = await Promise.all(['ca.pem', 'cert.pem', 'key.pem'].map((file) => readFile(`${certs}/${file}`)));
    await stepOn(t, provider, new Docker({ host, port: 2376, protocol: 'https', ca, cert, key }));
  });

  t.test('an engine over TLS that refuses the client (no client certificate) is a clear error', async (t) => {
    const ca = await readFile(`${certs}/ca.pem`);
    await using provider = new LocalDockerProvider({ docker: new Docker({ host, port: 2376, protocol: 'https', ca }) });
    const error = (await provider.start(imageId).catch((e: unknown) => e)) as Error & { code?: string };
    t.match(error, { code: 'DOCKER_UNAVAILABLE' });
    t.match(error.message, /^Cannot create a container of sha256:\w+: The Docker engine at tcp:\/\/192\.168\.213\.2:2376 \(TLS\) and this client do not trust each other over TLS \(ERR_SSL_\w+: .*\); check the CA, client certificate and key/);
    // And plain HTTP to a TLS-only engine: it answers 400 "Client sent an HTTP request to an HTTPS
    // server" and closes, and the close can reach the client first (ECONNRESET): either way the
    // error is DOCKER_UNAVAILABLE naming the engine, and says TLS when the engine did.
    await using plain = new LocalDockerProvider({ docker: new Docker({ host, port: 2376 }) });
    t.match(await plain.start(imageId).catch((e: unknown) => e), {
      code: 'DOCKER_UNAVAILABLE',
      message:
        /the Docker engine at tcp:\/\/192\.168\.213\.2:2376 (speaks TLS only \(it answered: Client sent an HTTP request to an HTTPS server\); check the CA|does not answer \(read ECONNRESET\) \(an engine that speaks TLS resets plain HTTP: check the CA)/,
    });
  });

  // And over ssh://, as dockerode does it (ssh2, then `docker system dial-stdio` on the far side):
  // `make swarm-up` runs an sshd in the worker's namespace whose key may only dial its engine.
  const sshKey = `${SWARM_STATE_DIR}/ssh/id_ed25519`;
  t.test('LocalDockerProvider on an engine over ssh://', async (t) => {
    const privateKey = await readFile(sshKey).catch(() => undefined);
    if (privateKey === undefined) {
      skipSwarmFile(t, `no ${sshKey}: make swarm-up runs an sshd per worker only where sshd is installed (apt-get install openssh-server)`);
      return;
    }
    const docker = new Docker({ protocol: 'ssh', host, port: 22, username: 'root', sshOptions: { privateKey } });
    await using provider = new LocalDockerProvider({ docker });
    await stepOn(t, provider, docker);
    await using refused = new LocalDockerProvider({ docker: new Docker({ protocol: 'ssh', host, port: 22, username: 'root', sshOptions: { password: 'wrong' } }) });
    const error = (await refused.start(imageId).catch((e: unknown) => e)) as Error & { code?: string };
    t.match(error, { code: 'DOCKER_UNAVAILABLE', message: /ssh:\/\/root@192\.168\.213\.2:22/ }, `refused by sshd: ${error.message}`);
  });
}
