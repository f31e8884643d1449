import t, { type Test } from 'tap';
import { createQuickJsBackend, type ExecResult, type JavaScriptBackend, type JavaScriptBackendOptions, type Sandbox } from '../../sandbox/index.js';
import { INTERRUPT_ONLY_GRACE_MS } from '../fixtures/interrupt-grace.js';

// The QuickJS backend on its own: JavaScript semantics, limits, the worker threads' blast radius,
// and what guest code cannot reach. Every backend here is real: real worker threads, real QuickJS.

/**
 * Options of the backends whose steps must end in a timeout (124), not in a terminated worker: a
 * watchdog grace no working interrupt takes, however slow the machine (the file's 200 ms grace is a
 * timer of the main thread racing the worker's reply, which a loaded machine can delay past it).
 */
const INTERRUPT_ONLY: JavaScriptBackendOptions = { graceMs: INTERRUPT_ONLY_GRACE_MS };

/** A backend closed when `t` ends. */
async function backendFor(t: Test, options: JavaScriptBackendOptions = {}): Promise<JavaScriptBackend> {
  const backend = await createQuickJsBackend({ graceMs: 200, ...options });
  t.teardown(() => backend.close());
  return backend;
}

/** A sandbox closed when `t` ends. */
async function sandboxFor(t: Test, backend: JavaScriptBackend): Promise<Sandbox> {
  const sandbox = await backend.create();
  t.teardown(() => sandbox.close());
  return sandbox;
}

/** A deadline no ordinary step comes near, even behind a worker's cold start on a loaded machine. */
const STEP_MS = 30_000;
const run = (sandbox: Sandbox, code: string, timeoutMs = STEP_MS): Promise<ExecResult> => sandbox.run(code, { timeoutMs });

t.test('declarations persist between steps; the trailing value is the result', async (t) => {
  const backend = await backendFor(t);
  const js = await sandboxFor(t, backend);
  const declared = await run(js, 'var v = 1; let l = 2; const c = 3; function f() { return 4 } class K { get five() { return 5 } }');
  t.same([declared.exitCode, declared.result, declared.stdout, declared.stderr], [0, null, '', '']);
  const used = await run(js, 'v + l + c + f() + new K().five');
  t.equal(used.result, '15');
  t.equal((await run(js, "'b'")).result, "'b'");
  t.equal((await run(js, '({ a: 1, b: [1, 2] })')).result, '{ a: 1, b: [ 1, 2 ] }');
  t.equal((await run(js, 'undefined')).result, null, 'undefined is no result, as a statement');
  t.equal((await run(js, 'null')).result, 'null');
  t.equal((await run(js, 'l = 7; l')).result, '7', 'let bindings are assignable later');
  const redeclared = await run(js, 'const c = 9');
  t.equal(redeclared.exitCode, 1, 'redeclaring a const is an error, as in a script');
  t.match(redeclared.stderr, /^SyntaxError: /);
  t.equal((await run(js, 'c')).result, '3', 'and the const kept its value');
});

t.test('console goes to stdout and stderr, formatted like Node', async (t) => {
  const backend = await backendFor(t);
  const js = await sandboxFor(t, backend);
  const printed = await run(js, "console.log('hi', 1, { a: 'x' }); console.info('i'); console.debug('d'); console.error('e', [1]); console.warn('w')");
  t.equal(printed.stdout, "hi 1 { a: 'x' }\ni\nd\n");
  t.equal(printed.stderr, 'e [ 1 ]\nw\n');
  t.equal(printed.exitCode, 0);
  const formatted = await run(js, "console.log('%s is %d years', 'Bob', 42)");
  t.equal(formatted.stdout, 'Bob is 42 years\n');
});

