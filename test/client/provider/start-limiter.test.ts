import t from 'tap';
import { StartLimiter } from '../../../client/index.js';

/** A task that runs until `finish()` is called. */
function gate(): { task: () => Promise<string>; finish: (value: string) => void; started: Promise<void> } {
  let finish!: (value: string) => void;
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const done = new Promise<string>((resolve) => (finish = resolve));
  return { task: () => (markStarted(), done), finish, started };
}

t.test('at most `limit` tasks run; the others start in call order as slots free', async (t) => {
  const limiter = new StartLimiter(2);
  const gates = [gate(), gate(), gate(), gate()];
  const results = gates.map((g) => limiter.run(g.task));
  await Promise.all([gates[0]!.started, gates[1]!.started]);
  t.equal(limiter.running, 2);
  t.equal(limiter.waiting, 2);
  gates[1]!.finish('b');
  await gates[2]!.started;
  t.equal(limiter.running, 2, 'the freed slot went straight to the next waiter');
  t.equal(limiter.waiting, 1);
  gates[0]!.finish('a');
  gates[2]!.finish('c');
  await gates[3]!.started;
  gates[3]!.finish('d');
  t.same(await Promise.all(results), ['a', 'b', 'c', 'd']);
  t.equal(limiter.running, 0);
});

t.test('a failed task frees its slot and rejects as it did', async (t) => {
  const limiter = new StartLimiter(1);
  await t.rejects(limiter.run(() => Promise.reject(new Error('no'))), { message: 'no' });
  t.equal(await limiter.run(async () => 'next'), 'next');
  t.equal(limiter.running, 0);
});

t.test('a bad limit is refused, naming the option', async (t) => {
  t.throws(() => new StartLimiter(0), { name: 'RangeError', message: 'Invalid maxConcurrentStarts: expected a positive integer, received 0.' });
  t.throws(() => new StartLimiter(1.5), { message: 'Invalid maxConcurrentStarts: expected a positive integer, received 1.5.' });
});
