import t, { type Test } from 'tap';
import { DEFAULT_CONTAINER_PORT, DockerSwarmProvider, type SwarmAppliance } from '../../client/index.js';
import { execIn } from '../fixtures/docker.js';
import { probeSwarm, skipSwarmFile } from '../fixtures/swarm.js';
import { swarmTaskContainer } from '../fixtures/swarm-task-container.js';
import { CANARY_NAME, CANARY_VALUE, corpusRequest, PROBE_PATH, runCorpus, type RemoteCorpusTarget } from './corpus.js';
import { javascriptCases, javascriptWorkerStallCases } from './javascript-cases.js';
import { pythonCases } from './python-cases.js';

// Run by `make test` after the parallel suite, one file at a time: its memory and fork bombs load
// the whole machine (the swarm's workers run on it), which would disturb the deadlines of tests
// running beside it. Not matched by .taprc's include on purpose.
// The escape corpus on the remote path: episodes on an appliance that DockerSwarmProvider started
// on the swarm of `make swarm-up` (a hardened service on a worker whose dockerd has
// images/seccomp.json and no-new-privileges as daemon defaults), driven over its published port
// with its token. The same cases and outcomes as the in-process files; what differs is said where
// it differs (remoteTarget).

// Three appliances (two at once), four corpora one after another, on a shared two-core machine: ~3 min.
t.setTimeout(40 * 60_000);

/** The nodes that may host appliances: the workers labelled by `make swarm-up`, not test nodes such as envbox-w9. */
const APPLIANCE_HOSTS = ['node.labels.envbox.role==appliance-host'];
const TEST_LABELS = { 'envbox.test': 'remote-corpus' };
/** Warm sandboxes per language, as the in-process corpus server has. */
const POOL_SIZE = '2';

/**
 * Lists the processes of the container as it sees them: pid, parent pid, argv, the mount points of
 * a process in a mount namespace other than the container's (a sandbox's; null for the rest), and
 * the ids of its threads in its innermost pid namespace (the last of NSpid).
 */
const LIST_PROCESSES = `const fs = require('fs');
const read = (path) => { try { return fs.readFileSync(path, 'utf8'); } catch { return null; } };
const mine = fs.readlinkSync('/proc/self/ns/mnt');
const out = [];
for (const p of fs.readdirSync('/proc').filter((name) => /^\\d+$/.test(name))) {
  const cmdline = read('/proc/' + p + '/cmdline');
  const status = read('/proc/' + p + '/status');
  if (cmdline === null || status === null) continue;
  let ns = null;
  try { ns = fs.readlinkSync('/proc/' + p + '/ns/mnt'); } catch {}
  const mountinfo = ns !== null && ns !== mine ? read('/proc/' + p + '/mountinfo') : null;
  const threads = [];
  for (const tid of fs.readdirSync('/proc/' + p + '/task')) {
    const nspid = /^NSpid:\\s+(.*)$/m.exec(read('/proc/' + p + '/task/' + tid + '/status') ?? '');
    if (nspid) threads.push(Number(nspid[1].trim().split(/\\s+/).pop()));
  }
  out.push({
    pid: Number(p),
    ppid: Number(/^PPid:\\s+(\\d+)$/m.exec(status)[1]),
    argv: cmdline.split('\\0').filter(Boolean),
    mounts: mountinfo === null ? null : mountinfo.trim().split('\\n').map((line) => line.split(' ')[4]),
    threads,
  });
}
process.stdout.write(JSON.stringify(out));`;

/** One process of {@link LIST_PROCESSES}. */
interface ContainerProcess {
  pid: number;
  ppid: number;
  argv: string[];
  /** Mount points, for a process in a mount namespace of its own (a sandbox); else null. */
  mounts: string[] | null;
  /** Its threads' ids in its innermost pid namespace. */
  threads: number[];
}

/** Whether /proc/<argv[1]>/environ holds the entry argv[2]. */
const ENVIRON_HOLDS = "process.stdout.write(String(require('fs').readFileSync('/proc/' + process.argv[1] + '/environ', 'utf8').split('\\0').includes(process.argv[2])))";

