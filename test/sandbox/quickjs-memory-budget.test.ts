import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { totalmem } from 'node:os';
import t, { type Test } from 'tap';
import { SandboxUnavailableError } from '../../protocol/index.js';
import {
  createQuickJsBackend,
  defaultEpisodeMemoryBudget,
  EPISODE_MINIMUM_BYTES,
  MEMORY_BUDGET_RETRY_AFTER_S,
  memoryLimit,
  type JavaScriptBackend,
  type JavaScriptBackendOptions,
  type Sandbox,
} from '../../sandbox/index.js';
import { patchInitialMemory, WASM_PAGE_BYTES } from '../../sandbox/quickjs/wasm-layout.js';

// The episode memory budget (issue 17): the sum of what JavaScript episodes hold, across every
// worker thread, stays under one budget; past it an allocation fails inside the guest (state
// kept) and a new episode is refused with a retry hint. Real worker threads, real QuickJS.

const MiB = 1024 * 1024;
const STEP_MS = 60_000;
/** Fills memory with 8 MiB blocks until an allocation fails inside the guest; the result is how many it kept. */
const FILL = 'globalThis.keep = []; try { for (;;) keep.push(new Uint8Array(8 * 2 ** 20).fill(1)) } catch (e) { console.log(String(e)) } keep.length';
/** Fills memory to the last 64 KiB: 8 MiB blocks, then 64 KiB blocks. */
const FILL_TO_THE_BRIM =
  'globalThis.keep = []; try { for (;;) keep.push(new Uint8Array(8 * 2 ** 20).fill(1)) } catch (e) { console.log(String(e)) } ' +
  'try { for (;;) keep.push(new Uint8Array(2 ** 16).fill(1)) } catch (e) { console.log(String(e)) } keep.length';

async function backendFor(t: Test, options: JavaScriptBackendOptions): Promise<JavaScriptBackend> {
  const backend = await createQuickJsBackend(options);
  t.teardown(() => backend.close());
  return backend;
}

async function sandboxFor(t: Test, backend: JavaScriptBackend): Promise<Sandbox> {
  const sandbox = await backend.create();
  t.teardown(() => sandbox.close());
  return sandbox;
}

