import t from 'tap';
import { EnvPool, EpisodeLostError, PoolOptionsError } from '../../../index.js';
import { EchoEnv } from '../../../envs/index.js';
import { startCliServer } from '../../fixtures/cli-process.js';
import { sessionClosed, startTestServer } from '../../fixtures/test-server.js';
import { ProcessProvider } from '../../fixtures/process-provider.js';
import { countdownDefinition, CountdownEnv } from '../../fixtures/countdown-env.js';

t.test('bad options are refused, naming the option, the expected and the received value', async (t) => {
  await t.rejects(EnvPool.create(EchoEnv, {}), { code: 'POOL_OPTIONS', message: 'Invalid options: expected exactly one of provider and baseUrls, received neither.' });
  await t.rejects(EnvPool.create(EchoEnv, { baseUrls: [] }), { message: 'Invalid baseUrls: expected a non-empty array of URLs, received [].' });
  await t.rejects(EnvPool.create(EchoEnv, { baseUrls: ['nope'] }), { message: 'Invalid baseUrls: expected URLs such as http://127.0.0.1:8000, received "nope".' });
  await t.rejects(EnvPool.create(EchoEnv, { baseUrls: ['http://127.0.0.1:1'], episodesPerAppliance: 0 }), {
    message: 'Invalid episodesPerAppliance: expected a positive integer, received 0.',
  });
  await t.rejects(EnvPool.create(EchoEnv, { baseUrls: ['http://127.0.0.1:1'], appliances: 2 }), {
    message: 'Invalid appliances: expected 1 (one per baseUrl) or nothing, received 2.',
  });
  await t.rejects(EnvPool.create(EchoEnv, { provider: new ProcessProvider() }), { message: 'Invalid appliances: expected a positive integer with a provider, received undefined.' });
  await using pool = await EnvPool.create(EchoEnv, { baseUrls: ['http://127.0.0.1:1'], episodesPerAppliance: 2 });
  await t.rejects(pool.reset({ n: 3 }), { message: 'Invalid n: expected at most 2 (1 live appliances × episodesPerAppliance 2), received 3.' });
  await t.rejects(pool.reset({ n: 0 }), PoolOptionsError);
  await t.rejects(pool.step([{ message: 'x' }]), { message: 'Invalid actions: expected an array of 0 actions (one per episode of the last reset), received 1.' });
});

t.test('episodes spread over the least-loaded appliances; results come back in order', async (t) => {
  const servers = await Promise.all([startTestServer(t), startTestServer(t), startTestServer(t)]);
  await using pool = await EnvPool.create(EchoEnv, { baseUrls: servers.map((s) => s.url), episodesPerAppliance: 4 });
  const reset = await pool.reset({ n: 10 });
  t.equal(reset.length, 10);
  t.ok(reset.every((r) => !('error' in r)), 'every episode started');
  t.same(
    pool.stats().appliances.map((a) => a.episodes),
    [4, 3, 3],
  );
  t.same(
    servers.map((s) => s.app.sessions.size),
    [4, 3, 3],
    'one WebSocket session per episode, on the servers themselves',
  );
  const results = await pool.step(Array.from({ length: 10 }, (_, i) => ({ message: `episode ${i}` })));
  t.same(
    results.map((r) => ('error' in r ? r.error.message : r.observation.echoed_message)),
    Array.from({ length: 10 }, (_, i) => `episode ${i}`),
  );
  const stats = pool.stats();
  t.same(
    stats.appliances.map((a) => a.steps),
    [4, 3, 3],
  );
  t.ok(stats.appliances.every((a) => a.stepsPerSecond > 0 && a.errors === 0));
  // A second reset with fewer episodes closes the others.
  await pool.reset({ n: 2 });
  t.equal(pool.size, 2);
  await pool.close();
  t.same(
    servers.map((s) => s.app.sessions.size),
    [0, 0, 0],
    'close() closed every session',
  );
  await t.rejects(pool.step([]), { code: 'POOL_CLOSED' });
});