t.test('top-level await; pending jobs and timers run before the step returns', async (t) => {
  const backend = await backendFor(t);
  const js = await sandboxFor(t, backend);
  t.equal((await run(js, 'await Promise.resolve(5)')).result, '5');
  const later = await run(js, "Promise.resolve().then(() => console.log('job')); setTimeout(() => console.log('timer'), 20); console.log('now')");
  t.equal(later.stdout, 'now\njob\ntimer\n', 'the job and the timer ran within the step, in order');
  const slept = await run(js, 'const t0 = Date.now(); await new Promise((r) => setTimeout(r, 50)); Date.now() - t0 >= 49');
  t.equal(slept.result, 'true', 'setTimeout waits real time');
  const cleared = await run(js, "const id = setTimeout(() => console.log('never'), 10); clearTimeout(id); 'done'");
  t.equal(cleared.stdout, '');
  t.equal(cleared.result, "'done'");
  const interval = await run(js, 'let n = 0; await new Promise((r) => { const i = setInterval(() => { if (++n === 3) { clearInterval(i); r(); } }, 5); }); n');
  t.equal(interval.result, '3');
  const unsettled = await run(js, 'await new Promise(() => {})');
  t.equal(unsettled.exitCode, 13, "a top-level await nothing can settle: Node's exit code 13");
  t.match(unsettled.stderr, /unsettled top-level await/);
});

t.test('process: only exit, argv and env; exit(n) ends the step, keeps the state, and cannot be caught', async (t) => {
  const backend = await backendFor(t);
  const js = await sandboxFor(t, backend);
  t.equal((await run(js, 'JSON.stringify([Object.keys(process).sort(), process.argv, process.env])')).result, `'[["argv","env","exit"],[],{}]'`);
  await run(js, 'let kept = 1');
  const caught = await run(js, "try { process.exit(3) } catch (e) { console.log('caught') } finally { console.log('finally') }\nconsole.log('after')");
  t.equal(caught.exitCode, 3);
  t.equal(caught.stdout, '', 'neither catch, finally nor the rest ran');
  const looped = await run(js, 'for (;;) { try { process.exit(4) } catch {} }');
  t.equal(looped.exitCode, 4, 'a loop around a try cannot swallow it either');
  const async = await run(js, "async function f() { await null; process.exit(5) }\nf().catch(() => console.log('caught'))");
  t.equal(async.exitCode, 5, 'nor a .catch() of an async function');
  t.equal(async.stdout, '');
  const timer = await run(js, "setTimeout(() => process.exit(6), 5); setTimeout(() => console.log('never'), 50)");
  t.equal(timer.exitCode, 6, 'exit from a timer');
  t.equal(timer.stdout, '', 'the later timer died with the step');
  t.equal((await run(js, 'process.exit()')).exitCode, 0);
  t.equal((await run(js, 'kept')).result, '1', 'every exit kept the state');
  const bad = await run(js, "process.exit('x')");
  t.equal(bad.exitCode, 1);
  t.match(bad.stderr, /^TypeError: The "code" argument must be of type number/);
});