/**
 * The corpus's view of `appliance`, every fact found inside its container (exec through its node's
 * engine), and asserted in `t`:
 * - `{{SERVER_PORT}}`: the port the server listens on in the container (the spec's containerPort,
 *   {@link DEFAULT_CONTAINER_PORT}); a guest connecting to 127.0.0.1 there meets its own network namespace.
 * - `{{SERVER_PID}}`: the pid of `envbox serve` in the container's pid namespace (the one a guest
 *   would have to name): the child of the image's init (`--init`, pid 1) whose argv has `serve`,
 *   confirmed by its /proc environ holding the canary planted through the spec's env.
 * - `{{SERVER_DIR}}`: the package directory of that process (the real path of its entry script,
 *   two levels up: /opt/envbox, the image's WORKDIR), confirmed by its package.json there.
 * - `probeRequests`: the container's server has no request hook this process could count; a guest's
 *   request for {@link PROBE_PATH} cannot carry the token (it would have to read the server's
 *   environment, which the canary checks catch), so it gets 401, or 404 with the token: each such
 *   reply is one `envbox_errors_total{code="UNAUTHORIZED"|"NOT_FOUND"}` in the server's /metrics.
 *   The count of those since the start is an upper bound of the probe requests (the harness sends
 *   none of either), so 0 still proves none arrived; the counter is shown to see one such request.
 * - `pathExists`: `test -e` in the container, where writes that escaped a sandbox would land.
 * - What its sandboxes are given, seen from outside them (the mount table and thread ids of the
 *   sandbox processes): whether they have a /proc, and whether the server's pid names a Pyodide
 *   guest's own thread in the guest's pid namespace (PythonCorpusHost).
 */
