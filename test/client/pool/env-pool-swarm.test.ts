import Docker from 'dockerode';
import t from 'tap';
import { DockerSwarmProvider, EnvPool, type SwarmAppliance } from '../../../index.js';
import { CodingEnv } from '../../../envs/index.js';
import { probeSwarm, skipSwarmFile, SWARM_STATE_DIR } from '../../fixtures/swarm.js';

// Appliances on a two-core machine: several seconds each.
t.setTimeout(300_000);

const probe = await probeSwarm();
if (probe.swarm === undefined) {
  t.test('EnvPool on a real swarm', async (t) => skipSwarmFile(t, probe.reason));
} else {
  const { engine, imageId } = probe.swarm;
  const labels = { 'envbox.test': 'env-pool-swarm' };

  t.test('a batch across appliances on both nodes; one killed mid-batch is replaced; close removes every service', async (t) => {
    const provider = new DockerSwarmProvider({ image: imageId, labels, constraints: ['node.role==worker'], memoryLimitBytes: 512 * 1024 ** 2 });
    t.teardown(() => provider.close());
    const started = performance.now();
    await using pool = await EnvPool.create(CodingEnv, { provider, appliances: 2, episodesPerAppliance: 8, timeoutMs: 20_000, progress: false });
    const startMs = Math.round(performance.now() - started);
    const appliances = provider.appliances as SwarmAppliance[];
    t.same(new Set(appliances.map((a) => a.node.name)).size, 2, `appliances on ${appliances.map((a) => a.node.name).join(' and ')}`);

    const n = 16;
    const reset = await pool.reset({ n, options: { language: 'python' } });
    t.ok(reset.every((r) => !('error' in r)), 'every episode started');
    t.same(
      pool.stats().appliances.map((a) => a.episodes),
      [8, 8],
    );
    const stepped = performance.now();
    const results = await pool.step(Array.from({ length: n }, (_, i) => ({ code: `print(${i} * 2)` })));
    const stepsPerSecond = Math.round(n / ((performance.now() - stepped) / 1000));
    t.same(
      results.map((r) => ('error' in r ? r.error.message : r.observation.stdout)),
      Array.from({ length: n }, (_, i) => `${i * 2}\n`),
    );
    t.comment(`2 appliances started in ${startMs} ms; a ${n}-episode Python batch: ${stepsPerSecond} steps/s`);

    // Kill one appliance's container on its own node's engine, with a batch in flight.
    const victim = appliances[0]!;
    const worker = new Docker({ socketPath: `${SWARM_STATE_DIR}/${victim.node.name}/docker.sock` });
    const [container] = await worker.listContainers({ filters: { label: [`com.docker.swarm.service.id=${victim.id}`] } });
    const batch = pool.step(Array.from({ length: n }, () => ({ code: 'import time; time.sleep(1); print("ok")' })));
    await worker.getContainer(container!.Id).kill();
    const killed = await batch;
    const lost = killed.filter((r) => 'error' in r && r.stateLost === true).length;
    t.equal(lost, 8, "the victim's eight episodes lost their state");
    t.equal(killed.filter((r) => !('error' in r) && r.observation.stdout === 'ok\n').length, 8, 'the other eight answered');

    const again = await pool.reset({ n, options: { language: 'python' } });
    t.ok(again.every((r) => !('error' in r)), 'the next reset works on the replacement');
    t.match(pool.stats(), { dead: 1, replaced: 1 });
    t.equal(provider.appliances.length, 2, 'the dead appliance was removed, a new one started');
    await pool.close();
    t.same(await engine.listServices({ filters: { label: ['envbox.test=env-pool-swarm'] } }), [], 'close() removed every service');
  });
}