t.test('CAPACITY_EXCEEDED moves the episode to another appliance', async (t) => {
  const small = await startTestServer(t, { maxSessions: 2 });
  const large = await startTestServer(t);
  await using pool = await EnvPool.create(EchoEnv, { baseUrls: [small.url, large.url], episodesPerAppliance: 6 });
  const reset = await pool.reset({ n: 8 });
  t.ok(reset.every((r) => !('error' in r)), 'every episode started');
  const stats = pool.stats();
  t.equal(stats.moved, 2, 'the two episodes the small appliance refused moved');
  t.same(
    stats.appliances.map((a) => a.episodes),
    [2, 6],
  );
  t.same([small.app.sessions.size, large.app.sessions.size], [2, 6]);
  const results = await pool.step(Array.from({ length: 8 }, (_, i) => ({ message: String(i) })));
  t.ok(results.every((r, i) => !('error' in r) && r.observation.echoed_message === String(i)));
});

t.test('an appliance killed mid-batch: its episodes lose their state, the others answer, the provider replaces it', async (t) => {
  const provider = new ProcessProvider();
  t.teardown(() => provider.close());
  await using pool = await EnvPool.create(EchoEnv, { provider, appliances: 2, episodesPerAppliance: 3, timeoutMs: 10_000 });
  await pool.reset({ n: 6 });
  const [victim] = provider.started;
  const batch = pool.step(Array.from({ length: 6 }, (_, i) => ({ message: String(i) })));
  // Before any of the batch's messages is written: the appliance dies with the batch in flight.
  victim!.kill();
  const results = await batch;
  const lost = results.filter((r) => 'error' in r && r.stateLost === true);
  const answered = results.filter((r) => !('error' in r));
  t.equal(lost.length, 3, 'the victim held three episodes');
  t.equal(answered.length, 3, 'the other three answered');
  for (const r of lost) {
    if (!('error' in r)) continue;
    t.type(r.error, EpisodeLostError);
    t.equal(r.error.code, 'STATE_LOST');
    t.match(r.error.message, new RegExp(`^Episode \\d on the appliance at ${victim!.baseUrl.replaceAll('.', '\\.')} lost its state \\(the appliance died: (its container is killed \\(SIGKILL\\)|GET \\S+/health did not answer healthy: \\w+)\\)\\. Call pool\\.reset\\(\\) to start it again on a live appliance\\.$`));
  }
  // The next step of a lost episode says so again, at once.
  const again = await pool.step(Array.from({ length: 6 }, (_, i) => ({ message: String(i) })));
  t.equal(again.filter((r) => 'error' in r && r.stateLost === true).length, 3);

  // reset waits for the replacement and places the episodes on live appliances.
  const reset = await pool.reset({ n: 6 });
  t.ok(reset.every((r) => !('error' in r)), 'every episode started again');
  const stats = pool.stats();
  t.equal(stats.dead, 1);
  t.equal(stats.replaced, 1);
  t.equal(provider.started.length, 3, 'one appliance started through the provider as a replacement');
  t.same(
    stats.appliances.map((a) => [a.alive, a.episodes]),
    [
      [true, 3],
      [true, 3],
    ],
  );
  const results2 = await pool.step(Array.from({ length: 6 }, (_, i) => ({ message: String(i) })));
  t.ok(results2.every((r) => !('error' in r)));
  await pool.close();
  t.same(
    await Promise.all(provider.started.map(async (a) => (await a.state()).running)),
    [false, false, false],
    'close() removed every appliance the pool started',
  );
});