t.test('exit codes: uncaught errors, syntax errors and unhandled rejections are 1 with Name: message and the stack', async (t) => {
  const backend = await backendFor(t);
  const js = await sandboxFor(t, backend);
  const thrown = await run(js, "function boom() { throw new TypeError('bad') }\nboom()");
  t.equal(thrown.exitCode, 1);
  t.match(thrown.stderr, /^TypeError: bad\n    at boom \(step-1\.js:1:\d+\)\n/);
  const reference = await run(js, 'missing');
  t.match(reference.stderr, /^ReferenceError: missing is not defined\n/);
  const syntax = await run(js, 'let x = = 1');
  t.equal(syntax.exitCode, 1);
  t.match(syntax.stderr, /^SyntaxError: /);
  const value = await run(js, "throw 'plain'");
  t.equal(value.exitCode, 1);
  t.equal(value.stderr, "Uncaught 'plain'\n");
  const rejected = await run(js, "Promise.reject(new Error('nope')); 'went on'");
  t.equal(rejected.exitCode, 1, 'an unhandled rejection fails the step');
  t.match(rejected.stderr, /^Error: nope\n/);
  t.equal(rejected.result, "'went on'");
  const handled = await run(js, "await Promise.reject(new Error('x')).catch(() => 'handled')");
  t.equal(handled.exitCode, 0);
  t.equal(handled.result, "'handled'");
  const made = await run(js, "new Promise((_, reject) => reject(new RangeError('late'))); 1");
  t.equal(made.exitCode, 1);
  t.match(made.stderr, /^RangeError: late\n/);
  const native = await run(js, "async function g() { throw new Error('from an async function') }\ng(); 'went on'");
  t.equal(native.exitCode, 1, "an async function's rejection nobody handles fails the step, as in Node");
  t.match(native.stderr, /^Error: from an async function\n/);
  const iife = await run(js, "(async () => { await null; throw new TypeError('later') })()");
  t.equal(iife.exitCode, 1);
  t.match(iife.stderr, /^TypeError: later\n/);
  const caughtAsync = await run(js, "async function h() { throw new Error('x') }\nawait h().catch((e) => e.message)");
  t.equal(caughtAsync.exitCode, 0, 'a handled one is fine');
  t.equal(caughtAsync.result, "'x'");
  const tryAwait = await run(js, "async function k() { throw new Error('y') }\ntry { await k() } catch (e) { 'caught ' + e.message }");
  t.equal(tryAwait.result, "'caught y'");
  t.equal(tryAwait.exitCode, 0);
  const method = await run(js, "class S { async m() { return super.constructor === Object } }\nawait new S().m()");
  t.equal(method.result, 'true', 'super and this still work in rewritten async methods');
  const awaited = await run(js, "await (async () => { throw new Error('inside') })()");
  t.equal(awaited.exitCode, 1, 'a rejected top-level await is an uncaught error');
  t.match(awaited.stderr, /^Error: inside\n/);
  t.equal((await run(js, '1 + 1')).exitCode, 0, 'each step starts clean');
});

t.test('limits: a busy loop times out (124) with the state kept; deep recursion is a RangeError', async (t) => {
  const backend = await backendFor(t, INTERRUPT_ONLY);
  const js = await sandboxFor(t, backend);
  await run(js, 'let kept = 5');
  const busy = await run(js, 'while (true) {}', 300);
  t.equal(busy.exitCode, 124);
  t.equal(busy.stateLost, false);
  t.match(busy.stderr, /TimeoutError: the step ran past its limit of 0\.3 s and was interrupted; the state is kept\./);
  const swallowed = await run(js, 'for (;;) { try { while (true) {} } catch (e) {} }', 300);
  t.equal(swallowed.exitCode, 124, "QuickJS's interrupt cannot be caught");
  t.equal((await run(js, 'kept')).result, '5');
  for (const [name, code] of [
    ['plain recursion', 'function r() { return r() + 1 } r()'],
    ['recursion through a getter', "const o = { get x() { return this.x } }; o.x"],
    ['recursion through toString', 'const s = { toString() { return `${s}` } }; String(s)'],
    ['recursion through Array.prototype.map', 'function m(a) { return a.map(m) } const a = [0]; a[0] = a; m(a)'],
    ['recursion through a Proxy trap', 'const p = new Proxy({}, { get(t, k, r) { return r[k] } }); p.x'],
    // Not a deep structure: QuickJS's JSON.stringify checks for cycles by a linear scan, so nesting
    // 10^4 deep takes seconds of uninterruptible work before any overflow (a worker stall, 137).
    ['recursion through JSON.stringify and toJSON', 'const j = { toJSON() { return JSON.stringify(j) } }; JSON.stringify(j)'],
  ] as const) {
    const bombed = await run(js, code);
    t.equal(bombed.exitCode, 1, `${name}: an error in the guest`);
    t.match(bombed.stderr, /^(RangeError|InternalError): /, `${name}: ${bombed.stderr.split('\n')[0]}`);
    t.equal(bombed.stateLost, false);
  }
  t.equal((await run(js, 'try { (function r() { r() })() } catch (e) { e instanceof RangeError }')).result, 'true', 'catchable as a RangeError, as in Node');
  t.equal((await run(js, 'kept')).result, '5', 'the context stays usable after every stack bomb');
});

