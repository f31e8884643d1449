/// <reference path="../../sandbox/quickjs/webassembly.d.ts" />
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import t, { type Test } from 'tap';
import { createQuickJsBackend, type ExecResult, type JavaScriptBackend, type Sandbox } from '../../sandbox/index.js';
import { EpisodeImage, IMAGE_CHUNK_BYTES } from '../../sandbox/quickjs/episode-image.js';
import { GuestContext } from '../../sandbox/quickjs/guest-context.js';
import { EpisodeMemoryBudget, WorkerMemoryAccount } from '../../sandbox/quickjs/memory-budget.js';
import type { WorkerConfig } from '../../sandbox/quickjs/protocol.js';
import { patchInitialMemory, WASM_PAGE_BYTES } from '../../sandbox/quickjs/wasm-layout.js';

// JavaScript episodes start from an episode image (issue 18): each still gets a new wasm memory and
// instance of its own, into which a set-up episode's memory is copied. These check that nothing
// of one episode reaches another through the image, that each draws its own random numbers, and
// that a restored episode is charged, runs and frees exactly as one set up from scratch.

const STEP_MS = 30_000;
const run = (sandbox: Sandbox, code: string, timeoutMs = STEP_MS): Promise<ExecResult> => sandbox.run(code, { timeoutMs });

/** One worker, so that every episode of a test is restored from the same image. */
async function backendFor(t: Test): Promise<JavaScriptBackend> {
  const backend = await createQuickJsBackend({ spreadWorkers: 1 });
  t.teardown(() => backend.close());
  return backend;
}

async function sandboxFor(t: Test, backend: JavaScriptBackend): Promise<Sandbox> {
  const sandbox = await backend.create();
  t.teardown(() => sandbox.close());
  return sandbox;
}

/** What a worker is given, built here so that GuestContext can be driven in this thread. */
async function workerConfig(budget: EpisodeMemoryBudget): Promise<WorkerConfig> {
  const bytes = readFileSync(createRequire(import.meta.url).resolve('@jitl/quickjs-wasmfile-release-sync/wasm'));
  const layout = patchInitialMemory(bytes);
  const source = (file: string) => readFileSync(new URL(`../../sandbox/quickjs/${file}`, import.meta.url), 'utf8').trim().replace(/;$/, '');
  return {
    wasmModule: await WebAssembly.compile(bytes),
    layout: { initialPages: layout.initialPages, heapBase: layout.heapBase },
    budgetCells: budget.cells,
    preludeSource: source('prelude.js'),
    formatterSource: source('guest-inspect.js'),
    memoryLimitBytes: 64 * 1024 * 1024,
    runtimeMemoryLimitBytes: 56 * 1024 * 1024,
    maxStackSizeBytes: 512 * 1024,
    maxOutputBytes: 1024 * 1024,
  };
}

const noBusy = (): void => undefined;

t.test('every worker has its image; episodes start from it', async (t) => {
  const backend = await backendFor(t);
  const sandbox = await sandboxFor(t, backend);
  t.equal((await run(sandbox, '1 + 1')).result, '2');
  t.equal(backend.imageFailure, undefined, 'no worker sets its episodes up from scratch');
});

t.test('a new episode starts pristine: what another episode changed is not in it', async (t) => {
  const backend = await backendFor(t);
  const first = await sandboxFor(t, backend);
  const polluted = await run(
    first,
    [
      'globalThis.leak = 42; var declared = 1;',
      'Object.prototype.polluted = "yes"; Array.prototype.push = () => "hijacked";',
      'console.log = () => {}; JSON.stringify = () => "hijacked";',
      'typeof leak',
    ].join('\n'),
  );
  t.equal(polluted.result, "'number'");
  // A timer keeps its step running to the deadline (124), and stays pending in its episode.
  const pending = await run(first, 'setTimeout(() => { globalThis.late = 1 }, 60_000); new Promise(() => {})', 300);
  t.equal(pending.exitCode, 124);
  // Closed, and still open: neither may reach a new episode of the same worker.
  const open = await sandboxFor(t, backend);
  await run(open, 'globalThis.sibling = 1; String.prototype.trim = () => "hijacked"');
  await first.close();
  const fresh = await sandboxFor(t, backend);
  const seen = await run(
    fresh,
    'console.log(JSON.stringify([typeof leak, typeof declared, typeof late, typeof sibling, ({}).polluted, [].push(1), " a ".trim()]))',
  );
  t.equal(seen.stdout, '["undefined","undefined","undefined","undefined",null,1,"a"]\n');
  t.equal(seen.exitCode, 0);
  t.equal((await run(fresh, '0')).stderr, '', 'no timer or job of another episode runs in it');
});

