import t from 'tap';
import { MIXED_WORKLOAD_CODE } from '../../bench/bench-envs.js';
import { timeOnHostPython } from '../../bench/host-python.js';
import { pyodideSandboxCase } from '../../bench/pyodide-sandbox-case.js';
import { createPyodideBackend } from '../../sandbox/pyodide/pyodide-backend.js';

// Numbers are reported, never asserted here: only that the case measures and reports all it should.
t.test('the pyodide sandbox case times create(), reports the snapshot and weighs each live episode', async (t) => {
  const benchCase = pyodideSandboxCase({ createRuns: 10, quickCreateRuns: 2, createMaxMs: 500, liveSandboxes: 2, episodeMaxPssBytes: 200_000_000 });
  const result = await benchCase.run({ baseUrl: 'http://127.0.0.1:9', serverPid: process.pid, quick: true, settle: async () => undefined, progress: () => undefined });
  t.equal(result.name, 'pyodide sandbox');
  t.same(
    result.metrics.map((line) => [line.via, line.metric]),
    [
      ['local', 'snapshot build'],
      ['local', 'sandbox create'],
      ['local', 'memory per episode'],
    ],
  );
  t.same(
    result.checks.map((check) => [check.transport, check.metric, check.target]),
    [
      ['local', 'sandbox create', '< 500 ms'],
      ['local', 'memory per episode', '<= 200.0 MB each'],
    ],
  );
  const data = result.data as { createSamplesMs: number[]; snapshotBytes: number | null; episodes: { pids: number[]; commands: string[]; pssBytes: number }[] };
  t.equal(data.createSamplesMs.length, 2, 'quick: quickCreateRuns creates');
  t.ok(data.snapshotBytes !== null && data.snapshotBytes > 0, 'sandboxes start from a snapshot');
  t.equal(data.episodes.length, 2);
  for (const episode of data.episodes) {
    t.ok(episode.commands.includes('node'), `the tree ${episode.commands.join('>')} reaches the guest Node`);
    t.ok(episode.pssBytes > 0);
  }
  const pids = data.episodes.flatMap((episode) => episode.pids);
  t.equal(new Set(pids).size, pids.length, 'no process counted twice');
});

// The cpu case throws when the sandbox and host python3 disagree; catch that here, not in a bench run.
t.test('the mixed workload gives the same result in Pyodide and in host python3', async (t) => {
  const backend = await createPyodideBackend();
  const sandbox = await backend.create();
  t.teardown(() => sandbox.close());
  const inSandbox = await sandbox.run(MIXED_WORKLOAD_CODE, { timeoutMs: 30_000 });
  t.equal(inSandbox.exitCode, 0, inSandbox.stderr);
  const host = await timeOnHostPython(MIXED_WORKLOAD_CODE, 1);
  t.equal(inSandbox.result, host.result);
  t.match(host.result, /^\(46368, 296504, '0 7 e 90 d1 15 56', \[\('0', 3125\)/);
});