async function remoteTarget(t: Test, appliance: SwarmAppliance, warmPool = true): Promise<RemoteAppliance> {
  const container = await swarmTaskContainer(appliance);
  const list = async (): Promise<ContainerProcess[]> => JSON.parse((await execIn(container, ['node', '-e', LIST_PROCESSES])).stdout) as ContainerProcess[];
  // The warm pool's sandboxes start in the background: wait until some run, to look at them too.
  let processes = await list();
  for (let tries = 0; warmPool && tries < 50 && !processes.some((p) => p.mounts !== null); tries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    processes = await list();
  }
  const servers = processes.filter((p) => p.ppid === 1 && p.argv.includes('serve'));
  // Processes of ppid 0 came in through exec (this listing itself).
  const shown = processes.filter((p) => p.ppid !== 0).map((p) => `${p.pid}<${p.ppid} ${p.argv.slice(0, 3).join(' ')}`);
  t.equal(servers.length, 1, `one envbox serve under the container's init: ${shown.join('; ')}`);
  const server = servers[0]!;
  const environ = await execIn(container, ['node', '-e', ENVIRON_HOLDS, String(server.pid), `${CANARY_NAME}=${CANARY_VALUE}`]);
  t.equal(environ.stdout, 'true', `pid ${server.pid} is the server: the canary is in its environment`);
  const entry = await execIn(container, ['realpath', server.argv[1] ?? '?']);
  const dir = entry.stdout.trim().replace(/\/dist\/cli\.js$/, '');
  t.equal(dir, '/opt/envbox', `the server's package directory (its entry script is ${entry.stdout.trim()})`);
  const exists = async (path: string): Promise<boolean> => {
    const result = await execIn(container, ['test', '-e', path]);
    if (result.exitCode !== 0 && result.exitCode !== 1) throw new Error(`test -e ${path} in ${appliance.serviceName} exited ${result.exitCode}: ${result.stderr}`);
    return result.exitCode === 0;
  };
  t.ok(await exists(`${dir}/package.json`), `${dir}/package.json is there for a guest to try`);

  const server401or404 = async (): Promise<number> => {
    const response = await fetch(`${appliance.baseUrl}/metrics`, { headers: { authorization: `Bearer ${appliance.token}` } });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}: ${text.slice(0, 200)}`);
    let count = 0;
    for (const match of text.matchAll(/^envbox_errors_total\{code="(?:UNAUTHORIZED|NOT_FOUND)"\} (\d+)$/gm)) count += Number(match[1]);
    return count;
  };
  const before = await server401or404();
  const probe = await fetch(`${appliance.baseUrl}${PROBE_PATH}`);
  t.equal(probe.status, 401, `${PROBE_PATH} without the token is refused`);
  t.equal(await server401or404(), before + 1, 'and counted: the probe counter sees a request for it');
  const baseline = before + 1;

  // What the sandboxes are given here, seen from outside them.
  const sandboxes = processes.filter((p) => p.mounts !== null);
  if (warmPool) t.ok(sandboxes.length > 0, `${sandboxes.length} sandbox processes in mount namespaces of their own: ${sandboxes.map((p) => `${p.pid} ${p.argv[0]}`).join(', ')}`);
  const withProc = sandboxes.filter((p) => p.mounts!.includes('/proc')).length;
  t.ok(withProc === 0 || withProc === sandboxes.length, `every sandbox alike: ${withProc} of ${sandboxes.length} have a /proc`);
  const procMount = withProc > 0;
  // Docker masks paths of the container's /proc (/proc/bus, /proc/kcore, ...): the kernel refuses a
  // fresh procfs in a user namespace under such a /proc, so bubblewrap mounts none (isolation-probe.ts).
  t.comment(`sandboxes ${procMount ? 'have' : 'have no'} /proc of their own`);
  const guestThreads = sandboxes.filter((p) => p.argv[0] === '/envbox/node').flatMap((p) => p.threads);
  const serverPidIsGuestThread = guestThreads.includes(server.pid);
  if (guestThreads.length > 0) t.comment(`Pyodide guests' thread ids in their pid namespaces: ${[...new Set(guestThreads)].sort((a, b) => a - b).join(', ')}; the server is ${server.pid}`);
  return {
    target: {
      baseUrl: appliance.baseUrl,
      token: appliance.token,
      port: DEFAULT_CONTAINER_PORT,
      pid: server.pid,
      dir,
      probeRequests: async () => (await server401or404()) - baseline,
      pathExists: exists,
    },
    procMount,
    serverPidIsGuestThread,
    serverStillThere: async () => (await list()).some((p) => p.pid === server.pid && p.ppid === 1 && p.argv.includes('serve')),
  };
}

/** The corpus target of an appliance, and what its sandboxes are given. */
interface RemoteAppliance {
  target: RemoteCorpusTarget;
  /** Its process sandboxes have a /proc of their own. */
  procMount: boolean;
  /** The server's pid names a thread of a Pyodide guest in the guest's pid namespace. */
  serverPidIsGuestThread: boolean;
  /** `envbox serve` still runs under the container's init with the pid found at the start (nothing killed or restarted it). */
  serverStillThere: () => Promise<boolean>;
}

/**
 * The memory limit of the corpus's appliances: room for one sandbox at its own cap (RLIMIT_AS 1 GiB;
 * a Pyodide heap of 1 GiB and its overhead) beside the server, the bystander and the warm pool, so
 * that each sandbox's own wall is what a memory case meets, as in-process. At the provider's default
 * (1 GiB) the container's cgroup can be the first wall instead: the memory bombs were OOM-killed by
 * it (137, state lost, not MemoryError), and once the OOM killer took a bystander's Pyodide sandbox
 * with the bomb (every sandbox has oom_score_adj 1000), which failed every later bystander check.
 */
const CORPUS_MEMORY_LIMIT_BYTES = 3 * 1024 ** 3;

