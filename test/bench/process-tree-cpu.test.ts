import t from 'tap';
import { BenchError } from '../../bench/bench-error.js';
import { coresBusy, parseCpuTicks, processTreeCpuTicks, treePids, USER_HZ } from '../../bench/process-tree-cpu.js';

// A real line of /proc/<pid>/stat (proc(5)): utime 1200, stime 300, cutime 40, cstime 7.
const STAT =
  '4242 (python3) S 4200 4242 4200 0 -1 4194560 1234 0 0 0 1200 300 40 7 20 0 5 0 123456 12345678 2345 18446744073709551615 1 1 0 0 0 0 0 16781312 2 0 0 0 17 1 0 0 0 0 0\n';

t.test('parseCpuTicks sums utime, stime, cutime and cstime', async (t) => {
  t.equal(parseCpuTicks(STAT), 1547);
});

t.test('parseCpuTicks reads after the last parenthesis: a command may hold spaces and parentheses', async (t) => {
  t.equal(parseCpuTicks(STAT.replace('(python3)', '(a) b (c)')), 1547);
});

t.test('parseCpuTicks refuses a line without the four fields, naming what it received', async (t) => {
  t.throws(() => parseCpuTicks('4242 (python3) S 4200'), {
    constructor: BenchError,
    message: 'Expected a /proc/<pid>/stat line with utime, stime, cutime and cstime (fields 14-17), received "4242 (python3) S 4200".',
  });
});

t.test('treePids walks the descendants breadth first, root first, and nothing else', async (t) => {
  const parents = new Map([
    [10, 1],
    [11, 10],
    [12, 10],
    [13, 11],
    [20, 1],
  ]);
  t.same(treePids(10, parents), [10, 11, 12, 13]);
  t.same(treePids(20, parents), [20]);
});

t.test('coresBusy: ticks of 1/USER_HZ s over the wall time', async (t) => {
  t.equal(USER_HZ, 100);
  t.equal(coresBusy(100, 1_000), 1);
  t.equal(coresBusy(5, 1_000), 0.05);
  t.equal(coresBusy(400, 2_000), 2);
  t.throws(() => coresBusy(1, 0), { constructor: RangeError, message: 'coresBusy: expected a positive elapsed time in ms, received 0.' });
});

t.test('processTreeCpuTicks reads a live tree (this process) and refuses a gone one', async (t) => {
  const tree = await processTreeCpuTicks(process.pid);
  t.equal(tree.pids[0], process.pid, 'root first');
  t.ok(tree.ticks >= tree.rootTicks && tree.rootTicks >= 0, 'the root is a share of the tree');
  await t.rejects(processTreeCpuTicks(2 ** 22 + 1), { constructor: BenchError, message: `Process ${2 ** 22 + 1} is gone; its CPU time cannot be measured.` });
});
