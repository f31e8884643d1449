/**
 * Fault: more concurrent resets than the warm pool holds (pools of 2; 8 Python and 8 JavaScript
 * resets at once, half over HTTP sessions, half over WebSocket).
 * Documented outcome (the pool's contract, sandbox/pool.ts): every reset succeeds with a working
 * sandbox of its own (the ones beyond the pool wait for a start, they are not refused); the pool
 * refills to its size afterwards; nothing leaks once the sessions close.
 * Existing coverage: test/sandbox/pool.test.ts checks acquire/refill on a fake factory; here it is
 * a live server, real sandboxes and the transports.
 */
import t from 'tap';
import { CodingEnv } from '../../envs/coding_env/index.js';
import { assertNoLeaks, baseline, health, poolsFull, startFaultServer } from '../fixtures/fault-server.js';
import { testNoSandboxOutlivesClose, trackSpawnedProcesses } from '../fixtures/sandbox-processes.js';

const spawned = trackSpawnedProcesses();

const POOL_SIZE = 2;
/** Concurrent resets per language: four times the pool. */
const RESETS = 8;

t.test(`${RESETS} concurrent resets per language against pools of ${POOL_SIZE}: all served, pools refill, nothing leaks`, async (t) => {
  const server = await startFaultServer(t, { poolSize: POOL_SIZE });
  const before = await baseline(server);
  t.same(
    { python: before.processes > 0, pools: (await health(server)).pools },
    { python: true, pools: { python: { ready: 2, starting: 0, size: 2 }, javascript: { ready: 2, starting: 0, size: 2 } } },
    'both pools full before the burst',
  );

  const clients = (['python', 'javascript'] as const).flatMap((language) =>
    Array.from({ length: RESETS }, (_, i) => ({ language, i, env: new CodingEnv({ baseUrl: server.url, transport: i % 2 === 0 ? 'http' : 'ws' }) })),
  );
  t.teardown(() => Promise.all(clients.map(({ env }) => env.close().catch(() => undefined))));

  const resets = await Promise.allSettled(clients.map(({ env, language }) => env.reset({ language })));
  t.same(
    resets.map((reset) => reset.status),
    clients.map(() => 'fulfilled'),
    `all ${clients.length} resets succeeded: ${resets.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : [])).join('; ')}`,
  );
  t.equal((await health(server)).active_sessions, clients.length);

  // Each episode works and is its own: a variable of its own, and (Python) a sandbox uid of its own.
  const bind = (language: string, i: number) => (language === 'python' ? `v = ${i}` : `let v = ${i}`);
  await Promise.all(clients.map(({ env, language, i }) => env.step({ code: bind(language, i) })));
  const doubled = await Promise.all(clients.map(({ env }) => env.step({ code: 'v * 2' })));
  t.same(
    doubled.map((answer) => answer.observation.metadata.result),
    clients.map(({ i }) => String(i * 2)),
    'every session sees its own state',
  );
  const uids = await Promise.all(
    clients.filter(({ language }) => language === 'python').map(async ({ env }) => (await env.step({ code: 'import os; os.getuid()' })).observation.metadata.result),
  );
  t.equal(new Set(uids).size, RESETS, `${RESETS} Python sandboxes, each its own uid (${uids.join(', ')})`);

  const refilled = await poolsFull(server);
  t.same(refilled.pools, { python: { ready: 2, starting: 0, size: 2 }, javascript: { ready: 2, starting: 0, size: 2 } }, 'both pools refilled to their size');

  await Promise.all(clients.map(({ env }) => env.close()));
  await assertNoLeaks(t, server, before);
});

testNoSandboxOutlivesClose(t, spawned);
