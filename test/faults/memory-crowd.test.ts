/**
 * Fault: a crowd of JavaScript sessions filling memory at once, on a server with a small episode
 * memory budget (issue 17; the same on the Docker appliance with its default budget is
 * test/client/docker/run/memory.test.ts).
 * Documented outcome: each attacker's allocation fails inside its guest (out of memory, state
 * kept); the sum of what JavaScript episodes hold stays under the budget; a bystander keeps its
 * state and steps; a new JavaScript episode the budget cannot give its minimum is refused with
 * 503 `SANDBOX_UNAVAILABLE` and `Retry-After`; `/health` and `/metrics` report the budget, its use
 * and the refusals; once the attackers close, everything returns to its baseline.
 */
import t from 'tap';
import { CodingEnv } from '../../envs/coding_env/index.js';
import { MEMORY_BUDGET_RETRY_AFTER_S } from '../../sandbox/index.js';
import { startCliServer } from '../fixtures/cli-process.js';
import { assertNoLeaks, baseline, startFaultServer } from '../fixtures/fault-server.js';
import { request } from '../fixtures/test-server.js';

const MiB = 1024 * 1024;
/** A hang guard per call, not a speed check: a crowd's worker starts on a loaded 2-core machine took over the client's default 60 s. */
const CALL_TIMEOUT_MS = 300_000;
const BUDGET_BYTES = 64 * MiB;
const ATTACKERS = 6;
/** Fills memory with 8 MiB blocks, then 64 KiB ones, until allocations fail inside the guest. */
const FILL =
  'globalThis.keep = []; try { for (;;) keep.push(new Uint8Array(8 * 2 ** 20).fill(1)) } catch (e) { console.log(String(e)) } ' +
  'try { for (;;) keep.push(new Uint8Array(2 ** 16).fill(1)) } catch (e) { console.log(String(e)) } keep.length';

interface BudgetHealth {
  memory_budget_bytes: number;
  memory_used_bytes: number;
  memory_refused_episodes: number;
  memory_refused_growths: number;
}