t.test('each episode draws its own Math.random numbers', async (t) => {
  const backend = await backendFor(t);
  const draws = new Set<string>();
  for (let index = 0; index < 4; index += 1) {
    const sandbox = await sandboxFor(t, backend);
    draws.add((await run(sandbox, 'Array.from({ length: 3 }, Math.random).join()')).result!);
  }
  t.equal(draws.size, 4, 'no two episodes drew the same numbers');
});

t.test('deadlines and the interrupt work in a restored episode, which keeps its state', async (t) => {
  const backend = await backendFor(t);
  const sandbox = await sandboxFor(t, backend);
  await run(sandbox, 'globalThis.kept = "yes"');
  const spun = await run(sandbox, 'while (true) {}', 300);
  t.equal(spun.exitCode, 124);
  t.equal((await run(sandbox, 'kept')).result, "'yes'");
});

t.test('a restored episode: charged, run and freed exactly as one set up from scratch', async (t) => {
  const budget = new EpisodeMemoryBudget(1024 * 1024 * 1024);
  const config = await workerConfig(budget);
  const account = new WorkerMemoryAccount(budget.cells, budget.acquireCell());
  const image = await GuestContext.makeImage(config);
  t.equal(budget.usedBytes, 0, 'the image is not an episode: it is not charged');
  t.ok(image.reseeds, "each restored context gets its own Math.random seed (QuickJS's random_state was found)");
  t.ok(image.byteLength > 0 && image.byteLength % IMAGE_CHUNK_BYTES === 0 && image.byteLength < image.memoryPages * WASM_PAGE_BYTES / 4, `the image keeps ${image.byteLength / 1024} KiB of a ${image.memoryPages * 64} KiB memory`);

  const errors: unknown[][] = [];
  const consoleError = console.error;
  // emscripten reports a failed assertion (such as JS_FreeRuntime finding a leaked object) there.
  console.error = (...args: unknown[]) => void errors.push(args);
  t.teardown(() => {
    console.error = consoleError;
  });

  const charges: Record<string, number> = {};
  for (const [label, from] of [['scratch', undefined], ['image', image]] as const) {
    const guest = await GuestContext.create(config, account, from);
    charges[label] = budget.usedBytes;
    const step = await guest.run('globalThis.o = { a: [1, 2] }; console.log(o); o.a.length', STEP_MS, noBusy);
    t.same([step.stdout, step.result, step.exitCode], ['{ a: [ 1, 2 ] }\n', '2', 0], `${label}: a step runs, the formatter prints`);
    const failed = await guest.run('Promise.reject(new RangeError("r"))', STEP_MS, noBusy);
    t.match(failed.stderr, /RangeError: r/, `${label}: an unhandled rejection is reported`);
    guest.dispose();
    t.equal(budget.usedBytes, 0, `${label}: disposing gives back every page`);
  }
  t.equal(charges['image'], charges['scratch'], `a restored episode is charged what one set up from scratch is (${(charges['image']! / 1024 / 1024).toFixed(2)} MiB)`);
  t.same(errors, [], 'no episode reported a failed assertion or an abort when freed');
});

t.test('an image restores only into a memory of its size', async (t) => {
  const budget = new EpisodeMemoryBudget(1024 * 1024 * 1024);
  const image: EpisodeImage = await GuestContext.makeImage(await workerConfig(budget));
  t.throws(() => image.restore(new WebAssembly.Memory({ initial: image.memoryPages + 1 })), RangeError);
});
