import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import {
  applianceServiceSpec,
  ContainerStartError,
  DockerSwarmProvider,
  MANAGED_LABEL,
  OWNER_LABEL,
  type SwarmAppliance,
} from '../../../../client/index.js';
import { CodingEnv } from '../../../../envs/index.js';
import { probeSwarm, skipSwarmFile } from '../../../fixtures/swarm.js';

// Services on a two-core machine: several seconds each.
t.setTimeout(300_000);

t.test('bad options and specs are refused with the option named', async (t) => {
  t.throws(() => new DockerSwarmProvider({ maxConcurrentStarts: 0 }), {
    code: 'CONTAINER_START',
    message: 'Invalid maxConcurrentStarts: expected a positive integer, received 0.',
  });
  t.throws(() => new DockerSwarmProvider({ constraints: ['node.role'] }), {
    message: 'Invalid constraint: expected "<attribute>==<value>" or "<attribute>!=<value>" (e.g. node.role==worker), received "node.role".',
  });
  t.throws(() => new DockerSwarmProvider({ memoryLimitBytes: -1 }), { message: 'Invalid memoryLimitBytes: expected a positive integer, received -1.' });
  const provider = new DockerSwarmProvider({});
  await t.rejects(provider.start({ token: false }), { code: 'CONTAINER_START', message: /always has a token/ });
  await t.rejects(provider.start({ user: 'root' }), { message: 'Invalid user: expected a non-root user such as 10001:10001, received "root".' });
  await provider.close();
  await t.rejects(provider.start(), { message: 'This DockerSwarmProvider is closed; create a new one.' });
});

t.test('the service spec carries the hardening Swarm can carry', async (t) => {
  const spec = applianceServiceSpec({
    name: 'x',
    imageId: 'sha256:abc',
    args: ['--env', 'coding_env'],
    env: { ENVBOX_TOKEN: 't', ENVBOX_REQUIRE_ISOLATION: 'true' },
    labels: { [MANAGED_LABEL]: 'true' },
    user: '10001:10001',
    containerPort: 8000,
    limits: { memoryLimitBytes: 512 * 1024 ** 2, pidsLimit: 256, cpus: 0.5, tmpSizeBytes: 1024 ** 2 },
    constraints: ['node.role==worker'],
    stopTimeoutS: 5,
  });
  t.match(spec, {
    TaskTemplate: {
      ContainerSpec: {
        Image: 'sha256:abc',
        User: '10001:10001',
        Init: true,
        ReadOnly: true,
        CapabilityDrop: ['ALL'],
        Mounts: [{ Type: 'tmpfs', Target: '/tmp', TmpfsOptions: { SizeBytes: 1024 ** 2 } }],
        Env: ['ENVBOX_TOKEN=t', 'ENVBOX_REQUIRE_ISOLATION=true'],
      },
      Resources: { Limits: { NanoCPUs: 5e8, MemoryBytes: 512 * 1024 ** 2, Pids: 256 } },
      RestartPolicy: { Condition: 'none' },
      Placement: { Constraints: ['node.role==worker'] },
    },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: { Ports: [{ TargetPort: 8000, PublishMode: 'host' }] },
  });
});

