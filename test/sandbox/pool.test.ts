import { spawn } from 'node:child_process';
import { once } from 'node:events';
import t, { type Test } from 'tap';
import {
  createProcessBackend,
  DEFAULT_POOL_CONCURRENCY,
  WarmPool,
  type Sandbox,
  type SandboxFactory,
} from '../../sandbox/index.js';
import { testNoSandboxOutlivesClose, trackSpawnedProcesses } from '../fixtures/sandbox-processes.js';

/** Every child process this file starts; the last test checks no sandbox process outlived its close(). */
const spawned = trackSpawnedProcesses();

const backend = await createProcessBackend();

/**
 * How long the child process of the whenFull() test may take before it is taken for hung: a hang
 * guard, far beyond its run on a loaded machine (it loads the TypeScript sources and starts two
 * sandboxes: several seconds), so only a spin trips it.
 */
const HANG_DEADLINE_MS = 120_000;

/**
 * The real backend, counted: every start goes through `backend.create()`; nothing is faked. Tests
 * wait on `settled(n)` (the n-th start has settled and the pool has seen it) instead of sleeping.
 */
class CountingFactory implements SandboxFactory {
  readonly backend = backend.backend;
  readonly isolation = backend.isolation;
  /** Every sandbox started, in order. */
  readonly sandboxes: Sandbox[] = [];
  /** Why starts failed (the pool hands background failures to onError, silently by default). */
  readonly failures: string[] = [];
  started = 0;
  /** Starts settled and seen by the pool. */
  handled = 0;
  inFlight = 0;
  maxInFlight = 0;
  /** Called at each start, with the pool's counts as the pool sees them then. */
  onStart: (() => void) | undefined;
  readonly #waiters: { count: number; resolve: () => void }[] = [];

  async create(options?: { signal?: AbortSignal }): Promise<Sandbox> {
    this.started += 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.onStart?.();
    try {
      const sandbox = await backend.create(options);
      this.sandboxes.push(sandbox);
      return sandbox;
    } catch (error) {
      this.failures.push((error as Error).message);
      throw error;
    } finally {
      this.inFlight -= 1;
      // The pool reacts to the start in a then() of this promise: let that run before telling.
      setImmediate(() => {
        this.handled += 1;
        this.#wake();
      });
    }
  }

  /** Resolves once `count` starts have settled and the pool has handled them. */
  settled(count: number): Promise<void> {
    return new Promise((resolve) => {
      this.#waiters.push({ count, resolve });
      this.#wake();
    });
  }

  #wake(): void {
    for (const waiter of this.#waiters.filter((w) => this.handled >= w.count)) {
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }
}

/** A counted factory and a pool over it; the pool and every sandbox it started are closed when `t` ends. */
function poolOf(t: Test, size: number): { pool: WarmPool; factory: CountingFactory } {
  const factory = new CountingFactory();
  t.teardown(() => Promise.all(factory.sandboxes.map((sandbox) => sandbox.close())));
  const pool = new WarmPool(factory, { size });
  t.teardown(() => pool.close());
  return { pool, factory };
}

/** Whether `promise` is already settled: listed first, a settled promise wins the race against a resolved one. */
function isSettled(promise: Promise<unknown>): Promise<boolean> {
  const pending = Symbol('pending');
  return Promise.race([promise, Promise.resolve(pending)]).then(
    (winner) => winner !== pending,
    () => true,
  );
}

t.test('the pool fills to its size and no further', async (t) => {
  const { pool, factory } = poolOf(t, 2);
  t.equal(pool.size, 2);
  t.equal(pool.startingCount, 2, 'both slots start at once (concurrency 2)');
  t.equal(pool.readyCount, 0);
  await factory.settled(2);
  t.same(factory.failures, [], 'every start succeeded');
  t.equal(pool.readyCount, 2, 'full');
  t.equal(pool.startingCount, 0, 'and nothing more is started');
  t.equal(factory.started, 2);
  // Only on a full pool: on a partly full one whenFull() spins forever (see the whenFull() test).
  if (pool.readyCount === pool.size) await pool.whenFull();
  t.equal(pool.readyCount, 2, 'whenFull() on a full pool resolves and changes nothing');
  for (const sandbox of factory.sandboxes) t.equal(sandbox.alive, true);
});

