import t from 'tap';
import { allHostileKeys, HostileCoverage } from '../../bench/soak-coverage.js';
import type { HostileTally } from '../../bench/soak-recorder.js';
import { JAVASCRIPT_HOSTILE_KINDS, PYTHON_HOSTILE_KINDS } from '../../bench/soak-workload.js';

const ran = (wrong = 0): HostileTally => ({ attempts: 1, expected: 1 - wrong, wrong });

t.test('allHostileKeys: every kind of both languages, as <language>.<kind>', async (t) => {
  t.same(allHostileKeys(), [...PYTHON_HOSTILE_KINDS.map((kind) => `python.${kind}`), ...JAVASCRIPT_HOSTILE_KINDS.map((kind) => `javascript.${kind}`)]);
});

t.test('claim: the kinds that never ran, in cycle order, each at most attemptsPerKind times', async (t) => {
  const tallies: Record<string, HostileTally> = {};
  for (const kind of JAVASCRIPT_HOSTILE_KINDS) if (kind !== 'stall' && kind !== 'exit') tallies[`javascript.${kind}`] = ran();
  const coverage = new HostileCoverage(tallies, 2, () => true);
  t.equal(coverage.claim('javascript'), 'exit', 'the first kind that never ran');
  t.equal(coverage.claim('javascript'), 'stall', 'then the next one: exit is on its way until its end()');
  t.equal(coverage.claim('javascript'), undefined, 'both are on their way');
  coverage.end('javascript', 'exit');
  coverage.end('javascript', 'stall');
  t.equal(coverage.claim('javascript'), 'exit', 'a second attempt (the first got no observation)');
  coverage.end('javascript', 'exit');
  t.equal(coverage.claim('javascript'), 'stall');
  coverage.end('javascript', 'stall');
  t.equal(coverage.claim('javascript'), undefined, 'no third attempt: the overtime is bounded');
  t.same(coverage.missing().filter((key) => key.startsWith('javascript.')), ['javascript.exit', 'javascript.stall'], 'and the report names what is missing');
  t.equal(coverage.claim('python'), 'timeout', 'languages are counted apart');
});

t.test('claim: a kind that ran (whatever its outcome) or is on its way is never handed out', async (t) => {
  const tallies: Record<string, HostileTally> = {};
  for (const kind of PYTHON_HOSTILE_KINDS.slice(1)) tallies[`python.${kind}`] = ran(kind === 'exit' ? 1 : 0);
  const coverage = new HostileCoverage(tallies, 3, () => true);
  coverage.begin('python', 'timeout');
  coverage.begin('python', 'timeout');
  t.equal(coverage.claim('python'), undefined, 'the only missing kind is in flight');
  coverage.end('python', 'timeout');
  t.equal(coverage.claim('python'), undefined, 'still in flight once');
  coverage.end('python', 'timeout');
  t.equal(coverage.claim('python'), 'timeout', 'its steps got no observation: claimable');
  coverage.end('python', 'timeout');
  tallies['python.timeout'] = ran();
  t.equal(coverage.claim('python'), undefined, 'once it ran, never again');
  t.same(coverage.missing().filter((key) => key.startsWith('python.')), [], 'a wrong outcome still counts as ran');
});

t.test('claim: nothing once the run is over (the server gone)', async (t) => {
  let live = true;
  const coverage = new HostileCoverage({}, 3, () => live);
  t.equal(coverage.claim('python'), 'timeout');
  live = false;
  t.equal(coverage.claim('python'), undefined);
  t.equal(coverage.missing().length, PYTHON_HOSTILE_KINDS.length + JAVASCRIPT_HOSTILE_KINDS.length);
});

t.test('claim: attemptsPerKind 0 turns the overtime off', async (t) => {
  t.equal(new HostileCoverage({}, 0, () => true).claim('javascript'), undefined);
});
