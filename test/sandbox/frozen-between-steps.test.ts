import { setTimeout as delay } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { createProcessBackend, createQuickJsBackend, type PythonBackend, type Sandbox } from '../../sandbox/index.js';
import { cpuTicks } from '../fixtures/guest-cpu.js';
import { descendsFrom, listProcesses, type ProcessRow } from '../fixtures/sandbox-processes.js';

// Issue 18: nothing an episode does may consume CPU while it is not stepping. A Python episode's
// processes are stopped from the moment its step answers until its next step starts; JavaScript
// runs nothing between steps by construction. Measured as the CPU time of the episode's processes
// across an idle second (clock ticks from /proc), which a frozen episode leaves at zero.

const STEP_MS = 30_000;
/** How long the episode is left idle while its CPU time is measured. */
const IDLE_MS = 1_000;
/** The most CPU an idle second may show: 0.05 cores (the bar), in clock ticks of 10 ms. */
const IDLE_TICKS_MAX = 5;

const SPINNERS = `
import threading
spins = [0, 0, 0, 0]
def spin(i):
    while True:
        spins[i] += 1
for i in range(4):
    threading.Thread(target=spin, args=(i,), daemon=True).start()
`;

async function pythonBackend(t: Test, allowSubprocess = false): Promise<PythonBackend> {
  const backend = await createProcessBackend({ allowSubprocess });
  t.teardown(() => backend.close());
  return backend;
}

async function sandboxOf(t: Test, backend: PythonBackend): Promise<Sandbox> {
  const sandbox = await backend.create();
  t.teardown(() => sandbox.close());
  return sandbox;
}

/** Every process of the sandbox whose guest reports `uid` (its own uid when the server runs as root), or the guest's tree. */
async function episodeProcesses(guestPid: number): Promise<ProcessRow[]> {
  const rows = await listProcesses();
  const tree = new Set([guestPid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const row of rows) {
      if (!tree.has(row.pid) && tree.has(row.ppid)) {
        tree.add(row.pid);
        grew = true;
      }
    }
  }
  return rows.filter((row) => tree.has(row.pid));
}

async function ticksOf(rows: readonly ProcessRow[]): Promise<number> {
  let total = 0;
  for (const row of rows) total += await cpuTicks(row.pid).catch(() => 0);
  return total;
}

/** The host pid of the sandbox's guest (the CPython running the runner): the one process of its uid that is not bwrap. */
async function guestPid(t: Test, sandbox: Sandbox): Promise<number> {
  const uid = Number((await sandbox.run('import os; os.getuid()', { timeoutMs: STEP_MS })).result);
  // Among this test's own processes: test files running at once each hand out the same uids.
  const rows = await listProcesses();
  const guests = rows.filter((row) => descendsFrom(rows, row.pid) && row.uid === uid && / \S*runner\.py /.test(` ${row.args} `) && !row.args.startsWith('bwrap '));
  t.equal(guests.length, 1, `one guest process runs as uid ${uid}`);
  return guests[0]!.pid;
}

/** Finding the guest's process on the host needs its own uid, which sandboxes get when the server runs as root. */
const NEEDS_ROOT = { skip: process.getuid?.() === 0 ? false : 'NOT ROOT: sandboxes share the server uid, so the guest process cannot be told apart on the host' };

t.test('Python: spinning threads get no CPU between steps; the episode resumes with its state', NEEDS_ROOT, async (t) => {
  const backend = await pythonBackend(t);
  const sandbox = await sandboxOf(t, backend);
  const pid = await guestPid(t, sandbox);
  const started = await sandbox.run(SPINNERS, { timeoutMs: STEP_MS });
  t.equal(started.exitCode, 0, 'the step that starts four spinning threads returns at once');
  const rows = await episodeProcesses(pid);
  const before = await ticksOf(rows);
  await delay(IDLE_MS);
  const idle = (await ticksOf(rows)) - before;
  t.ok(idle <= IDLE_TICKS_MAX, `${idle} clock ticks of CPU in an idle second (at most ${IDLE_TICKS_MAX}: 0.05 cores)`);
  const states = (await listProcesses()).filter((row) => row.pid === pid).map((row) => row.stat[0]);
  t.same(states, ['T'], 'the guest is stopped between steps');
  const first = await sandbox.run('sum(spins)', { timeoutMs: STEP_MS });
  t.equal(first.exitCode, 0, 'it resumes and steps');
  t.ok(Number(first.result) > 0, 'with its state: the threads ran while it stepped');
  const again = await sandbox.run('import time; a = sum(spins); time.sleep(0.2); sum(spins) > a', { timeoutMs: STEP_MS });
  t.equal(again.result, 'True', 'the threads run again during a step');
});

