import t from 'tap';
import { MemoryCrowd } from '../../bench/soak-crowd.js';

/** 'pending' when `promise` has not settled by the time already-queued work has run. */
async function state(promise: Promise<unknown>): Promise<'settled' | 'pending'> {
  const marker = Symbol('pending');
  const winner = await Promise.race([promise.then(() => 'settled' as const), Promise.resolve().then(() => Promise.resolve(marker))]);
  return winner === marker ? 'pending' : 'settled';
}

t.test('a crowd gathers once it has its members of each language, and holds until every member has filled', async (t) => {
  const crowd = new MemoryCrowd(2, 60_000, 30_000);
  t.equal(crowd.wants('python'), false, 'nothing to join before a call');
  const first = crowd.join('python');
  t.equal(crowd.wants('python'), true, 'a called crowd wants more members');
  t.equal(crowd.wants('javascript'), true);
  const second = crowd.join('javascript');
  const third = crowd.join('python');
  t.equal(crowd.wants('python'), false, 'no room past the per-language cap');
  t.equal(crowd.wants('javascript'), true);
  t.equal(await state(first.gathered), 'pending', 'not gathered while a member is missing');
  const fourth = crowd.join('javascript');
  await Promise.all([first, second, third, fourth].map((ticket) => ticket.gathered));
  t.same(crowd.crowds, [{ python: 2, javascript: 2 }], 'gathered with 2 + 2, at once (long before the 60 s gather time)');
  t.equal(crowd.wants('python'), false, 'a gathered crowd takes nobody');

  const held = [first.filled(), second.filled(), third.filled()];
  t.same(await Promise.all(held.map(state)), ['pending', 'pending', 'pending'], 'the members that filled hold while one has not');
  const last = fourth.filled();
  await Promise.all([...held, last]);
  t.pass('all release once the last has filled');
});

t.test('a crowd that does not fill up gathers with the members it has after the gather time', async (t) => {
  const crowd = new MemoryCrowd(3, 20, 30_000);
  const only = crowd.join('javascript');
  await only.gathered;
  t.same(crowd.crowds, [{ python: 0, javascript: 1 }]);
  await only.filled();
  t.pass('a crowd of one holds for nobody');
});

t.test('calls are rate-limited; a crowd being gathered can always be joined while it has room', async (t) => {
  const crowd = new MemoryCrowd(1, 60_000, 30_000);
  t.equal(crowd.mayCall('python', 0), true, 'the first call');
  const caller = crowd.join('python', true, 0);
  t.equal(crowd.mayCall('javascript', 1), true, 'joining the gathering crowd');
  t.equal(crowd.mayCall('python', 1), false, 'no room for another Python member');
  const joiner = crowd.join('javascript', true, 1);
  await Promise.all([caller.gathered, joiner.gathered]);
  t.equal(crowd.mayCall('python', 29_999), false, 'no new call within the interval');
  t.equal(crowd.mayCall('python', 30_000), true, 'one once it has passed');
});

t.test('after the traffic (wait false) a crowd fills at once', async (t) => {
  const crowd = new MemoryCrowd(3, 60_000, 30_000);
  await crowd.join('python', false).gathered;
  t.same(crowd.crowds, [{ python: 1, javascript: 0 }], 'gathered at once, without waiting 60 s for others');
});
