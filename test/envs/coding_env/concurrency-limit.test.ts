import t from 'tap';
import { ConcurrencyLimit } from '../../../envs/coding_env/index.js';

/** A promise and its resolver, to finish work when the test says so (no timers). */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

t.test('at most `limit` calls run at once; the others start first come first served', async (t) => {
  const limit = new ConcurrencyLimit(2);
  const gates = [gate(), gate(), gate(), gate()];
  const started: number[] = [];
  const calls = gates.map((g, i) =>
    limit.run(async () => {
      started.push(i);
      await g.promise;
      return i;
    }),
  );
  await Promise.resolve();
  t.same(started, [0, 1]);
  t.equal(limit.running, 2);
  gates[1]!.open();
  t.equal(await calls[1], 1);
  t.same(started, [0, 1, 2], 'the first waiter takes the freed slot');
  gates[0]!.open();
  gates[2]!.open();
  gates[3]!.open();
  t.same(await Promise.all(calls), [0, 1, 2, 3]);
  t.equal(limit.running, 0);
});

t.test('a call that throws frees its slot', async (t) => {
  const limit = new ConcurrencyLimit(1);
  await t.rejects(limit.run(async () => { throw new Error('boom') }), { message: 'boom' });
  t.equal(await limit.run(async () => 'next'), 'next');
  t.equal(limit.running, 0);
});

t.test('the limit is an integer of at least 1', async (t) => {
  t.throws(() => new ConcurrencyLimit(0), { name: 'RangeError', message: 'limit must be an integer of at least 1, received 0' });
  t.throws(() => new ConcurrencyLimit(1.5), RangeError);
});