t.test('Python with subprocesses allowed: children, in the group or in a session of their own, get no CPU between steps', NEEDS_ROOT, async (t) => {
  const backend = await pythonBackend(t, true);
  if (backend.isolation !== 'namespaces') {
    t.comment(`SKIPPED: NO NAMESPACES ON THIS HOST (${backend.isolationReason}): subprocesses are allowed only where namespaces contain them`);
    t.pass('nothing to check');
    return;
  }
  const sandbox = await sandboxOf(t, backend);
  const pid = await guestPid(t, sandbox);
  const spawned = await sandbox.run(
    [
      'import subprocess, sys',
      "children = [subprocess.Popen([sys.executable, '-c', 'while True: pass']),",
      "            subprocess.Popen([sys.executable, '-c', 'while True: pass'], start_new_session=True)]",
      'len(children)',
    ].join('\n'),
    { timeoutMs: STEP_MS },
  );
  t.equal(spawned.result, '2');
  const rows = await episodeProcesses(pid);
  t.ok(rows.length >= 3, `the episode has ${rows.length} processes`);
  const before = await ticksOf(rows);
  await delay(IDLE_MS);
  const idle = (await ticksOf(rows)) - before;
  t.ok(idle <= IDLE_TICKS_MAX, `${idle} clock ticks of CPU in an idle second across ${rows.length} processes`);
  const polled = await sandbox.run('[child.poll() for child in children]', { timeoutMs: STEP_MS });
  t.equal(polled.result, '[None, None]', 'the children are alive, resumed with the episode');
});

t.test('JavaScript: nothing runs between steps, not even a guest interval', async (t) => {
  const backend = await createQuickJsBackend({ spreadWorkers: 1 });
  t.teardown(() => backend.close());
  const sandbox = await backend.create();
  t.teardown(() => sandbox.close());
  // An interval keeps a step running to its deadline (as it keeps a Node process alive): 124, state kept.
  const interval = await sandbox.run('globalThis.n = 0; globalThis.id = setInterval(() => { n++ }, 1)', { timeoutMs: 500 });
  t.equal(interval.exitCode, 124);
  const afterStep = await sandbox.run('clearInterval(id); n', { timeoutMs: STEP_MS });
  const ticks = Number(afterStep.result);
  t.ok(ticks > 0, `the interval ran during the step (${ticks} times)`);
  const restarted = await sandbox.run('globalThis.last = 0; globalThis.id2 = setInterval(() => { last = Date.now() }, 1); 0', { timeoutMs: 200 });
  t.equal(restarted.exitCode, 124);
  const cpu = process.cpuUsage();
  await delay(IDLE_MS);
  const used = process.cpuUsage(cpu);
  t.ok((used.user + used.system) / 1000 < 50, `the whole process used ${((used.user + used.system) / 1000).toFixed(1)} ms of CPU in an idle second`);
  // The step's script runs before any due timer: the interval is cleared before it can tick again.
  const gap = Number((await sandbox.run('clearInterval(id2); last > 0 ? Date.now() - last : -1', { timeoutMs: STEP_MS })).result);
  t.ok(gap >= IDLE_MS, `the interval last ticked ${gap} ms ago, before the idle second: it did not run between steps`);
});

t.test('JavaScript: pending jobs, timers and intervals left by steps get no CPU between steps; the episode resumes with its state', async (t) => {
  const backend = await createQuickJsBackend({ spreadWorkers: 1 });
  t.teardown(() => backend.close());
  const sandbox = await backend.create();
  t.teardown(() => sandbox.close());
  // An interval and an async loop awaiting timers keep their step running to its deadline (124, state kept).
  const timers = await sandbox.run(
    [
      'globalThis.counts = { ticks: 0, timers: 0, jobs: 0 }; globalThis.last = { tick: 0, timer: 0, job: 0 };',
      'globalThis.id = setInterval(() => { counts.ticks++; last.tick = Date.now() }, 1);',
      '(async () => { while (!globalThis.stop) { await new Promise((resolve) => setTimeout(resolve, 2)); counts.timers++; last.timer = Date.now() } })();',
    ].join('\n'),
    { timeoutMs: 300 },
  );
  t.equal(timers.exitCode, 124);
  // A promise chain that queues its next job forever: the step runs jobs until its deadline.
  const jobs = await sandbox.run(
    'globalThis.spin = () => Promise.resolve().then(() => { counts.jobs++; last.job = Date.now(); if (!globalThis.stopJobs) spin() }); spin(); 0',
    { timeoutMs: 300 },
  );
  t.equal(jobs.exitCode, 124);
  const cpu = process.cpuUsage();
  await delay(IDLE_MS);
  const usedMs = (({ user, system }) => (user + system) / 1000)(process.cpuUsage(cpu));
  // A generous bound for the whole process (the test runner included): one spinning callback would take the whole second.
  t.ok(usedMs < 300, `the whole process used ${usedMs.toFixed(1)} ms of CPU in an idle second`);
  // The step's script runs before any pending job or due timer: it sees what the idle second left.
  const idle = await sandbox.run(
    'globalThis.stopJobs = true; globalThis.stop = true; clearInterval(id); const now = Date.now(); console.log(JSON.stringify([now - last.tick, now - last.timer, now - last.job]))',
    { timeoutMs: STEP_MS },
  );
  t.equal(idle.exitCode, 0, 'with the job chain and the loop told to stop, the step ends');
  const gaps = JSON.parse(idle.stdout) as number[];
  t.ok(
    gaps.every((gap) => gap >= IDLE_MS),
    `the interval, the timer loop and the job chain last ran ${gaps.join(', ')} ms before the next step: not between steps`,
  );
  const resumed = await sandbox.run('JSON.stringify([counts.ticks > 0, counts.timers > 0, counts.jobs > 0, typeof spin])', { timeoutMs: STEP_MS });
  t.equal(resumed.result, `'[true,true,true,"function"]'`, 'the episode resumes with its state: everything ran during its steps');
});