const probe = await probeSwarm();
if (probe.swarm === undefined) {
  t.test('DockerSwarmProvider against a real swarm', async (t) => skipSwarmFile(t, probe.reason));
} else {
  const { engine, nodes, imageId } = probe.swarm;
  const testLabels = { 'envbox.test': 'docker-swarm-provider' };
  // The isolation test makes the manager schedulable for a moment: everything else stays on the workers.
  const WORKERS = ['node.role==worker'];
  t.comment(`swarm nodes hosting appliances: ${nodes.join(', ')}; image ${imageId.slice(0, 19)}`);

  t.test('appliances land on both nodes, answer episodes there, and close removes them', async (t) => {
    const provider = new DockerSwarmProvider({ image: imageId, labels: testLabels, constraints: WORKERS, maxConcurrentStarts: 2, memoryLimitBytes: 512 * 1024 ** 2 });
    t.teardown(() => provider.close());
    const count = 4;
    const started = performance.now();
    const appliances = await Promise.all(Array.from({ length: count }, () => provider.start()));
    t.comment(`${count} appliances (2 at a time) healthy in ${Math.round(performance.now() - started)} ms; each: ${appliances.map((a) => a.timings.totalMs).join(', ')} ms`);

    // Placement, from the manager's task list (not from what the provider says).
    const tasks = (await engine.listTasks({ filters: { label: ['envbox.test=docker-swarm-provider'], 'desired-state': ['running'] } })) as Array<{ ServiceID: string; NodeID: string }>;
    const nodeNames = new Map<string, string>();
    for (const node of (await engine.listNodes()) as Array<{ ID: string; Description: { Hostname: string } }>) nodeNames.set(node.ID, node.Description.Hostname);
    const placed = new Set(tasks.filter((task) => appliances.some((a) => a.id === task.ServiceID)).map((task) => nodeNames.get(task.NodeID)));
    t.equal(placed.size, 2, `tasks on ${[...placed].join(', ')}`);
    t.same(new Set(appliances.map((a) => a.node.name)), placed, "the provider's view matches the task list");

    // Episodes answer on both nodes, through the node's address, with the token; namespaces in force.
    for (const appliance of appliances) {
      t.match(appliance.baseUrl, /^http:\/\/192\.168\.\d+\.2:\d+$/);
      t.equal(typeof appliance.token, 'string');
      const health = await appliance.health();
      t.match(health, { status: 'healthy', isolation: 'namespaces' }, `${appliance.node.name}: isolation in force`);
      const env = new CodingEnv({ baseUrl: appliance.baseUrl, token: appliance.token, transport: 'ws' });
      t.teardown(() => env.close());
      await env.reset();
      const step = await env.step({ code: 'import socket; print(6 * 7)' });
      t.equal(step.observation.stdout, '42\n', `an episode answers on ${appliance.node.name}`);
    }
    const unauthorised = await fetch(`${appliances[0]!.baseUrl}/reset`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    t.equal(unauthorised.status, 401, 'the host-mode port wants the token');

    // The service carries the caller's labels and the owner; close() removes it and waits for its task.
    const first = appliances[0]!;
    const inspected = (await engine.getService(first.id).inspect()) as { Spec: { Labels: Record<string, string>; TaskTemplate: { ContainerSpec: { Env: string[] } } } };
    t.match(inspected.Spec.Labels, { ...testLabels, [MANAGED_LABEL]: 'true', [OWNER_LABEL]: /:\d+$/ });
    t.ok(inspected.Spec.TaskTemplate.ContainerSpec.Env.includes('ENVBOX_REQUIRE_ISOLATION=true'));
    await first.close();
    t.equal(first.alive, false);
    t.equal(await engine.getService(first.id).inspect().then(() => 200, (error: { statusCode?: number }) => error.statusCode), 404, 'the service is gone');
    t.same(((await engine.listTasks()) as Array<{ ServiceID: string }>).filter((task) => task.ServiceID === first.id), [], 'and so is its task');
    t.same(await first.state(), { running: false, status: 'removed', exitCode: null });
    await first.close();
    await provider.close();
    t.same(await engine.listServices({ filters: { label: ['envbox.test=docker-swarm-provider'] } }), [], 'provider.close() removed the rest');
  });

  t.test('placement constraints from the caller', async (t) => {
    const target = nodes[nodes.length - 1]!;
    await using provider = new DockerSwarmProvider({ image: imageId, labels: testLabels, constraints: [`node.hostname==${target}`] });
    const appliance: SwarmAppliance = await provider.start();
    t.equal(appliance.node.name, target);
  });

  t.test("a start that replaces a dead appliance keeps off that appliance's node", async (t) => {
    await using provider = new DockerSwarmProvider({ image: imageId, labels: testLabels, constraints: WORKERS });
    const dead = await provider.start();
    const replacement = await provider.start({ replaces: dead });
    const spec = (await engine.getService(replacement.id).inspect()) as { Spec: { TaskTemplate: { Placement: { Constraints: string[] } } } };
    t.same(spec.Spec.TaskTemplate.Placement.Constraints, [...WORKERS, `node.id!=${dead.node.id}`]);
    t.not(replacement.node.id, dead.node.id, `the replacement runs on ${replacement.node.name}, the replaced one on ${dead.node.name}`);
    // Where no other node meets the provider's constraints, it may land there again (rather than wait for a node forever).
    await using pinned = new DockerSwarmProvider({ image: imageId, labels: testLabels, constraints: [`node.hostname==${dead.node.name}`] });
    const again = await pinned.start({ replaces: dead });
    t.equal(again.node.id, dead.node.id, 'pinned to that node, the replacement runs there');
    const pinnedSpec = (await engine.getService(again.id).inspect()) as { Spec: { TaskTemplate: { Placement: { Constraints: string[] } } } };
    t.same(pinnedSpec.Spec.TaskTemplate.Placement.Constraints, [`node.hostname==${dead.node.name}`]);
  });

  t.test('an appliance that refuses to start fails the start with its log, and is removed', async (t) => {
    await using provider = new DockerSwarmProvider({ image: imageId, labels: testLabels, constraints: WORKERS });
    const error = (await provider.start({ command: ['--env', 'no_such_env'] }).catch((e: unknown) => e)) as ContainerStartError;
    t.type(error, ContainerStartError);
    t.match(error.message, /^(Swarm service|Container) \w{12} of sha256:\w+ (did not start|stopped before it was healthy): .*exit/);
    t.match(error.logs, /no_such_env/, 'the appliance log is in the error');
    t.same(await engine.listServices({ filters: { id: [error.containerId ?? '?'] } }), [], 'the failed service was removed');
  });

  t.test('cleanup() removes leftovers of dead owners by label, not live ones', async (t) => {
    await using provider = new DockerSwarmProvider({ image: imageId, labels: testLabels, constraints: WORKERS });
    const live = await provider.start();
    const spec = applianceServiceSpec({
      name: `envbox-leftover-${process.pid}`,
      imageId,
      args: ['--env', 'echo_env'],
      env: { ENVBOX_TOKEN: 'leftover' },
      labels: { ...testLabels, [MANAGED_LABEL]: 'true', [OWNER_LABEL]: `${(await import('node:os')).hostname()}:999999999` },
      user: '10001:10001',
      containerPort: 8000,
      limits: { memoryLimitBytes: 256 * 1024 ** 2, pidsLimit: 128, cpus: 0.5, tmpSizeBytes: 1024 ** 2 },
      constraints: [],
      stopTimeoutS: 1,
    });
    const leftover = (await engine.createService(spec)).id;
    const removed = await provider.cleanup();
    t.ok(removed.includes(leftover), 'the service of the dead owner was removed');
    t.notOk(removed.includes(live.id), 'not the live one');
    t.same(((await engine.listTasks()) as Array<{ ServiceID: string }>).filter((task) => task.ServiceID === leftover), [], 'its task is gone');
    t.equal((await live.state())?.running, true, 'the live one still runs');
  });
}

if (probe.swarm !== undefined) {
  const { engine, imageId } = probe.swarm;
  t.test('on a node without the namespaces profile as a daemon default, the appliance refuses to start and the error carries its log', async (t) => {
    // The manager (this engine) has Docker's default seccomp profile: bubblewrap cannot make namespaces there.
    const info = (await engine.info()) as { Swarm: { NodeID: string } };
    const node = engine.getNode(info.Swarm.NodeID);
    const setAvailability = async (availability: 'active' | 'drain'): Promise<void> => {
      const spec = (await node.inspect()) as { Version: { Index: number }; Spec: Record<string, unknown> };
      await (node as unknown as { update(options: Record<string, unknown>): Promise<unknown> }).update({ version: spec.Version.Index, ...spec.Spec, Availability: availability });
    };
    await setAvailability('active');
    t.teardown(() => setAvailability('drain'));
    await using provider = new DockerSwarmProvider({ image: imageId, labels: { 'envbox.test': 'docker-swarm-provider' }, constraints: ['node.role==manager'] });
    const error = (await provider.start().catch((e: unknown) => e)) as ContainerStartError;
    t.type(error, ContainerStartError);
    t.match(error.message, /exit(ed with)? code 1/);
    t.match(error.logs, /--require-isolation: bubblewrap cannot create namespaces here/);
    t.match(error.message, /Its last log lines:\n[\s\S]*--require-isolation/);
  });
}

if (probe.swarm !== undefined) {
  const { engine, imageId } = probe.swarm;
  t.test('new DockerSwarmProvider({}) works with its defaults (envbox/appliance:latest, the local engine as manager)', async (t) => {
    const latest = await engine
      .getImage('envbox/appliance:latest')
      .inspect()
      .then((info) => info.Id, () => undefined);
    if (latest !== imageId) {
      // Other work on this engine rebuilt the tag since `make swarm-up` loaded it on the workers.
      t.plan(0, `envbox/appliance:latest is ${String(latest).slice(0, 19)}, the workers have ${imageId.slice(0, 19)}: run make swarm-up again`);
      return;
    }
    await using provider = new DockerSwarmProvider({});
    t.equal(provider.defaultImage, 'envbox/appliance:latest');
    const appliance = await provider.start();
    t.equal(appliance.imageId, imageId, 'the service runs the image ID, no registry asked');
    t.match(await appliance.health(), { status: 'healthy', isolation: 'namespaces' });
  });
}

if (probe.swarm !== undefined) {
  const { engine, imageId } = probe.swarm;
  const OWNER = fileURLToPath(new URL('../../../fixtures/swarm-owner.ts', import.meta.url));
  for (const mode of ['exit', 'sigterm'] as const) {
    t.test(`a process that ends (${mode}) without closing its provider has its services removed`, async (t) => {
      // The same TypeScript loader tap runs this file with.
      const loader = process.execArgv.filter((arg) => arg.includes('@tapjs/typescript'));
      const child = spawn(process.execPath, [...loader, OWNER, imageId, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
      t.teardown(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
      await once(child, 'exit');
      const id = /started (\w+)\n/.exec(out)?.[1];
      t.ok(id, `the owner started a service: ${out.slice(0, 300)}`);
      t.same(await engine.listServices({ filters: { id: [id ?? '?'] } }), [], 'its service was removed as the process ended');
    });
  }
}