t.test(`${ATTACKERS} JavaScript sessions fill a ${BUDGET_BYTES / MiB} MiB budget at once: guest errors, a bystander untouched, new episodes refused with Retry-After`, async (t) => {
  const server = await startFaultServer(t, { javascript: { memoryBudgetBytes: BUDGET_BYTES } });
  const before = await baseline(server);
  const budgetHealth = async (): Promise<BudgetHealth> => (await request(server, 'GET', '/health')).body.javascript as BudgetHealth;
  t.equal((await budgetHealth()).memory_budget_bytes, BUDGET_BYTES, '/health reports the budget');

  const bystander = new CodingEnv({ baseUrl: server.url, timeoutMs: CALL_TIMEOUT_MS });
  t.teardown(() => bystander.close());
  await bystander.reset({ language: 'javascript' });
  await bystander.step({ code: 'globalThis.x = 41' });

  const attackers = Array.from({ length: ATTACKERS }, (_, i) => new CodingEnv({ baseUrl: server.url, transport: i % 2 === 0 ? 'http' : 'ws', timeoutMs: CALL_TIMEOUT_MS }));
  t.teardown(() => Promise.all(attackers.map((env) => env.close().catch(() => undefined))));
  await Promise.all(attackers.map((env) => env.reset({ language: 'javascript' })));
  const filled = await Promise.all(attackers.map((env) => env.step({ code: FILL })));
  for (const { observation } of filled) {
    t.equal(observation.exit_code, 0, 'the guest caught its allocation failure');
    t.match(observation.stdout, /out of memory|RangeError/, 'an out-of-memory error inside the guest');
    t.notOk(observation.metadata.state_lost);
  }
  const full = await budgetHealth();
  t.ok(full.memory_used_bytes <= BUDGET_BYTES, `JavaScript episodes hold ${(full.memory_used_bytes / MiB).toFixed(1)} MiB of the ${BUDGET_BYTES / MiB} MiB budget`);
  t.ok(full.memory_refused_growths >= 1, `refused growths reported (${full.memory_refused_growths})`);
  const kept = await Promise.all(attackers.map((env) => env.step({ code: 'keep.length' })));
  t.same(
    kept.map(({ observation }) => observation.metadata.result),
    filled.map(({ observation }) => observation.metadata.result),
    'every attacker kept its state',
  );
  t.equal((await bystander.step({ code: 'x + 1' })).observation.metadata.result, '42', 'the bystander keeps its state and steps');

  // New JavaScript episodes: the warm pool's ready ones were admitted before the crowd; past them,
  // a start is refused by the budget.
  let refused: Awaited<ReturnType<typeof request>> | undefined;
  const opened: string[] = [];
  t.teardown(() => Promise.all(opened.map((id) => request(server, 'DELETE', `/sessions/${id}`).catch(() => undefined))));
  for (let attempt = 0; attempt < 4 && refused === undefined; attempt += 1) {
    const { body } = await request(server, 'POST', '/sessions');
    opened.push(body.session_id);
    const answer = await request(server, 'POST', '/reset', { language: 'javascript' }, { 'X-Session-Id': body.session_id });
    if (answer.status !== 200) refused = answer;
  }
  const admitted = opened.length - (refused === undefined ? 0 : 1);
  t.ok(refused !== undefined, `a new JavaScript reset is refused once the pool's ready sandboxes are taken (${admitted} were)`);
  t.equal(refused?.status, 503);
  t.equal(refused?.body.error.code, 'SANDBOX_UNAVAILABLE');
  t.match(refused?.body.error.message, /budget/);
  t.equal(refused?.headers.get('retry-after'), String(MEMORY_BUDGET_RETRY_AFTER_S), 'Retry-After says when to try again');
  t.ok((await budgetHealth()).memory_refused_episodes >= 1, '/health counts the refused episode');

  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  t.match(metrics, new RegExp(`^envbox_episode_memory_budget_bytes\\{language="javascript"\\} ${BUDGET_BYTES}$`, 'm'), '/metrics: the budget');
  t.match(metrics, /^envbox_episode_memory_used_bytes\{language="javascript"\} [1-9]\d*$/m, '/metrics: its use');
  t.match(metrics, /^envbox_episode_memory_refusals_total\{language="javascript",kind="episode"\} [1-9]\d*$/m, '/metrics: refused episodes');
  t.match(metrics, /^envbox_episode_memory_refusals_total\{language="javascript",kind="growth"\} [1-9]\d*$/m, '/metrics: refused growths');

  // The crowd leaves: its memory is free again, and new episodes are admitted.
  await Promise.all(attackers.map((env) => env.close()));
  await Promise.all(opened.splice(0).map((id) => request(server, 'DELETE', `/sessions/${id}`)));
  await bystander.close();
  await assertNoLeaks(t, server, before);
  const fresh = new CodingEnv({ baseUrl: server.url, timeoutMs: CALL_TIMEOUT_MS });
  t.teardown(() => fresh.close());
  await fresh.reset({ language: 'javascript' });
  const grown = await fresh.step({ code: 'globalThis.y = new Uint8Array(16 * 2 ** 20).fill(1); y.length' });
  t.equal(grown.observation.metadata.result, String(16 * MiB), 'a new episode gets memory again');
});

t.test('envbox serve --episode-memory-budget-bytes sets the budget /health reports', async (t) => {
  const { url } = await startCliServer(t, ['--env', 'coding_env', '--python-backend', 'process', '--pool-size', '0', '--episode-memory-budget-bytes', String(32 * MiB)]);
  const health = (await (await fetch(`${url}/health`)).json()) as { javascript: BudgetHealth };
  t.equal(health.javascript.memory_budget_bytes, 32 * MiB);
  t.equal(health.javascript.memory_used_bytes, 0, 'nothing charged without episodes');
});
