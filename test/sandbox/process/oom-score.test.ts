import { readFile } from 'node:fs/promises';
import t from 'tap';
import { SANDBOX_OOM_SCORE_ADJ } from '../../../sandbox/process/command.js';
import { createProcessBackend, createPyodideBackend, EXIT_OK, type SandboxBackend } from '../../../sandbox/index.js';
import { descendsFrom, listProcesses, trackSpawnedProcesses } from '../../fixtures/sandbox-processes.js';

// Under memory pressure the kernel kills the process with the highest OOM score: every sandbox
// process (choom, setpriv, bubblewrap, CPython or Pyodide's Node) asks to be that one, so an
// episode that exhausts the appliance's memory dies (137, state lost) and the server does not.

const spawned = trackSpawnedProcesses();

async function oomScoreAdj(pid: number): Promise<number> {
  return Number((await readFile(`/proc/${pid}/oom_score_adj`, 'utf8')).trim());
}

for (const [name, start] of [
  ['process (cold)', () => createProcessBackend({ spawn: 'cold' })],
  ['pyodide', () => createPyodideBackend()],
] as const) {
  t.test(`${name}: every process of a sandbox has oom_score_adj ${SANDBOX_OOM_SCORE_ADJ}; the server keeps its own`, async (t) => {
    const own = await oomScoreAdj(process.pid);
    const backend: SandboxBackend = await start();
    t.teardown(() => backend.close());
    const before = spawned.length;
    const sandbox = await backend.create();
    t.teardown(() => sandbox.close());
    t.equal((await sandbox.run('1 + 1', { timeoutMs: 60_000 })).exitCode, EXIT_OK, 'the sandbox runs');
    const leaders = spawned.slice(before).filter((child) => child.spawnfile === 'choom' && child.pid !== undefined);
    t.equal(leaders.length, 1, 'one sandbox was spawned, through choom');
    const leader = leaders[0]!.pid!;
    const rows = await listProcesses();
    // The leader (setpriv, then bubblewrap, after their execs) and all below it, the guest included.
    const group = rows.filter((row) => (row.pid === leader || descendsFrom(rows, row.pid, leader)) && !row.stat.startsWith('Z'));
    t.ok(group.length >= 2, `the sandbox's processes: ${group.map((row) => row.args.split(' ')[0]).join(', ')}`);
    t.ok(group.some((row) => /runner\.py|guest\.mjs/.test(row.args)), 'the guest among them');
    for (const row of group) t.equal(await oomScoreAdj(row.pid), SANDBOX_OOM_SCORE_ADJ, `${row.args.slice(0, 40)}: the kernel's first choice`);
    t.equal(await oomScoreAdj(process.pid), own, "the server's own score is untouched");
    t.ok(own < SANDBOX_OOM_SCORE_ADJ, `the server (${own}) ranks below its sandboxes`);
  });
}

t.test(`process (forked from a template): the keeper and the guest have oom_score_adj ${SANDBOX_OOM_SCORE_ADJ}; the server and the template keep their own`, async (t) => {
  const own = await oomScoreAdj(process.pid);
  const backend = await createProcessBackend();
  t.teardown(() => backend.close());
  const template = backend.health().template_pid;
  if (typeof template !== 'number') {
    t.comment(`SKIPPED LOUDLY: no template here (${String(backend.health().spawn_reason)})`);
    return;
  }
  const sandbox = await backend.create();
  t.teardown(() => sandbox.close());
  t.equal((await sandbox.run('1 + 1', { timeoutMs: 60_000 })).exitCode, EXIT_OK, 'the sandbox runs');
  const rows = await listProcesses();
  // Below the template: a keeper per sandbox, its guest below it (the probe's are gone).
  const group = rows.filter((row) => descendsFrom(rows, row.pid, template) && !row.stat.startsWith('Z'));
  t.equal(group.length, 2, `a keeper and a guest: ${group.map((row) => row.args.slice(0, 40)).join(', ')}`);
  t.ok(group.some((row) => /runner\.py/.test(row.args)), 'the guest among them');
  for (const row of group) t.equal(await oomScoreAdj(row.pid), SANDBOX_OOM_SCORE_ADJ, `${row.args.slice(0, 40)}: the kernel's first choice`);
  t.equal(await oomScoreAdj(template), own, 'the template (which runs no guest code) keeps the server\'s score');
  t.equal(await oomScoreAdj(process.pid), own, "the server's own score is untouched");
});