t.test('memory: the per-episode cap turns bombs into guest errors; the context stays usable or is replaced (137)', async (t) => {
  const backend = await backendFor(t, { memoryLimitBytes: 64 * 1024 * 1024 });
  const js = await sandboxFor(t, backend);
  await run(js, 'let kept = 7');
  for (const [name, code] of [
    ['an array of strings', "const big = []; while (true) big.push('x'.repeat(1e5))"],
    ['one huge string', "let s = 'x'; while (true) s += s"],
    ['an ArrayBuffer', 'new ArrayBuffer(2 ** 30)'],
    ['a typed array', 'new Float64Array(2 ** 27)'],
  ] as const) {
    const bombed = await run(js, code);
    t.not(bombed.exitCode, 0, `${name}: refused`);
    if (bombed.exitCode === 137) {
      t.equal(bombed.stateLost, true, `${name}: the context had to go`);
      t.match(bombed.stderr, /its state is lost and the next step starts in a fresh sandbox/);
      break;
    }
    t.equal(bombed.exitCode, 1, `${name}: ${bombed.stderr.split('\n')[0]}`);
    t.match(bombed.stderr, /^(InternalError: (out of memory|string too long)|RangeError: )/, `${name}: an out-of-memory error in the guest`);
    t.equal((await run(js, 'kept')).result, '7', `${name}: the state survived`);
  }
  const other = await sandboxFor(t, backend);
  t.equal((await run(other, '6 * 7')).result, '42', 'another episode is untouched');
});

t.test('memory: a heap held at the cap (a Map grown until it failed, still referenced) is replaced (137), not left failing every step', async (t) => {
  const backend = await backendFor(t, { memoryLimitBytes: 64 * 1024 * 1024 });
  const js = await sandboxFor(t, backend);
  const bombed = await run(js, 'var kept = 1; const m = new Map(); for (let i = 0; ; i++) m.set(i, { i })');
  t.equal(bombed.exitCode, 137, bombed.stderr);
  t.equal(bombed.stateLost, true);
  t.match(bombed.stderr, /envbox: the step ran out of memory and its context cannot run any more; its state is lost/);
  const other = await sandboxFor(t, backend);
  t.equal((await run(other, '6 * 7')).result, '42', 'another episode is untouched');
});

t.test('output is capped per stream; the cap is reported', async (t) => {
  const backend = await backendFor(t, { maxOutputBytes: 1024 });
  const js = await sandboxFor(t, backend);
  const flood = await run(js, "for (let i = 0; i < 1e4; i++) console.log('line ' + i); 'done'");
  t.equal(flood.exitCode, 0);
  t.equal(flood.truncated, true);
  t.ok(Buffer.byteLength(flood.stdout) <= 1024, `stdout capped: ${Buffer.byteLength(flood.stdout)} bytes`);
  t.equal(flood.result, "'done'");
  const unicode = await run(js, "console.log('é'.repeat(2000))");
  t.notMatch(unicode.stdout, /\uFFFD/, 'cut on a character boundary');
});