t.test('acquire hands a ready sandbox over at once and the pool refills', async (t) => {
  const { pool, factory } = poolOf(t, 2);
  await factory.settled(2);
  t.same(factory.failures, [], 'every start succeeded');
  const acquiring = pool.acquire();
  t.equal(await isSettled(acquiring), true, 'a ready sandbox is handed over without waiting for a start');
  t.equal(pool.readyCount, 1);
  t.equal(pool.startingCount, 1, 'a refill started');
  const sandbox = await acquiring;
  t.teardown(() => sandbox.close());
  t.equal(sandbox.alive, true);
  t.equal((await sandbox.run('6 * 7', { timeoutMs: 30_000 })).result, '42', 'it runs code');
  await factory.settled(3);
  t.equal(pool.readyCount, 2, 'back to full');
  t.equal(pool.startingCount, 0);
  t.equal(factory.started, 3, 'exactly one refill');
  t.not(factory.sandboxes.indexOf(sandbox), -1);
});

t.test('the pool never holds more than its size plus the waiting acquires', async (t) => {
  const { pool, factory } = poolOf(t, 2);
  let waiting = 0;
  const violations: string[] = [];
  factory.onStart = () => {
    const held = pool.readyCount + pool.startingCount;
    if (held > pool.size + waiting) violations.push(`${pool.readyCount} ready + ${pool.startingCount} starting > ${pool.size} + ${waiting} waiting`);
  };
  const acquires = Array.from({ length: 5 }, () => {
    waiting += 1;
    return pool.acquire().then((sandbox) => {
      waiting -= 1;
      return sandbox;
    });
  });
  const sandboxes = await Promise.all(acquires);
  t.teardown(() => Promise.all(sandboxes.map((sandbox) => sandbox.close())));
  t.equal(new Set(sandboxes).size, 5, 'five distinct sandboxes');
  for (const sandbox of sandboxes) t.equal(sandbox.alive, true);
  await factory.settled(7);
  t.same(factory.failures, [], 'every start succeeded');
  t.same(violations, [], 'every start stayed within size + waiters');
  t.ok(factory.maxInFlight <= DEFAULT_POOL_CONCURRENCY, `at most ${DEFAULT_POOL_CONCURRENCY} starts at once (saw ${factory.maxInFlight})`);
  t.equal(factory.started, 7, 'five for the acquires, two to refill');
  t.equal(pool.readyCount, 2, 'and the pool is full again, not over-full');
  t.equal(pool.startingCount, 0);
});

t.test('size 0 keeps nothing ready and still hands out sandboxes, started on demand', async (t) => {
  const { pool, factory } = poolOf(t, 0);
  t.equal(pool.startingCount, 0, 'nothing is started ahead');
  const sandbox = await pool.acquire();
  t.equal(sandbox.alive, true);
  t.equal((await sandbox.run('1 + 1', { timeoutMs: 30_000 })).result, '2');
  await factory.settled(1);
  t.equal(factory.started, 1, 'one start for one acquire');
  t.equal(pool.readyCount, 0);
  t.equal(pool.startingCount, 0, 'and no refill');
});

t.test('acquire skips sandboxes that died while waiting in the pool', async (t) => {
  const { pool, factory } = poolOf(t, 2);
  await factory.settled(2);
  t.same(factory.failures, [], 'every start succeeded');
  const [first, second] = factory.sandboxes;
  await first!.close();
  const sandbox = await pool.acquire();
  t.equal(sandbox, second, 'the dead one is passed over');
  t.equal(sandbox.alive, true);
});

t.test('a ready sandbox that died is not counted as ready, and is replaced', async (t) => {
  const { pool, factory } = poolOf(t, 2);
  await factory.settled(2);
  const [first, second] = factory.sandboxes;
  await first!.close();
  t.equal(pool.readyCount, 1, 'the dead one no longer counts');
  await pool.whenFull();
  t.equal(pool.readyCount, 2, 'and a replacement filled its slot');
  t.equal(factory.sandboxes.length, 3, 'started for it');
  const handed = [await pool.acquire(), await pool.acquire()];
  t.teardown(() => Promise.all(handed.map((sandbox) => sandbox.close())));
  t.ok(handed.includes(second!), 'the live one is still handed out');
  t.ok(handed.every((sandbox) => sandbox.alive), 'and only live ones');
});