const probe = await probeSwarm();
if (probe.swarm === undefined) {
  t.test('the escape corpus against a Swarm appliance', async (t) => skipSwarmFile(t, probe.reason));
} else {
  const { imageId } = probe.swarm;
  const provider = new DockerSwarmProvider({ image: imageId, constraints: APPLIANCE_HOSTS, labels: TEST_LABELS, maxConcurrentStarts: 2 });
  t.teardown(() => provider.close());
  const start = (backend: 'process' | 'pyodide', poolSize = POOL_SIZE): Promise<SwarmAppliance> =>
    provider.start({
      env: { [CANARY_NAME]: CANARY_VALUE, ENVBOX_PYTHON_BACKEND: backend, ENVBOX_POOL_SIZE: poolSize },
      limits: { memoryLimitBytes: CORPUS_MEMORY_LIMIT_BYTES },
    });
  // Two start at once (one per node, as the scheduler spreads them); the Pyodide one waits idle.
  const appliances = Promise.all([start('process'), start('pyodide')]);
  appliances.catch(() => undefined);

  t.test('CPython (process backend) and JavaScript on one appliance', async (t) => {
    const [appliance] = await appliances;
    t.comment(`appliance ${appliance.serviceName} on ${appliance.node.name} (${appliance.baseUrl}), image ${appliance.imageId.slice(0, 19)}, healthy in ${appliance.timings.totalMs} ms`);
    const health = (await appliance.health()) as Record<string, unknown>;
    t.match(health, { status: 'healthy', python_backend: 'process', isolation: 'namespaces' }, 'CPython children under namespaces');
    const remote = await remoteTarget(t, appliance);
    const host = { namespaces: health.isolation === 'namespaces', isolationReason: `the appliance reports isolation ${String(health.isolation)}`, procMount: remote.procMount };
    const cases = pythonCases({ backend: 'process', ...host });
    await t.test('hostile Python', (t) => runCorpus(t, { language: 'python', cases, remote: remote.target }));
    await t.test('hostile JavaScript', (t) => runCorpus(t, { language: 'javascript', cases: javascriptCases, remote: remote.target }));
    t.ok(await remote.serverStillThere(), `envbox serve is still pid ${remote.target.pid}`);
    t.equal((await appliance.state())?.running, true, 'the appliance never restarted: its task still runs');
  });

  t.test('JavaScript that stalls its worker, on an appliance without a warm pool', async (t) => {
    // The in-process file runs these with one episode per worker, so the corpus's bystander is never
    // on the stalled worker; `envbox serve` has no option for the worker layout. Without a warm pool
    // each episode starts when its session resets, and a new worker thread starts while there are
    // fewer than the container's CPUs (availableParallelism, 2 here): the bystander's worker is its
    // own, and each case's episode gets another one.
    const appliance = await start('process', '0');
    t.teardown(() => appliance.close());
    const remote = await remoteTarget(t, appliance, false);
    await t.test('hostile JavaScript', (t) => runCorpus(t, { language: 'javascript', cases: javascriptWorkerStallCases, remote: remote.target }));
    const health = await corpusRequest(remote.target, 'GET', '/health');
    t.match(health.body.javascript, { terminated_workers: javascriptWorkerStallCases.length }, 'each case terminated one worker, and only that one');
    t.ok(await remote.serverStillThere(), `envbox serve is still pid ${remote.target.pid}`);
  });

  t.test('CPython in Pyodide on another appliance', async (t) => {
    const [, appliance] = await appliances;
    t.comment(`appliance ${appliance.serviceName} on ${appliance.node.name} (${appliance.baseUrl}), healthy in ${appliance.timings.totalMs} ms`);
    const health = (await appliance.health()) as Record<string, unknown>;
    t.match(health, { status: 'healthy', python_backend: 'pyodide', isolation: 'namespaces' }, 'Pyodide hosts under namespaces');
    const remote = await remoteTarget(t, appliance);
    const host = {
      namespaces: health.isolation === 'namespaces',
      isolationReason: `the appliance reports isolation ${String(health.isolation)}`,
      procMount: remote.procMount,
      serverPidIsGuestThread: remote.serverPidIsGuestThread,
    };
    const cases = pythonCases({ backend: 'pyodide', ...host });
    await t.test('hostile Python', (t) => runCorpus(t, { language: 'python', cases, remote: remote.target }));
    t.ok(await remote.serverStillThere(), `envbox serve is still pid ${remote.target.pid}`);
    t.equal((await appliance.state())?.running, true, 'the appliance never restarted: its task still runs');
  });
}
