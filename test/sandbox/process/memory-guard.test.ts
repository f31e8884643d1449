import t, { type Test } from 'tap';
import { createProcessBackend, type PythonBackend } from '../../../sandbox/index.js';
import {
  MEMORY_GUARD_MIN_VICTIM_BYTES,
  readMemoryHeadroom,
  startMemoryGuard,
  type MemoryHeadroom,
} from '../../../sandbox/process/memory-guard.js';
import type { ProcessSandbox } from '../../../sandbox/process/process-sandbox.js';

// Files in a sandbox's tmpfs count against the appliance's memory but against no process's RSS,
// so the kernel's OOM killer cannot pick their writer (it killed a bystander on the appliance,
// test/client/docker/run/memory.test.ts). The guard kills the episode holding the most in files
// when the headroom runs low. Here the sandboxes, their files and the kill are real; the headroom
// is given to the guard (a real shortage is the Docker test's), so the choice can be checked exactly.

const MiB = 1024 * 1024;
const STEP_MS = 60_000;
/** Under the guard's threshold for a 768 MiB limit (256 MiB): one victim's 150 MiB of files bring it past 1.5 times that. */
const LOW: MemoryHeadroom = { limitBytes: 768 * MiB, availableBytes: 250 * MiB };
/** Far under it: it takes every episode holding enough files. */
const VERY_LOW: MemoryHeadroom = { limitBytes: 768 * MiB, availableBytes: 16 * MiB };
const AMPLE: MemoryHeadroom = { limitBytes: 768 * MiB, availableBytes: 512 * MiB };

async function backendFor(t: Test): Promise<PythonBackend> {
  const backend = await createProcessBackend();
  t.teardown(() => backend.close());
  return backend;
}

async function sandboxOf(t: Test, backend: PythonBackend): Promise<ProcessSandbox> {
  const sandbox = (await backend.create()) as ProcessSandbox;
  t.teardown(() => sandbox.close());
  return sandbox;
}

const write = (path: string, mib: number) => `open(${JSON.stringify(path)}, 'wb').write(b'x' * (${mib} << 20))`;

t.test('the headroom is read from the cgroup or the machine', async (t) => {
  const headroom = await readMemoryHeadroom();
  t.ok(headroom !== undefined, 'readable on Linux');
  t.ok(headroom!.limitBytes > 0 && headroom!.availableBytes <= headroom!.limitBytes, `${Math.round(headroom!.availableBytes / MiB)} MiB of ${Math.round(headroom!.limitBytes / MiB)} MiB left`);
});

t.test('low headroom: the episode holding the most in its tmpfs is killed (137, state lost, the reason said); others keep their state', async (t) => {
  const backend = await backendFor(t);
  if (backend.isolation !== 'namespaces') {
    // Loud: the guard exists for tmpfs mounts, which only namespaces give.
    t.comment(`SKIPPED: NO NAMESPACES ON THIS HOST (${backend.isolationReason}): guests write no tmpfs`);
    t.pass('nothing to guard without namespaces');
    return;
  }
  const bystander = await sandboxOf(t, backend);
  const big = await sandboxOf(t, backend);
  const small = await sandboxOf(t, backend);
  const tiny = await sandboxOf(t, backend);
  t.equal((await bystander.run('x = 41; ballast = bytearray(40 << 20)', { timeoutMs: STEP_MS })).exitCode, 0, 'the bystander holds 40 MiB in memory, none in files');
  t.equal((await big.run(`${write('/tmp/a', 60)}; ${write('/dev/shm/b', 60)}; ${write('/workspace/e', 30)}; y = 1`, { timeoutMs: STEP_MS })).exitCode, 0);
  t.equal((await small.run(`${write('/workspace/c', 24)}; z = 2`, { timeoutMs: STEP_MS })).exitCode, 0);
  t.equal((await tiny.run(`${write('/tmp/d', 4)}; w = 3`, { timeoutMs: STEP_MS })).exitCode, 0);
  t.ok((await big.writableBytes()) >= 150 * MiB, 'files are weighed through /proc/<pid>/root');
  t.ok((await bystander.writableBytes()) < MEMORY_GUARD_MIN_VICTIM_BYTES, 'memory in the process is not counted (the kernel sees it)');

  let headroom = AMPLE;
  const kills: number[] = [];
  const guard = startMemoryGuard({ sandboxes: () => [bystander, big, small, tiny], headroom: async () => headroom, intervalMs: 3_600_000, onKill: (bytes) => kills.push(bytes) });
  t.teardown(() => guard.stop());
  await guard.check();
  t.same(kills, [], 'ample headroom: nothing is killed');

  headroom = LOW;
  await guard.check();
  t.equal(kills.length, 1, 'as many as it takes to be back above the threshold: one here');
  t.ok(kills[0]! >= 150 * MiB, 'the one holding the most in files');
  const killed = await big.run('y', { timeoutMs: STEP_MS });
  t.equal(killed.exitCode, 137);
  t.equal(killed.stateLost, true);
  t.match(killed.stderr, /ran low on memory.*held the most of it in files \(150 MiB/, 'its episode is told why');
  t.equal((await bystander.run('x + 1', { timeoutMs: STEP_MS })).result, '42', 'the bystander keeps its state');

  headroom = VERY_LOW;
  await guard.check();
  t.equal((await small.run('z', { timeoutMs: STEP_MS })).exitCode, 137, 'far under the threshold: the next biggest too');
  t.equal(kills.length, 2, `an episode under ${MEMORY_GUARD_MIN_VICTIM_BYTES / MiB} MiB of files is never the victim`);
  t.equal((await tiny.run('w', { timeoutMs: STEP_MS })).result, '3');
  t.equal(guard.kills, 2);
});

t.test('the process backend reports its guard in /health facts (namespaces only)', async (t) => {
  const backend = await backendFor(t);
  const health = backend.health();
  if (backend.isolation === 'namespaces') t.equal(health.memory_guard_kills, 0);
  else t.notOk('memory_guard_kills' in health, 'no tmpfs, no guard');
});
