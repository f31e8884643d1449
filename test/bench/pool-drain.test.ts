import t from 'tap';
import { drainState, type DrainPolicy } from '../../bench/pool-drain.js';

const policy: DrainPolicy = { poolSize: 16, extraEpisodes: 16, emptyWaitMaxMs: 3_000 };

t.test('the drain goes on until the pool size plus the extra episodes have run, whatever the pool shows', async (t) => {
  t.equal(drainState({ episodes: 0, elapsedMs: 0, minReady: undefined }, policy), 'draining');
  t.equal(drainState({ episodes: 31, elapsedMs: 60_000, minReady: 0 }, policy), 'draining', 'seen empty, one episode short');
});

t.test('then it ends as soon as /health has shown the pool empty', async (t) => {
  t.equal(drainState({ episodes: 32, elapsedMs: 10, minReady: 0 }, policy), 'pool-emptied');
  t.equal(drainState({ episodes: 500, elapsedMs: 10, minReady: 0 }, policy), 'pool-emptied');
});

t.test('a pool never seen empty ends the drain once the wait for it is over: the refill keeps up', async (t) => {
  t.equal(drainState({ episodes: 32, elapsedMs: 2_999, minReady: 1 }, policy), 'draining');
  t.equal(drainState({ episodes: 32, elapsedMs: 3_000, minReady: 1 }, policy), 'pool-kept-up');
  t.equal(drainState({ episodes: 32, elapsedMs: 3_000, minReady: undefined }, policy), 'pool-kept-up', 'no poll answered');
});

t.test('no extra episodes: the pool size alone', async (t) => {
  t.equal(drainState({ episodes: 16, elapsedMs: 0, minReady: 0 }, { ...policy, extraEpisodes: 0 }), 'pool-emptied');
});
