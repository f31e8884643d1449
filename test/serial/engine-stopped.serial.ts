// Run by `make test` after the parallel suite, alone: it adds a swarm node, cuts it off the network
// and stops its engine mid-batch, then removes it, which other Swarm tests running at the same time
// would feel (a service scheduled on the dying node fails to start). Not matched by .taprc's
// include on purpose.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { DockerSwarmProvider, EnvPool, type ContainerProvider, type SwarmAppliance } from '../../index.js';
import { CodingEnv } from '../../envs/index.js';
import { probeSwarm, skipSwarmFile } from '../fixtures/swarm.js';

t.setTimeout(420_000);

const run = promisify(execFile);
const WORKER_SCRIPT = fileURLToPath(new URL('../../images/swarm/swarm-worker.sh', import.meta.url));
/** The node this file adds (images/swarm/swarm-worker.sh): worker 9, on 192.168.221.2. */
const VICTIM = { index: '9', name: 'envbox-w9' };

const worker = async (command: 'up' | 'stop' | 'partition' | 'heal' | 'down', ...args: string[]): Promise<string> =>
  (await run(WORKER_SCRIPT, [command, VICTIM.index, ...args], { maxBuffer: 1 << 20 })).stdout;

const probe = await probeSwarm();
const why = probe.swarm === undefined ? probe.reason : process.getuid?.() !== 0 ? 'adding a swarm node needs root (a network namespace and a dockerd)' : undefined;
if (why !== undefined || probe.swarm === undefined) {
  t.test('a node whose engine stops mid-batch', async (t) => skipSwarmFile(t, why ?? 'no swarm'));
} else {
  const { engine, imageId } = probe.swarm;
  const labels = { 'envbox.test': 'engine-stopped' };

  const limits = { memoryLimitBytes: 512 * 1024 ** 2 };
  t.before(async () => t.comment(await worker('up', 'envbox.test-node=engine-stopped')));
  t.teardown(() => worker('down'));

  /**
   * A pool of two appliances: the first on the node that will fail, the second on another
   * worker; replacements wherever a worker can take them (the provider is told which appliance a
   * start replaces, and keeps off its node). Three real providers on the same swarm.
   */
  const poolAcross = async (t: Test, timeoutMs: number) => {
    const onVictim = new DockerSwarmProvider({ image: imageId, labels, ...limits, constraints: [`node.hostname==${VICTIM.name}`] });
    const elsewhere = new DockerSwarmProvider({ image: imageId, labels, ...limits, constraints: ['node.role==worker', `node.hostname!=${VICTIM.name}`] });
    const anyWorker = new DockerSwarmProvider({ image: imageId, labels, ...limits, constraints: ['node.role==worker'] });
    const providers = [onVictim, elsewhere, anyWorker];
    let initial = 0;
    const provider: ContainerProvider = {
      defaultImage: imageId,
      start: (spec) => (spec.replaces !== undefined ? anyWorker : initial++ === 0 ? onVictim : elsewhere).start(spec),
      cleanup: async (options) => (await Promise.all(providers.map((p) => p.cleanup(options)))).flat(),
      close: async () => void (await Promise.all(providers.map((p) => p.close()))),
      [Symbol.asyncDispose]: () => provider.close(),
    };
    t.teardown(() => provider.close());
    const pool = await EnvPool.create(CodingEnv, { provider, appliances: 2, episodesPerAppliance: 4, timeoutMs, progress: false });
    t.teardown(() => pool.close());
    const [victim] = onVictim.appliances as SwarmAppliance[];
    const [survivor] = elsewhere.appliances as SwarmAppliance[];
    t.equal(victim?.node.name, VICTIM.name, 'one appliance on the node that will fail');
    t.not(survivor?.node.name, VICTIM.name, `the other on ${survivor?.node.name}`);
    const first = await pool.reset({ n: 8, options: { language: 'python' } });
    t.same(
      first.map((r) => ('error' in r ? r.error.message : 'ok')),
      Array(8).fill('ok'),
      'every episode started',
    );
    t.same(
      pool.stats().appliances.map((a) => a.episodes),
      [4, 4],
    );
    // State in every episode, to show that it survives on the live node and is gone on the dead one.
    const stored = await pool.step(Array.from({ length: 8 }, (_, i) => ({ code: `x = ${i}` })));
    t.ok(stored.every((r) => !('error' in r) && r.observation.exit_code === 0), 'state stored in every episode');
    return { pool, provider, anyWorker };
  };

  /** After the failure: 4 lost, 4 answered with their state, a replacement off the dead node, the next reset working, close() removing all. */
  const checkRecovery = async (t: Test, pool: EnvPool<CodingEnv>, provider: ContainerProvider, anyWorker: DockerSwarmProvider, answered: Awaited<ReturnType<EnvPool<CodingEnv>['step']>>, beforeClose?: () => Promise<unknown>) => {
    t.equal(pool.stats().dead, 1, 'the appliance on the failed node was found dead');
    const lost = answered.flatMap((r, i) => ('error' in r && r.stateLost === true && r.error.code === 'STATE_LOST' ? [i] : []));
    const ok = answered.flatMap((r, i) => (!('error' in r) && r.observation.stdout === `${i}\n` ? [i] : []));
    t.equal(lost.length, 4, `four episodes lost their state: ${JSON.stringify(answered.map((r) => ('error' in r ? r.error.message : r.observation.stdout)))}`);
    t.equal(ok.length, 4, 'the four on the live node answered, their state intact');
    t.same([...lost, ...ok].sort((a, b) => a - b), Array.from({ length: 8 }, (_, i) => i), 'every slot is one or the other');
    // Lost episodes stay lost (a value, not a hang) until the next reset.
    const after = await pool.step(Array.from({ length: 8 }, () => ({ code: 'print(x)' })));
    t.same(
      lost.map((i) => ('error' in after[i]! ? after[i]!.error.code : 'answered')),
      lost.map(() => 'STATE_LOST'),
    );
    // The next reset waits for the replacement, which runs on a live node, not the failed one.
    const again = await pool.reset({ n: 8, options: { language: 'python' } });
    t.same(
      again.map((r) => ('error' in r ? r.error.message : 'ok')),
      Array(8).fill('ok'),
      'the next reset works',
    );
    t.match(pool.stats(), { dead: 1, replaced: 1 });
    const [replacement] = anyWorker.appliances as SwarmAppliance[];
    t.ok(replacement, 'the replacement was started through the provider');
    t.not(replacement?.node.name, VICTIM.name, `the replacement runs on ${replacement?.node.name}, not on the failed node`);
    const echoed = await pool.step(Array.from({ length: 8 }, (_, i) => ({ code: `print(${i} + 100)` })));
    t.same(
      echoed.map((r) => ('error' in r ? r.error.message : r.observation.stdout)),
      Array.from({ length: 8 }, (_, i) => `${i + 100}\n`),
    );
    await beforeClose?.();
    await pool.close();
    await provider.close();
    t.same(await engine.listServices({ filters: { label: ['envbox.test=engine-stopped'] } }), [], 'close() removed every service, the dead one too');
  };

  t.test('a node cut off the network mid-batch: the calls on it end at their deadline, the pool does not hang', async (t) => {
    const timeoutMs = 6_000;
    const { pool, provider, anyWorker } = await poolAcross(t, timeoutMs);
    let healed = false;
    t.teardown(async () => {
      if (!healed) await worker('heal');
    });
    t.comment(await worker('partition'));
    const started = performance.now();
    const answered = await pool.step(Array.from({ length: 8 }, () => ({ code: 'print(x)' })));
    t.comment(`the batch answered ${Math.round(performance.now() - started)} ms after the partition (the deadline: ${timeoutMs} ms, then a liveness probe of at most 3 s)`);
    t.match(
      answered.find((r) => 'error' in r),
      { stateLost: true, error: { message: /lost its state \(the appliance died: / } },
    );
    // The dead appliance's service can only be confirmed gone once its node is back.
    await checkRecovery(t, pool, provider, anyWorker, answered, async () => {
      t.comment(await worker('heal'));
      healed = true;
    });
  });

  t.test("a node's engine stopped mid-batch: its episodes lose their state, the others answer, the replacement runs elsewhere", async (t) => {
    const { pool, provider, anyWorker } = await poolAcross(t, 30_000);
    // A batch in flight (each step takes 3 s), then the node's dockerd is stopped: it stops its
    // containers and goes, as a machine whose engine is shut down would.
    const inFlight = pool.step(Array.from({ length: 8 }, () => ({ code: 'import time; time.sleep(3); print(x)' })));
    t.comment(await worker('stop'));
    await checkRecovery(t, pool, provider, anyWorker, await inFlight);
  });
}