t.test('close() closes the ready sandboxes, rejects waiters and later acquires', async (t) => {
  const { pool, factory } = poolOf(t, 2);
  await factory.settled(2);
  t.same(factory.failures, [], 'every start succeeded');
  const ready = [...factory.sandboxes];
  await pool.close();
  for (const sandbox of ready) t.equal(sandbox.alive, false, 'a ready sandbox is closed');
  t.equal(pool.readyCount, 0);
  await t.rejects(pool.acquire(), { message: 'the sandbox pool is closed' });
  await pool.close();
  t.pass('close() is idempotent');

  const { pool: empty, factory: lazy } = poolOf(t, 0);
  const waiter = empty.acquire();
  t.equal(empty.startingCount, 1);
  await empty.close();
  await t.rejects(waiter, { message: 'the sandbox pool is closed' }, 'a waiting acquire is rejected');
  await lazy.settled(1);
  t.equal(lazy.sandboxes.length, 1, 'the start in flight finished');
  t.equal(lazy.sandboxes[0]!.alive, false, 'and its sandbox was closed, not leaked');
});

t.test('acquire on a closed pool is SANDBOX_UNAVAILABLE (503); asyncDispose closes the pool', async (t) => {
  const { pool, factory } = poolOf(t, 1);
  await factory.settled(1);
  const waiting = poolOf(t, 0).pool;
  const unavailable = { name: 'SandboxUnavailableError', code: 'SANDBOX_UNAVAILABLE', status: 503, expose: true };
  // Watched from the start: the waiter is rejected while close() runs.
  const waiter = t.rejects(waiting.acquire(), unavailable, 'an acquire that was waiting when its pool closed');
  await Promise.all([pool[Symbol.asyncDispose](), waiting.close()]);
  t.equal(factory.sandboxes[0]!.alive, false, 'its ready sandbox is closed');
  await t.rejects(pool.acquire(), unavailable, 'an acquire after close');
  await waiter;
});

t.test('a failing start rejects the waiting acquire and is reported in the background', async (t) => {
  const broken = await createProcessBackend({ pythonPath: '/nonexistent/python3' });
  const errors: unknown[] = [];
  let reported!: () => void;
  const firstReport = new Promise<void>((resolve) => (reported = resolve));
  const background = new WarmPool(broken, {
    size: 1,
    onError: (error) => {
      errors.push(error);
      reported();
    },
  });
  t.teardown(() => background.close());
  await firstReport;
  t.equal(errors.length, 1, 'the background start failure went to onError');
  t.match(errors[0], { code: 'SANDBOX_UNAVAILABLE', status: 503 });
  t.equal(background.startingCount, 0, 'and it is not retried in a loop');
  await t.rejects(background.acquire(), { code: 'SANDBOX_UNAVAILABLE' }, 'the next acquire retries, and fails the same way');
  t.equal(errors.length, 1, "an acquire's failure goes to the acquire, not to onError");

  const waiting = new WarmPool(broken, { size: 0 });
  t.teardown(() => waiting.close());
  await t.rejects(waiting.acquire(), { code: 'SANDBOX_UNAVAILABLE', status: 503 });
});

t.test('whenFull() on a new pool resolves once every slot is ready', async (t) => {
  // In a child process: if whenFull() spins without yielding, nothing in this process could stop it.
  const sandboxIndex = new URL('../../sandbox/index.js', import.meta.url).href;
  const script = [
    `const { createProcessBackend, WarmPool } = await import(${JSON.stringify(sandboxIndex)});`,
    'const pool = new WarmPool(await createProcessBackend(), { size: 2 });',
    'await pool.whenFull();',
    'process.stdout.write(JSON.stringify({ ready: pool.readyCount, starting: pool.startingCount }));',
    'await pool.close();',
    'process.exit(0);',
  ].join('\n');
  const loader = process.execArgv.filter((arg) => arg.includes('@tapjs/typescript'));
  const child = spawn(process.execPath, [...loader, '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: HANG_DEADLINE_MS,
    killSignal: 'SIGKILL',
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += String(chunk)));
  child.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)));
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  t.equal(signal, null, `whenFull() returned (the child was not killed after ${HANG_DEADLINE_MS} ms); stderr: ${stderr.slice(-500)}`);
  t.equal(code, 0);
  t.same(stdout === '' ? undefined : JSON.parse(stdout), { ready: 2, starting: 0 });
});

testNoSandboxOutlivesClose(t, spawned);
