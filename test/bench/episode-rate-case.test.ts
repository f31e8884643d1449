import t from 'tap';
import { episodeMetric, episodeRateChecks, type EpisodeRateLevel } from '../../bench/episode-rate-case.js';
import { summarizeLatency } from '../../bench/stats.js';

const pool = { ready: 0, starting: 16, size: 16 };

function level(workers: number, episodesPerS: number, resetSamplesMs: number[], succeeded = workers): EpisodeRateLevel {
  return {
    workers,
    drain: { state: 'pool-emptied', episodes: 32, ms: 900, minReady: 0, poolSize: 16 },
    poolAtStart: pool,
    poolAtEnd: pool,
    durationMs: 8_000,
    episodes: episodesPerS * 8,
    episodesPerS,
    reset: resetSamplesMs.length === 0 ? undefined : summarizeLatency(resetSamplesMs),
    step: undefined,
    errors: {},
    succeeded,
  };
}

const targets = { workers: 16, minEpisodesPerS: 1000, resetP99MaxMs: 10 };

t.test('the metrics name the kind, the workers and the language', async (t) => {
  t.equal(episodeMetric('episodes/s', 16, 'python'), 'episodes/s x16 (python)');
  t.equal(episodeMetric('episode reset', 1, 'javascript'), 'episode reset x1 (javascript)');
});

t.test('the targets are checked on the level of their number of workers only', async (t) => {
  const checks = episodeRateChecks('python', targets, [level(1, 5, [100]), level(16, 1200, [2, 3, 9])]);
  t.same(checks, [
    { transport: 'ws', metric: 'episodes/s x16 (python)', target: '>= 1000 episodes/s, 16/16 ok', ratio: 1.2, pass: true },
    { transport: 'ws', metric: 'episode reset x16 (python)', target: 'p99 < 10 ms', ratio: 0.9, pass: true },
  ]);
});

t.test('a slow level, a slow p99, a worker with errors: each a MISS', async (t) => {
  const [rate, reset] = episodeRateChecks('python', targets, [level(16, 35, [490, 500, 800])]);
  t.match(rate, { ratio: 0.035, pass: false });
  t.match(reset, { ratio: 80, pass: false });
  const [fastButFailing] = episodeRateChecks('python', targets, [level(16, 1500, [1], 15)]);
  t.match(fastButFailing, { pass: false }, 'fast enough, but one worker failed');
});

t.test('a level that was not measured, or measured no reset, is a MISS with no ratio', async (t) => {
  t.same(
    episodeRateChecks('javascript', { workers: 16, minEpisodesPerS: 2000 }, [level(1, 70, [1])]).map((check) => [check.ratio, check.pass]),
    [[null, false]],
  );
  t.same(
    episodeRateChecks('python', { workers: 16, resetP99MaxMs: 10 }, [level(16, 0, [])]).map((check) => [check.ratio, check.pass]),
    [[null, false]],
  );
});

t.test('no target, no check (the Pyodide row is reported only)', async (t) => {
  t.same(episodeRateChecks('python', { workers: 16 }, [level(16, 2, [400])]), []);
});