t.test('a native operation that ignores the interrupt: its worker is terminated, every episode on it is told (137), others go on', async (t) => {
  // One worker per episode here would hide the blast radius: pack two episodes on one thread.
  const backend = await backendFor(t, { episodesPerWorker: 2, spreadWorkers: 1 });
  const stalled = await sandboxFor(t, backend);
  const neighbour = await sandboxFor(t, backend);
  const elsewhere = await sandboxFor(t, backend);
  t.equal(backend.workerCount, 2, 'two episodes share a worker, the third has its own');
  await run(neighbour, 'let mine = 1');
  await run(elsewhere, 'let mine = 2');
  let hostTicks = 0;
  let firstTick: () => void = () => undefined;
  const ticked = new Promise<void>((resolve) => (firstTick = resolve));
  const ticker = setInterval(() => {
    hostTicks += 1;
    firstTick();
  }, 10);
  t.teardown(() => clearInterval(ticker));
  // 2 s: the host's first tick (10 ms) must come while the stall still runs, even on a loaded machine.
  const stalling = run(stalled, "const a = []; a.length = 2 ** 32 - 1; a.includes(1)", 2_000);
  // The server's event loop is never blocked by guest code: a host request is answered while the
  // guest stalls its own thread.
  await ticked;
  const during = hostTicks;
  t.ok(during >= 1, `the host's timers kept running during the stall (${during} ticks)`);
  const done = await Promise.race([stalling, new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')))]);
  t.equal(done, 'pending', 'the stalled step was still running when the host answered');
  const killed = await stalling;
  t.equal(killed.exitCode, 137);
  t.equal(killed.stateLost, true);
  t.match(killed.stderr, /held it \d+ ms past its deadline/);
  t.equal(stalled.alive, false);
  t.equal(backend.terminatedWorkers, 1);
  const told = await run(neighbour, 'mine');
  t.equal(told.exitCode, 137, 'the episode that shared the worker is told its state was lost');
  t.equal(told.stateLost, true);
  t.equal((await run(elsewhere, 'mine')).result, '2', 'the episode on another worker kept its state');
  const fresh = await sandboxFor(t, backend);
  t.equal((await run(fresh, '1 + 1')).result, '2', 'new episodes start on a live worker');
});

t.test('a new episode whose worker is terminated while it opens is opened on another worker', async (t) => {
  const backend = await backendFor(t, { episodesPerWorker: 2, spreadWorkers: 1 });
  const stalled = await sandboxFor(t, backend);
  const stalling = run(stalled, "const a = []; a.length = 2 ** 32 - 1; a.includes(1)", 300);
  // Placed on the stalling worker (it has room), its open is queued behind the stall, and the
  // watchdog terminates that worker before the open is answered.
  const opening = backend.create();
  t.equal((await stalling).exitCode, 137, 'the stall cost its own episode its state');
  const opened = await opening;
  t.teardown(() => opened.close());
  t.equal(backend.terminatedWorkers, 1, 'one worker was terminated');
  t.equal((await run(opened, '1 + 1')).result, '2', 'the new episode opened on a live worker and runs');
});

t.test("an episode's open waiting behind another episode's long step does not count as a broken worker", async (t) => {
  // The open timeout counts from the worker's load (a cold start from TypeScript source takes seconds).
  const backend = await backendFor(t, { ...INTERRUPT_ONLY, episodesPerWorker: 2, spreadWorkers: 1, openTimeoutMs: 1_500 });
  const busy = await sandboxFor(t, backend);
  await run(busy, 'let kept = 7');
  // Interruptible, so the worker answers at the step's deadline (4 s), long after the open timeout.
  const looping = run(busy, 'while (true) {}', 4_000);
  const opened = await backend.create();
  t.teardown(() => opened.close());
  t.equal((await looping).exitCode, 124, 'the long step timed out as usual');
  t.equal(backend.terminatedWorkers, 0, 'no worker was terminated');
  t.equal((await run(busy, 'kept')).result, '7', 'the busy episode kept its state');
  t.equal((await run(opened, '2 + 2')).result, '4', 'the queued episode opened and runs');
});

t.test('join of a huge array (native, uninterruptible) is also cut off by terminating its worker', async (t) => {
  const backend = await backendFor(t);
  const js = await sandboxFor(t, backend);
  const joined = await run(js, "Array(1e8).join('x').length", 200);
  // Either the interrupt got it (124) or, inside the native join, only the worker's end did (137).
  t.ok(joined.exitCode === 137 || joined.exitCode === 124, `stopped: ${joined.exitCode}`);
  if (joined.exitCode === 137) t.equal(joined.stateLost, true);
});

t.test('placement: workers spread up to the CPU count, then pack up to episodesPerWorker', async (t) => {
  const backend = await backendFor(t, { episodesPerWorker: 3, spreadWorkers: 2 });
  const sandboxes: Sandbox[] = [];
  for (let i = 0; i < 7; i++) sandboxes.push(await sandboxFor(t, backend));
  t.equal(backend.episodeCount, 7);
  t.equal(backend.workerCount, 3, '7 episodes at most 3 per worker: 3 workers');
  const results = await Promise.all(sandboxes.map((sandbox, i) => run(sandbox, `${i} * 2`)));
  t.same(results.map((r) => r.result), ['0', '2', '4', '6', '8', '10', '12']);
  for (const sandbox of sandboxes) await sandbox.close();
  t.equal(backend.episodeCount, 0);
  t.equal(backend.workerCount, 2, 'emptied workers beyond the spread are stopped');
  t.equal(backend.terminatedWorkers, 0, 'retiring an emptied worker is no termination of a stalled one');
});

t.test('what the guest sees: no require, host process, fetch, files, host timers or host objects', async (t) => {
  const backend = await backendFor(t);
  const js = await sandboxFor(t, backend);
  const globals = await run(js, 'Object.getOwnPropertyNames(globalThis).filter((n) => !/^[A-Z]/.test(n)).sort().join(" ")');
  t.equal(
    globals.result,
    "'__envbox_async clearImmediate clearInterval clearTimeout console decodeURI decodeURIComponent encodeURI encodeURIComponent escape eval globalThis isFinite isNaN parseFloat parseInt process queueMicrotask setImmediate setInterval setTimeout undefined unescape'",
  );
  for (const name of ['require', 'module', 'exports', 'fetch', 'Buffer', 'WebAssembly', 'Deno', 'Bun', 'XMLHttpRequest', 'importScripts', 'postMessage', '__dirname', 'std', 'os']) {
    t.equal((await run(js, `typeof ${name}`)).result, "'undefined'", `no ${name}`);
  }
  const dynamicImport = await run(js, "await import('node:fs')");
  t.equal(dynamicImport.exitCode, 1, 'no module loader: import() fails');
  const viaConstructor = await run(js, "console.log.constructor('return typeof require + typeof process.binding + typeof globalThis.fetch')()");
  t.equal(viaConstructor.result, "'undefinedundefinedundefined'", "a function's constructor reaches the guest realm only");
  const viaPromise = await run(js, "Promise.resolve().constructor.constructor('return globalThis')() === globalThis");
  t.equal(viaPromise.result, 'true', 'Promise constructor chains stay in the guest');
  const viaAsyncGenerator = await run(
    js,
    "const AsyncGen = (async function* () {}).constructor; const g = new AsyncGen('yield typeof require'); (await g().next()).value",
  );
  t.equal(viaAsyncGenerator.result, "'undefined'", 'as do async generator constructors');
  t.equal((await run(js, 'typeof process.binding + typeof process.mainModule + typeof process.pid')).result, "'undefinedundefinedundefined'");
});

t.test('the console bridge passes strings only: hostile arguments cannot reach the host', async (t) => {
  const backend = await backendFor(t, INTERRUPT_ONLY);
  const js = await sandboxFor(t, backend);
  const hostile = await run(
    js,
    [
      "let touched = [];",
      "const getter = { get secret() { touched.push('getter'); return 1 } };",
      "const toJSON = { toJSON() { touched.push('toJSON'); return {} } };",
      "const proto = JSON.parse('{\"__proto__\": {\"polluted\": true}}');",
      "const prim = { [Symbol.toPrimitive]() { touched.push('toPrimitive'); return 'p' } };",
      'console.log(getter, toJSON, proto, prim);',
      'touched.join()',
    ].join('\n'),
  );
  t.equal(hostile.exitCode, 0, hostile.stderr);
  t.equal(hostile.result, "''", 'formatting invoked no getter, toJSON or toPrimitive');
  t.match(hostile.stdout, /\[Getter\]/);
  t.equal(({} as { polluted?: boolean }).polluted, undefined, "the host's Object.prototype is untouched");
  const replaced = await run(js, "console.log = () => { throw new Error('mine') }; Object.prototype.toString = null; Array.prototype.join = null; JSON.stringify = null; console.error('still', [1, 2])");
  t.equal(replaced.exitCode, 0, 'tampering with built-ins does not break the bridge');
  t.equal(replaced.stderr, 'still [ 1, 2 ]\n');
  const thrower = await run(js, "throw { get name() { throw 1 }, get message() { throw 2 }, get stack() { while (true) {} } }", 1_000);
  t.ok([1, 124].includes(thrower.exitCode), `a hostile thrown object still gives a report (${thrower.exitCode})`);
  t.equal(thrower.stateLost, false);
  const exitValueOf = await run(js, 'process.exit({ valueOf() { while (true) {} } })', 500);
  t.equal(exitValueOf.exitCode, 1, 'exit with an object is a TypeError, no valueOf is called');
  t.match(exitValueOf.stderr, /^TypeError: /);
});

t.test('the host bridge is out of reach: a walk of everything reachable from the guest finds no host function', async (t) => {
  const backend = await backendFor(t);
  const js = await sandboxFor(t, backend);
  // Walk globalThis: every own property (values, getters, setters), every prototype, every
  // function's constructor. Host functions made by the bridge print as native code named after
  // what they do (write, exit, promiseState, inspect, format, formatError).
  const walked = await run(
    js,
    `const seen = new Set(); const queue = [globalThis]; const found = [];
    const bridgeNames = new Set(['write', 'exit', 'promiseState', 'inspect', 'format', 'formatError']);
    while (queue.length > 0) {
      const value = queue.pop();
      if ((typeof value !== 'object' && typeof value !== 'function') || value === null || seen.has(value)) continue;
      seen.add(value);
      if (typeof value === 'function' && bridgeNames.has(value.name) && /native code/.test(Function.prototype.toString.call(value))) found.push(value.name);
      queue.push(Object.getPrototypeOf(value));
      for (const key of Reflect.ownKeys(value)) {
        const descriptor = Object.getOwnPropertyDescriptor(value, key);
        if (descriptor === undefined) continue;
        queue.push(descriptor.value, descriptor.get, descriptor.set);
      }
    }
    [seen.size > 500, found]`,
    10_000,
  );
  t.equal(walked.exitCode, 0, walked.stderr);
  t.equal(walked.result, '[ true, [] ]', 'hundreds of objects walked, no bridge function among them');
  const afterPrint = await run(js, "console.log({ a: 1 }, [new Map([[1, 2]])]); Object.getOwnPropertyNames(globalThis).filter((n) => /envbox|bridge|formatter/i.test(n))");
  t.equal(afterPrint.result, "[ '__envbox_async' ]", 'loading the formatter added nothing to the guest realm but the async tracker');
});

t.test('hostile values given to console: traps that throw or spin, prototype tricks', async (t) => {
  const backend = await backendFor(t, INTERRUPT_ONLY);
  const js = await sandboxFor(t, backend);
  const throwing = await run(js, "console.log(new Proxy({}, { ownKeys() { throw new Error('trap') } })); 'after'");
  t.equal(throwing.exitCode, 0, 'a throwing trap does not fail the step');
  t.equal(throwing.result, "'after'");
  const spinning = await run(js, 'console.log(new Proxy({}, { ownKeys() { for (;;) {} } }))', 500);
  t.equal(spinning.exitCode, 124, 'a spinning trap is cut by the deadline');
  const nullProto = await run(js, "const o = Object.create(null); o.x = 1; Object.setPrototypeOf(Array.prototype, null); console.log(o, [1, 2]); 'ok'");
  t.equal(nullProto.exitCode, 0, nullProto.stderr);
  t.equal(nullProto.stdout, '[Object: null prototype] { x: 1 } [ 1, 2 ]\n');
  const constructorGetter = await run(js, "const evil = Object.create({ get constructor() { throw new Error('no') } }); evil.x = 1;\nconsole.log(evil); 'ok'");
  t.equal(constructorGetter.exitCode, 0, constructorGetter.stderr);
  const thenable = await run(js, "await { then(resolve) { resolve(typeof require + typeof process.binding) } }");
  t.equal(thenable.result, "'undefinedundefined'", 'a thenable resolves inside the guest only');
  const asyncIterator = await run(js, "const it = { [Symbol.asyncIterator]() { let n = 0; return { next: async () => ({ done: n > 2, value: n++ }) } } };\nconst got = []; for await (const v of it) got.push(v); got");
  t.equal(asyncIterator.result, '[ 0, 1, 2 ]');
});