/** Resolve once `condition()` holds, checking every 10 ms (a hang guard of the file's timeout bounds it). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

t.test("the build's memory minimum is lowered to the heap's start, so every heap page arrives through memory.grow", async (t) => {
  const path = createRequire(import.meta.url).resolve('@jitl/quickjs-wasmfile-release-sync/wasm');
  const bytes = new Uint8Array(readFileSync(path));
  const original = new Uint8Array(bytes);
  const layout = patchInitialMemory(bytes);
  t.equal(layout.patched, true);
  t.ok(layout.heapBase > 0, `the heap starts at ${layout.heapBase}`);
  t.equal(layout.initialPages, Math.ceil(layout.heapBase / WASM_PAGE_BYTES), 'the minimum is the page the heap starts in');
  t.ok(layout.initialPages < 256, `below the build's 16 MiB (${layout.initialPages} pages)`);
  t.equal(bytes.length, original.length, 'nothing moved');
  t.equal(bytes.filter((byte, index) => byte !== original[index]).length <= 2, true, 'at most the two bytes of the minimum changed');
  const module = await WebAssembly.compile(bytes);
  t.ok(module, 'the patched binary still compiles');

  const garbage = new Uint8Array(64).fill(0xff);
  t.same(patchInitialMemory(garbage).patched, false, 'a binary not laid out as expected is left alone');
  t.same([...garbage], new Array(64).fill(0xff));
});

t.test('the default budget: the memory limit less the server reserve', async (t) => {
  t.equal(defaultEpisodeMemoryBudget(1024 * MiB), 768 * MiB, '1 GiB appliance: 768 MiB');
  t.equal(defaultEpisodeMemoryBudget(24 * 1024 * MiB), 18 * 1024 * MiB, '24 GiB machine: three quarters');
  t.equal(defaultEpisodeMemoryBudget(128 * MiB), 64 * MiB, 'never below 64 MiB');
  const limit = memoryLimit();
  t.ok(limit.bytes > 0 && limit.bytes <= totalmem(), `the limit here: ${Math.round(limit.bytes / MiB)} MiB from the ${limit.source}`);
  const backend = await backendFor(t, {});
  t.equal(backend.memoryBudget.budgetBytes, Math.floor(defaultEpisodeMemoryBudget() / WASM_PAGE_BYTES) * WASM_PAGE_BYTES, 'a backend without the option takes the default');
});

t.test('a crowd of episodes filling memory at once: each gets a guest error with its state kept; the sum stays under the budget', async (t) => {
  // Three workers, so the crowd charges the budget from several threads at once.
  const backend = await backendFor(t, { memoryBudgetBytes: 96 * MiB, spreadWorkers: 3, episodesPerWorker: 3 });
  const bystander = await sandboxFor(t, backend);
  t.equal((await bystander.run('globalThis.x = 41; new Uint8Array(2 * 2 ** 20).fill(2).length', { timeoutMs: STEP_MS })).exitCode, 0);
  const baseline = backend.memoryBudget.usedBytes;
  t.ok(baseline > 0 && baseline < 8 * MiB, `an idle episode and the bystander are charged ${(baseline / MiB).toFixed(1)} MiB`);

  const attackers = await Promise.all(Array.from({ length: 6 }, () => sandboxFor(t, backend)));
  t.ok(backend.workerCount >= 2, `the crowd spans ${backend.workerCount} workers`);
  const filled = await Promise.all(attackers.map((sandbox) => sandbox.run(FILL, { timeoutMs: STEP_MS })));
  const budget = backend.memoryBudget;
  t.ok(budget.usedBytes <= budget.budgetBytes, `charged ${(budget.usedBytes / MiB).toFixed(1)} MiB of ${budget.budgetBytes / MiB} MiB`);
  t.ok(budget.usedBytes > budget.budgetBytes - 24 * MiB, 'the crowd did fill the budget');
  const kept = filled.map((result) => Number(result.result));
  t.ok(kept.reduce((sum, n) => sum + n, 0) * 8 * MiB <= budget.budgetBytes, `the blocks kept (${kept.join(', ')}) fit the budget`);
  for (const result of filled) {
    t.equal(result.exitCode, 0, 'the guest caught its own allocation failure');
    t.match(result.stdout, /out of memory|RangeError/, 'an out-of-memory error inside the guest');
    t.equal(result.stateLost, false);
  }
  t.ok(budget.refusedGrowths >= 1, `refused growths counted (${budget.refusedGrowths})`);
  for (const [index, sandbox] of attackers.entries()) {
    const state = await sandbox.run('keep.length', { timeoutMs: STEP_MS });
    t.equal(state.result, String(kept[index]), 'each attacker kept its state');
  }
  const uncaught = await attackers[0]!.run('const big = new Uint8Array(64 * 2 ** 20); big.length', { timeoutMs: STEP_MS });
  t.equal(uncaught.exitCode, 1, 'an allocation past the budget that the guest does not catch is its error (1)');
  t.match(uncaught.stderr, /out of memory|RangeError|InternalError/);
  t.equal((await attackers[0]!.run('keep.length', { timeoutMs: STEP_MS })).result, String(kept[0]), 'state kept after it');
  t.equal((await bystander.run('x + 1', { timeoutMs: STEP_MS })).result, '42', 'the bystander keeps its state and steps');

  // A new episode when what is left is under its minimum: refused, with a retry hint, never a crash.
  if (budget.budgetBytes - budget.usedBytes < EPISODE_MINIMUM_BYTES) {
    const refused = await backend.create().then(
      () => undefined,
      (error: unknown) => error,
    );
    t.type(refused, SandboxUnavailableError);
    t.equal((refused as SandboxUnavailableError).code, 'SANDBOX_UNAVAILABLE');
    t.equal((refused as SandboxUnavailableError).retryAfterS, MEMORY_BUDGET_RETRY_AFTER_S);
    t.match((refused as Error).message, /budget/);
    t.ok(budget.refusedEpisodes >= 1);
  }
  const health = backend.health();
  t.equal(health.memory_budget_bytes, budget.budgetBytes);
  t.equal(health.memory_used_bytes, budget.usedBytes);
  t.equal(health.memory_refused_growths, budget.refusedGrowths);

  // Closing the crowd gives its memory back: the budget returns to its baseline and admits new episodes.
  await Promise.all(attackers.map((sandbox) => sandbox.close()));
  // Closing frees each context in its worker thread, after close() returned.
  await until(() => budget.usedBytes <= baseline);
  t.equal(budget.usedBytes, baseline, 'back to the baseline');
  const fresh = await sandboxFor(t, backend);
  const grown = await fresh.run('globalThis.y = new Uint8Array(32 * 2 ** 20).fill(3); y.length', { timeoutMs: STEP_MS });
  t.equal(grown.result, String(32 * MiB), 'a new episode gets memory again');
});

t.test('a new episode the budget cannot give its minimum is refused at once, then admitted once memory is freed', async (t) => {
  const backend = await backendFor(t, { memoryBudgetBytes: 24 * MiB, spreadWorkers: 1 });
  const hog = await sandboxFor(t, backend);
  const filled = await hog.run(FILL_TO_THE_BRIM, { timeoutMs: STEP_MS });
  t.match(filled.stdout, /out of memory|RangeError/);
  const refused = await backend.create().then(
    () => undefined,
    (error: unknown) => error,
  );
  t.type(refused, SandboxUnavailableError, 'refused');
  t.equal((refused as SandboxUnavailableError).retryAfterS, MEMORY_BUDGET_RETRY_AFTER_S);
  t.same((refused as SandboxUnavailableError).details, {
    episode_memory_budget_bytes: backend.memoryBudget.budgetBytes,
    episode_memory_used_bytes: backend.memoryBudget.usedBytes,
  });
  t.equal(backend.episodeCount, 1, 'no episode was left half-open');
  t.equal((await hog.run('keep.length', { timeoutMs: STEP_MS })).result, filled.result, 'the hog keeps its state');
  t.equal((await hog.run('keep.length = 0; globalThis.keep = null; 0', { timeoutMs: STEP_MS })).exitCode, 0);
  await hog.close();
  await until(() => backend.memoryBudget.hasRoomFor(EPISODE_MINIMUM_BYTES));
  const admitted = await sandboxFor(t, backend);
  t.equal((await admitted.run('1 + 1', { timeoutMs: STEP_MS })).result, '2', 'admitted once the hog closed');
});

t.test("a terminated worker's episodes give back everything they were charged", async (t) => {
  const backend = await backendFor(t, { memoryBudgetBytes: 128 * MiB, spreadWorkers: 2, episodesPerWorker: 1, graceMs: 200 });
  const elsewhere = await sandboxFor(t, backend);
  const stalled = await sandboxFor(t, backend);
  await elsewhere.run('globalThis.k = new Uint8Array(8 * 2 ** 20).fill(1); 0', { timeoutMs: STEP_MS });
  const before = backend.memoryBudget.usedBytes;
  await stalled.run('globalThis.k = new Uint8Array(40 * 2 ** 20).fill(1); 0', { timeoutMs: STEP_MS });
  const filled = backend.memoryBudget.usedBytes;
  t.ok(filled - before >= 36 * MiB, `the stalling episode was charged its 40 MiB (less the heap it had free): ${((filled - before) / MiB).toFixed(1)} MiB`);
  const killed = await stalled.run('const a = []; a.length = 2 ** 32 - 1; a.includes(1)', { timeoutMs: 500 });
  t.equal(killed.exitCode, 137, 'its worker was terminated');
  await until(() => backend.memoryBudget.usedBytes < filled - 40 * MiB);
  t.ok(backend.memoryBudget.usedBytes <= before, 'its charge is gone with its worker');
  t.equal((await elsewhere.run('k.length', { timeoutMs: STEP_MS })).result, String(8 * MiB), 'the episode on another worker keeps its state');
});