t.test('episodes whose WebSocket broke on a live appliance lose their state, and say why', async (t) => {
  // Sessions idle for 300 ms are closed by the server, and their WebSockets with them.
  const server = await startTestServer(t, { sessionIdleMs: 300 });
  await using pool = await EnvPool.create(EchoEnv, { baseUrls: [server.url], episodesPerAppliance: 2 });
  await pool.reset({ n: 2 });
  await sessionClosed(server);
  if (server.app.sessions.size > 0) await sessionClosed(server);
  const results = await pool.step([{ message: 'a' }, { message: 'b' }]);
  for (const r of results) {
    t.match(r, { stateLost: true, error: { code: 'STATE_LOST', message: /^Episode \d on the appliance at \S+ lost its state \(its WebSocket broke: WebSocket closed by the server/ } });
  }
  t.equal(pool.stats().dead, 0, 'the appliance lives');
  const again = await pool.reset({ n: 2 });
  t.ok(again.every((r) => !('error' in r)), 'a reset places them again');
});

t.test('a dead baseUrl server without a provider: state lost, the next reset uses the live ones', async (t) => {
  const live = await startTestServer(t);
  const doomed = await startTestServer(t);
  await using pool = await EnvPool.create(EchoEnv, { baseUrls: [live.url, doomed.url], episodesPerAppliance: 2, timeoutMs: 5_000 });
  await pool.reset({ n: 4 });
  await doomed.close(0);
  const results = await pool.step(Array.from({ length: 4 }, (_, i) => ({ message: String(i) })));
  t.same(
    results.map((r) => ('error' in r ? r.error.code : 'ok')),
    ['ok', 'STATE_LOST', 'ok', 'STATE_LOST'],
  );
  await t.rejects(pool.reset({ n: 4 }), { message: 'Invalid n: expected at most 2 (1 live appliances × episodesPerAppliance 2), received 4.' });
  const reset = await pool.reset({ n: 2 });
  t.ok(reset.every((r) => !('error' in r)));
});

t.test('a peer that freezes mid-batch (its process stopped, its sockets open) costs a deadline, not a hang', async (t) => {
  const live = await startTestServer(t);
  const frozen = await startCliServer(t);
  t.teardown(() => void frozen.child.kill('SIGCONT'));
  await using pool = await EnvPool.create(EchoEnv, { baseUrls: [live.url, frozen.url], episodesPerAppliance: 2, timeoutMs: 1_000 });
  const first = await pool.reset({ n: 4 });
  t.ok(first.every((r) => !('error' in r)), 'four episodes on two servers');
  // SIGSTOP: the kernel still holds its connections open and accepts new ones; nothing answers.
  frozen.child.kill('SIGSTOP');
  const results = await pool.step(Array.from({ length: 4 }, (_, i) => ({ message: String(i) })));
  t.same(
    results.map((r) => ('error' in r ? r.error.code : r.observation.echoed_message)),
    ['0', 'STATE_LOST', '2', 'STATE_LOST'],
  );
  t.match(results[1], { stateLost: true, error: { message: /lost its state \(the appliance died: .*(timed out|did not answer)/ } });
  t.match(pool.stats(), { dead: 1 });
  frozen.child.kill('SIGCONT');
  // The next reset, with the frozen server's episodes placed on the live one, answers too.
  const again = await pool.reset({ n: 2 });
  t.same(
    again.map((r) => ('error' in r ? r.error.code : 'ok')),
    ['ok', 'ok'],
  );
});

t.test('autoReset: the step after done starts a new episode, flagged; seeds go one per episode', async (t) => {
  const server = await startTestServer(t, {}, countdownDefinition(2) as never);
  await using pool = await EnvPool.create(CountdownEnv, { baseUrls: [server.url], episodesPerAppliance: 3, autoReset: true });
  const reset = await pool.reset({ n: 3, seeds: [7, 8, 9] });
  t.same(
    reset.map((r) => ('error' in r ? r.error.message : r.observation.seed)),
    [7, 8, 9],
  );
  const tick = Array.from({ length: 3 }, () => ({ op: 'tick' as const }));
  t.same(
    (await pool.step(tick)).map((r) => ('error' in r ? 'error' : [r.observation.remaining, r.done])),
    [
      [1, false],
      [1, false],
      [1, false],
    ],
  );
  const ended = await pool.step(tick);
  t.same(
    ended.map((r) => ('error' in r ? 'error' : [r.observation.remaining, r.done, r.reward])),
    [
      [0, true, 1],
      [0, true, 1],
      [0, true, 1],
    ],
  );
  const next = await pool.step(tick);
  t.same(
    next.map((r) => ('error' in r ? 'error' : [r.observation.remaining, r.done, r.autoReset])),
    [
      [2, false, true],
      [2, false, true],
      [2, false, true],
    ],
    'each episode was reset instead of stepped, and says so',
  );
  await t.rejects(pool.reset({ n: 2, seeds: [1] }), { message: 'Invalid seeds: expected 2 seeds (one per episode), received 1.' });
});

t.test('EnvPool.create draws its progress: a bar redrawn in place on a TTY, a line per appliance elsewhere', async (t) => {
  const provider = new ProcessProvider();
  t.teardown(() => provider.close());
  const output = (isTTY: boolean) => ({
    isTTY,
    columns: 100,
    text: '',
    write(chunk: string) {
      this.text += chunk;
      return true;
    },
  });
  const tty = output(true);
  const pool = await EnvPool.create(EchoEnv, { provider, appliances: 2, progress: tty });
  await pool.close();
  const frames = tty.text.split('\r\x1b[K').filter((frame) => frame !== '');
  t.equal(frames.length, 3, `three frames: ${JSON.stringify(frames)}`);
  t.match(frames[0], /^\[\.{24}\]   0% EnvPool: 0\/2 appliances started, \d+\.\d s$/);
  t.match(frames[1], /^\[#{12}\.{12}\]  50% EnvPool: 1\/2 appliances started, \d+\.\d s$/);
  t.match(frames[2], /^\[#{24}\] 100% EnvPool: 2\/2 appliances started, \d+\.\d s\n$/, 'the last frame ends the line');

  const log = output(false);
  provider.failNext = 1;
  await t.rejects(EnvPool.create(EchoEnv, { provider, appliances: 2, progress: log }));
  t.same(
    log.text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.replace(/\d+\.\d s/, 'T'))
      .sort(),
    ['EnvPool: an appliance failed to start (1 of 2, T)', 'EnvPool: appliance 1/2 started (T)'],
    'no bar in a log: a line per appliance',
  );
});

t.test('a replacement that fails is tried again by the next reset; when that fails too, reset says why', async (t) => {
  const provider = new ProcessProvider();
  t.teardown(() => provider.close());
  await using pool = await EnvPool.create(EchoEnv, { provider, appliances: 2, episodesPerAppliance: 2, timeoutMs: 10_000 });
  await pool.reset({ n: 4 });
  provider.failNext = 1;
  provider.started[0]!.kill();
  const lost = await pool.step(Array.from({ length: 4 }, (_, i) => ({ message: String(i) })));
  t.equal(lost.filter((r) => 'error' in r && r.stateLost === true).length, 2);
  const reset = await pool.reset({ n: 4 });
  t.ok(reset.every((r) => !('error' in r)), 'the second try replaced it');
  t.match(pool.stats(), { dead: 1, replaced: 1 });

  provider.failNext = 2;
  provider.started[1]!.kill();
  await pool.step(Array.from({ length: 4 }, (_, i) => ({ message: String(i) })));
  await t.rejects(pool.reset({ n: 4 }), {
    code: 'POOL_OPTIONS',
    message: 'Invalid n: expected at most 2 (1 live appliances × episodesPerAppliance 2), received 4; replacing a dead appliance failed: the test made this start fail.',
  });
  const smaller = await pool.reset({ n: 2 });
  t.ok(smaller.every((r) => !('error' in r)), 'the live appliance still serves');
});
