import { CANARY_NAME, type HostileCase, type Outcome } from './corpus.js';

// The JavaScript half of the escape corpus (issue 8): hostile programs for QuickJS episodes, each
// with the exact outcome that shows the attack failed the safe way. Outcomes were measured on the
// live server, then judged: a guest error, a timeout (124) or a lost episode (137) is safe; a host
// function, a host value, a polluted next episode or a harmed server is not.


/** QuickJS's deadline message for a step of `seconds`. */
const timedOut = (seconds: number): Outcome => ({
  exit_code: 124,
  stdout: '',
  stderr: `TimeoutError: the step ran past its limit of ${seconds} s and was interrupted; the state is kept.\n`,
  state_lost: false,
});

/** An uncaught error: exit 1, its first line exact, a stack after it. */
const uncaught = (firstLine: string, stdout = ''): Outcome => ({
  exit_code: 1,
  stdout,
  stderr: new RegExp(`^${firstLine.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n(    at .*\\n)*$`),
  state_lost: false,
});

/** What the watchdog's termination of a stalled worker reports to the episode that stalled it. */
const WORKER_TERMINATED =
  /^envbox: the sandbox was destroyed: a step of a JavaScript episode on the same worker thread held it \d+ ms past its deadline \(native operations such as a catastrophic regex cannot be interrupted\); its state is lost and the next step starts in a fresh sandbox\.\n$/;

/** A fresh episode: none of the built-ins a hostile one tampered with is changed. */
const PRISTINE_CHECK = [
  "const checks = [({}).polluted, [].polluted, JSON.parse('[1]')[0], typeof Promise.prototype.then, Object.prototype.toString.call([]),",
  "  typeof console.log, typeof setTimeout, typeof process.exit, Array.prototype[Symbol.iterator] === Array.prototype.values];",
  'console.log(...checks)',
].join('\n');
const PRISTINE: Outcome = { exit_code: 0, stdout: 'undefined undefined 1 function [object Array] function function function true\n', stderr: '' };

/** Hostile programs that never hold their worker past the deadline: safe beside any bystander. */
export const javascriptCases: readonly HostileCase[] = [
  // ---- host reach ---------------------------------------------------------------------------
  {
    name: 'require() of a host module',
    steps: [{ code: "require('child_process').execSync('id')", expect: uncaught('ReferenceError: require is not defined') }],
  },
  {
    name: "dynamic import('fs') and import('node:child_process')",
    steps: [
      { code: "await import('fs')", expect: { exit_code: 1, stdout: '', stderr: "ReferenceError: could not load module 'fs'\n" } },
      { code: "await import('node:child_process')", expect: { exit_code: 1, stdout: '', stderr: "ReferenceError: could not load module 'node:child_process'\n" } },
    ],
  },
  {
    name: 'process.binding, process.mainModule, process.env: the guest process is a frozen stub',
    steps: [
      {
        code: [
          'console.log(typeof process.binding, typeof process.mainModule, typeof process.dlopen, typeof process.pid, Object.isFrozen(process));',
          'console.log(Object.getOwnPropertyNames(process).join(), JSON.stringify(process.env), Object.keys(process.env).length);',
          `console.log(typeof process.env.${CANARY_NAME}, Reflect.ownKeys(process.env).length, Object.getPrototypeOf(process.env));`,
          "process.env.PATH = '/evil'; delete process.exit; process.binding = () => 'mine';",
          '[process.env.PATH, typeof process.exit, typeof process.binding]',
        ].join('\n'),
        expect: {
          exit_code: 0,
          stdout: 'undefined undefined undefined undefined true\nexit,argv,env {} 0\nundefined 0 null\n',
          stderr: '',
          result: "[ undefined, 'function', 'undefined' ]",
        },
      },
      { code: 'process.binding("spawn_sync")', expect: uncaught('TypeError: not a function') },
    ],
  },
  {
    name: 'network and code-loading globals: fetch, XMLHttpRequest, WebSocket, WebAssembly, Worker, Atomics',
    steps: [
      {
        code: "['fetch', 'XMLHttpRequest', 'WebSocket', 'WebAssembly', 'Worker', 'Atomics', 'Buffer', 'navigator', 'importScripts', 'std', 'os'].map((n) => typeof globalThis[n]).join()",
        expect: { exit_code: 0, stdout: '', stderr: '', result: "'undefined,undefined,undefined,undefined,undefined,undefined,undefined,undefined,undefined,undefined,undefined'" },
      },
      { code: "await fetch('http://169.254.169.254/latest/meta-data/')", expect: uncaught('ReferenceError: fetch is not defined') },
    ],
  },
  {
    name: 'SharedArrayBuffer exists, Atomics.wait does not: no way to block the worker on shared memory',
    steps: [
      {
        code: 'const sab = new SharedArrayBuffer(4); console.log(typeof sab, sab.byteLength); Atomics.wait(new Int32Array(sab), 0, 0)',
        expect: uncaught('ReferenceError: Atomics is not defined', 'object 4\n'),
      },
    ],
  },
  // ---- QuickJS bridge tricks ---------------------------------------------------------------
  {
    name: "constructor chains: Function('return this')() and friends reach only the guest's own globalThis",
    steps: [
      {
        code: [
          "const g1 = (function () {}).constructor('return this')();",
          "const g2 = console.log.constructor.constructor('return globalThis')();",
          "const g3 = Promise.resolve().constructor.constructor('return this')();",
          "const g4 = setTimeout.constructor('return this')();",
          "console.log(g1 === globalThis, g2 === globalThis, g3 === globalThis, g4 === globalThis, typeof g1.require, typeof g1.process.binding)",
        ].join('\n'),
        expect: { exit_code: 0, stdout: 'true true true true undefined undefined\n', stderr: '' },
      },
    ],
  },
  {
    name: 'async, generator and async generator function constructors',
    steps: [
      {
        code: [
          'const AsyncFunction = (async function () {}).constructor;',
          'const Generator = (function* () {}).constructor;',
          'const AsyncGenerator = (async function* () {}).constructor;',
          "const a = await new AsyncFunction('return [typeof require, typeof process.env." + CANARY_NAME + ", typeof Buffer].join()')();",
          "const b = Generator('yield this')().next().value === globalThis;",
          "const c = (await AsyncGenerator('yield typeof globalThis.fetch')().next()).value;",
          'console.log(a, b, c)',
        ].join('\n'),
        expect: { exit_code: 0, stdout: 'undefined,undefined,undefined true undefined\n', stderr: '' },
      },
    ],
  },
  {
    name: "V8's Error.prepareStackTrace / captureStackTrace hooks get no frames",
    steps: [
      {
        code: [
          "let called = false; Error.prepareStackTrace = (error, frames) => { called = true; return frames };",
          "console.log(typeof Error.captureStackTrace, typeof new Error('x').stack, called);",
          "throw new Error('frames?')",
        ].join('\n'),
        expect: uncaught('Error: frames?', 'undefined string false\n'),
      },
    ],
  },
  {
    name: 'Symbol.for(nodejs.util.inspect.custom) and well-known symbol tampering before logging',
    steps: [
      {
        code: [
          "const custom = { [Symbol.for('nodejs.util.inspect.custom')](depth, options, inspect) { return 'custom:' + typeof inspect + typeof options } };",
          "const values = [custom, [1, 2], new Map([[1, 2]]), new Set(['a']), Symbol('s')];",
          'Array.prototype[Symbol.iterator] = function* () { yield "evil" };',
          "Object.defineProperty(Object.prototype, Symbol.toStringTag, { get() { throw new Error('tag') } });",
          'Map.prototype[Symbol.iterator] = null; Symbol.prototype.toString = () => "S";',
          'console.log(values[0], values[1], values[2], values[3], values[4])',
        ].join('\n'),
        expect: {
          exit_code: 0,
          stdout: "{\n  [Symbol(nodejs.util.inspect.custom)]: [Function: [nodejs.util.inspect.custom]]\n} [ 1, 2 ] Map(1) { 1 => 2 } Set(1) { 'a' } Symbol(s)\n",
          stderr: '',
        },
      },
    ],
  },
  {
    name: 'Proxy wrapping of console and process',
    steps: [
      {
        code: "console = new Proxy(console, { get(target, key) { return (...args) => target.error('wrapped', key, ...args) } }); console.log('hi')",
        expect: { exit_code: 0, stdout: '', stderr: 'wrapped log hi\n' },
      },
      {
        // process is frozen: a get trap that lies about its non-configurable members is refused by the engine.
        code: 'process = new Proxy(process, { get() { return () => 7 } }); process.exit(3)',
        expect: uncaught('TypeError: proxy: inconsistent get'),
      },
    ],
  },
  {
    name: 'getters, toJSON, valueOf and Symbol.toPrimitive on logged values are never called by the formatter',
    steps: [
      {
        code: [
          'const touched = [];',
          "const getter = { get secret() { touched.push('getter'); return typeof require } };",
          "const thrower = Object.defineProperty({}, 'boom', { get() { touched.push('thrower'); throw new Error('g') }, enumerable: true });",
          "const prim = { toJSON() { touched.push('toJSON') }, valueOf() { touched.push('valueOf') }, [Symbol.toPrimitive]() { touched.push('toPrimitive'); return 'p' } };",
          'console.log(getter, thrower); console.log(prim); console.log("%s|%d|%j", getter, thrower, 1);',
          'touched.join()',
        ].join('\n'),
        expect: {
          exit_code: 0,
          stdout:
            "{ secret: [Getter] } { boom: [Getter] }\n{\n  toJSON: [Function: toJSON],\n  valueOf: [Function: valueOf],\n  [Symbol(Symbol.toPrimitive)]: [Function: [Symbol.toPrimitive]]\n}\n{ secret: [Getter] }|NaN|1\n",
          stderr: '',
          result: "''",
        },
      },
    ],
  },
  {
    name: 'Proxy traps see only guest objects while their proxy is formatted (no formatter-realm object leaks)',
    steps: [
      {
        code: [
          'const foreign = [];',
          'const note = (trap, args) => { for (const a of args) if ((typeof a === "object" || typeof a === "function") && a !== null && !(a instanceof Object)) foreign.push(trap) };',
          'const handler = {};',
          "for (const trap of ['get', 'set', 'has', 'ownKeys', 'getOwnPropertyDescriptor', 'defineProperty', 'deleteProperty', 'getPrototypeOf', 'setPrototypeOf', 'isExtensible', 'preventExtensions', 'apply', 'construct'])",
          '  handler[trap] = (...args) => { note(trap, args); return Reflect[trap](...args) };',
          'const wrap = (v) => new Proxy(v, handler);',
          'class Species extends Array { static get [Symbol.species]() { return function (...a) { note("species", a); return wrap([]) } } }',
          "const error = new Error('e', { cause: wrap({ c: 1 }) });",
          'const values = [wrap({ a: 1, b: [1, 2] }), wrap([1, 2, 3]), wrap(function f() {}), Species.from([1, 2]), wrap(new Map([[1, 2]])), error, wrap(error), wrap(new Date(0)), wrap(/x/), wrap(Promise.resolve(1)), wrap(new ArrayBuffer(8))];',
          "console.log(...values); console.log('%s %d %j %o %O', ...values); console.dir(values); console.table(values);",
          'try { throw wrap(error) } catch {}',
          'foreign',
        ].join('\n'),
        expect: { exit_code: 0, stdout: /\n$/, stderr: '', result: '[]' },
      },
      {
        code: "Promise.reject(wrap(error)); throw wrap(error)",
        expect: { exit_code: 1, stdout: '', stderr: 'Error {}\nError {}\n' },
      },
      { code: 'foreign', expect: { exit_code: 0, stdout: '', stderr: '', result: '[]' } },
    ],
  },
  {
    name: '__proto__ poisoning of Object, Array, JSON and Promise does not leak into the next episode',
    steps: [
      {
        code: [
          "Object.prototype.polluted = 'yes'; Array.prototype.polluted = 'yes';",
          "JSON.parse('{\"__proto__\": {\"viaJson\": 1}}'); ({}).__proto__.viaProto = 1;",
          "JSON.parse = () => 'evil'; Promise.prototype.then = function () { throw new Error('then') };",
          "Object.prototype.toString = () => '[object Evil]'; Array.prototype[Symbol.iterator] = function* () { yield 'evil' };",
          "console.log({}.polluted, [].polluted, JSON.parse('1'), Object.prototype.toString.call([]))",
        ].join('\n'),
        expect: { exit_code: 0, stdout: 'yes yes evil [object Evil]\n', stderr: '' },
      },
    ],
    next_episode: { code: PRISTINE_CHECK, expect: PRISTINE },
  },
  {
    name: 'overriding console.log, setTimeout and process.exit: the episode harms only itself, the next one is pristine',
    steps: [
      { code: "console.log = () => { throw new Error('mine') }; console.error('error still works', [1, 2])", expect: { exit_code: 0, stdout: '', stderr: 'error still works [ 1, 2 ]\n' } },
      { code: "setTimeout = () => { throw new Error('no timers') }; setTimeout(() => {})", expect: uncaught('Error: no timers') },
      { code: "process.exit = () => console.error('fake exit'); process.exit(5); 'after'", expect: { exit_code: 5, stdout: '', stderr: '' } },
      {
        code: "Object.defineProperty(globalThis, 'process', { value: { exit() {} } }); process.exit(3); 'after'",
        expect: { exit_code: 0, stdout: '', stderr: '', result: "'after'" },
      },
    ],
    next_episode: { code: PRISTINE_CHECK, expect: PRISTINE },
  },
  {
    name: "tampered built-ins (join, split, Reflect.apply, Map, constructor getters) and then the formatter runs",
    steps: [
      {
        code: [
          "Object.defineProperty(Object.prototype, 'constructor', { get() { throw 1 } });",
          'Array.prototype.join = null; String.prototype.split = null; Reflect.apply = null; Map.prototype.get = null;',
          'Function.prototype.call = null; Function.prototype.apply = null; JSON.stringify = null; Object.keys = null;',
          "console.log({ a: [1, { b: 2 }] }, new Map([[1, 2]]), 'x%sy', 3);",
          "throw new TypeError('after tamper')",
        ].join('\n'),
        expect: uncaught(
          'TypeError: after tamper',
          'Object <[Object: null prototype] {}> {\n  a: [ 1, Object <[Object: null prototype] {}> { b: 2 } ]\n} Map(1) { 1 => 2 } x%sy 3\n',
        ),
      },
    ],
    next_episode: { code: PRISTINE_CHECK, expect: PRISTINE },
  },
  // ---- output attacks --------------------------------------------------------------------------
  {
    name: '100 MB of output in a loop: capped at 1 MiB, the observation stays bounded',
    steps: [
      {
        code: "const line = 'x'.repeat(1023); for (let i = 0; i < 100 * 1024; i++) console.log(line); 'done'",
        expect: { exit_code: 0, stdout: /^(x{1023}\n){1024}$/, stderr: '', truncated: true, result: "'done'", max_output_chars: 1_048_576 },
      },
      {
        code: "console.error('y'.repeat(100 * 1024 * 1024))",
        expect: { exit_code: 0, stdout: '', stderr: /^y{1048576}$/, truncated: true, max_output_chars: 1_048_576 },
      },
    ],
  },
  {
    name: 'lone surrogates and invalid UTF-16 output become replacement characters in valid JSON',
    steps: [
      {
        code: "console.log('\\ud800', 'a\\udc00b', '\\udbff\\ud800'); console.error('\\udfff'); 'z\\ud800'.length",
        expect: {
          exit_code: 0,
          // QuickJS hands each lone surrogate over as its 3-byte CESU-8 form; each byte decodes to U+FFFD.
          stdout: '\ufffd\ufffd\ufffd a\ufffd\ufffd\ufffdb \ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\n',
          stderr: '\ufffd\ufffd\ufffd\n',
          result: '2',
        },
      },
    ],
  },
  {
    name: 'deeply nested and cyclic structures logged',
    steps: [
      {
        code: 'let o = {}; for (let i = 0; i < 1e5; i++) o = { o }; console.log(o); const a = [1]; a.push(a); const c = { a }; c.self = c; const m = new Map(); m.set(m, m); console.log(c, m); JSON.stringify(c)',
        expect: uncaught(
          'TypeError: circular reference',
          '{ o: { o: { o: [Object] } } }\n<ref *2> { a: <ref *1> [ 1, [Circular *1] ], self: [Circular *2] } <ref *1> Map(1) { [Circular *1] => [Circular *1] }\n',
        ),
      },
      { code: 'JSON.stringify(o).length', expect: uncaught('RangeError: Maximum call stack size exceeded') },
    ],
  },
  // ---- memory bombs: a guest error inside the episode, never the server --------------------
  {
    name: 'memory bomb: new Array(1e9).fill(0), then the episode goes on',
    steps: [
      { code: 'var kept = 1; new Array(1e9).fill(0)', expect: uncaught('InternalError: out of memory') },
      { code: 'kept + 1', expect: { exit_code: 0, stdout: '', stderr: '', result: '2' } },
    ],
  },
  {
    name: 'memory bomb: string doubling',
    steps: [{ code: "let s = 'x'; for (;;) s += s", expect: uncaught('InternalError: string too long') }],
  },
  {
    name: 'memory bomb: ArrayBuffer(2**31), then ArrayBuffers until the cap',
    steps: [
      { code: 'new ArrayBuffer(2 ** 31)', expect: uncaught('RangeError: invalid array buffer length') },
      {
        code: "const buffers = []; try { for (;;) buffers.push(new ArrayBuffer(2 ** 24)) } catch (e) { console.log(e.name, e.message, buffers.length > 5) } buffers.length = 0; 'survived'",
        expect: { exit_code: 0, stdout: 'InternalError out of memory true\n', stderr: '', result: "'survived'" },
      },
    ],
  },
  {
    name: 'memory bomb: Map growth until the cap',
    steps: [
      // Out of memory mid-insert, QuickJS throws null (no room for an error object). The full Map is
      // still referenced: no later step could even be parsed, so the episode is replaced (137) rather
      // than left answering every step with "out of memory" (the hole this case found).
      {
        code: 'var kept = 1; const m = new Map(); for (let i = 0; ; i++) m.set(i, { i })',
        expect: {
          exit_code: 137,
          stdout: '',
          stderr: /^(Uncaught null|InternalError: out of memory)\nenvbox: the step ran out of memory and its context cannot run any more; its state is lost and the next step starts in a fresh sandbox\.\n$/,
          state_lost: true,
        },
      },
      { code: 'typeof kept', expect: { exit_code: 0, stdout: '', stderr: '', result: "'undefined'", state_lost: false } },
    ],
  },
  // ---- stack bombs ---------------------------------------------------------------------------
  {
    name: 'stack bombs: infinite recursion, in a getter, in toString, in a Proxy trap, in a logged Proxy',
    steps: [
      { code: 'function f() { return f() + 1 } f()', expect: uncaught('RangeError: Maximum call stack size exceeded') },
      { code: 'const o = { get x() { return this.x } }; o.x', expect: uncaught('RangeError: Maximum call stack size exceeded') },
      { code: 'const t = { toString() { return `${this}` } }; String(t)', expect: uncaught('RangeError: Maximum call stack size exceeded') },
      { code: 'const p = new Proxy({}, { get(target, key, receiver) { return receiver[key] } }); p.x', expect: uncaught('RangeError: Maximum call stack size exceeded') },
      {
        code: "const q = new Proxy({}, { ownKeys() { return Reflect.ownKeys(q) } }); console.log(q); 'after'",
        expect: { exit_code: 0, stdout: '[Object: Inspection interrupted prematurely. Maximum call stack size exceeded.]\n', stderr: '', result: "'after'" },
      },
    ],
  },
  // ---- time: catastrophic regex, sleeping forever ----------------------------------------
  {
    name: "catastrophic regex /(a+)+$/ on 'a'*40+'b' with timeout_s 1: interrupted (124), state kept",
    steps: [
      { code: "var kept = 'k'; /(a+)+$/.test('a'.repeat(40) + 'b')", timeout_s: 1, expect: timedOut(1) },
      { code: 'kept', expect: { exit_code: 0, stdout: '', stderr: '', result: "'k'" } },
    ],
  },
  {
    name: 'sleep forever: an unsettlable await (13), setInterval forever and while(true) (124)',
    steps: [
      {
        code: 'await new Promise(() => {})',
        timeout_s: 1,
        expect: { exit_code: 13, stdout: '', stderr: 'Warning: Detected unsettled top-level await: the step awaited a promise that nothing can settle (no job, no timer is left).\n' },
      },
      { code: 'var ticks = 0; setInterval(() => { ticks++ }, 1)', timeout_s: 1, expect: timedOut(1) },
      { code: 'while (true) {}', timeout_s: 1, expect: timedOut(1) },
      { code: 'try { for (;;) {} } catch { console.log("caught") } finally { console.log("finally") }', timeout_s: 1, expect: timedOut(1) },
    ],
  },
  {
    name: 'a timer that outlives its step prints into the next step of its own episode, never into the next episode',
    steps: [
      { code: "setTimeout(() => console.log('late'), 1500); 'scheduled'", timeout_s: 1, expect: timedOut(1) },
      // The kept state includes the pending timer; the step waits for it, as Node's event loop would.
      { code: "console.log('step 2')", expect: { exit_code: 0, stdout: 'step 2\nlate\n', stderr: '' } },
      // The ticks printed before the deadline come back; how many fit in its 1 s depends on the machine's speed.
      { code: "setInterval(() => console.log('tick'), 400); 'forever'", timeout_s: 1, expect: { ...timedOut(1), stdout: /^(tick\n)+$/ } },
    ],
    next_episode: {
      code: "await new Promise((resolve) => setTimeout(resolve, 1000)); 'quiet'",
      expect: { exit_code: 0, stdout: '', stderr: '', result: "'quiet'" },
    },
  },
  {
    name: 'unhandled rejections: a plain one, from an async function, with a non-error, a hostile reason',
    steps: [
      { code: "Promise.reject(new Error('nobody')); 'after'", expect: { ...uncaught('Error: nobody'), result: "'after'" } },
      { code: "(async () => { throw new TypeError('async nobody') })(); 1", expect: { ...uncaught('TypeError: async nobody'), result: '1' } },
      { code: 'Promise.reject(42)', expect: { exit_code: 1, stdout: '', stderr: 'Uncaught 42\n' } },
      {
        code: "Promise.reject({ get message() { throw new Error('m') }, toString() { for (;;) {} } }); 'ok'",
        timeout_s: 1,
        expect: { exit_code: 1, stdout: '', stderr: 'Uncaught { message: [Getter], toString: [Function: toString] }\n', result: "'ok'" },
      },
    ],
  },
  {
    name: 'process.exit variants: 0..255, wrapped, non-integers, huge numbers, inside try/finally',
    steps: [
      { code: 'process.exit(255)', expect: { exit_code: 255, stdout: '', stderr: '' } },
      { code: 'process.exit(256)', expect: { exit_code: 0, stdout: '', stderr: '' } },
      { code: 'process.exit(-1)', expect: { exit_code: 255, stdout: '', stderr: '' } },
      { code: "process.exit('7')", expect: { exit_code: 7, stdout: '', stderr: '' } },
      { code: 'process.exit()', expect: { exit_code: 0, stdout: '', stderr: '' } },
      { code: 'process.exit(3.5)', expect: uncaught('TypeError: The "code" argument must be of type number. Received 3.5') },
      { code: 'process.exit(NaN)', expect: uncaught('TypeError: The "code" argument must be of type number. Received NaN') },
      { code: 'process.exit(Infinity)', expect: uncaught('TypeError: The "code" argument must be of type number. Received Infinity') },
      // Integers beyond 32 bits and past 2**53 wrap like any other (Node 20 throws ERR_OUT_OF_RANGE past 2**53): still a code in 0..255.
      { code: 'process.exit(2 ** 40 + 9)', expect: { exit_code: 9, stdout: '', stderr: '' } },
      { code: 'process.exit(1e300)', expect: { exit_code: 0, stdout: '', stderr: '' } },
      { code: 'process.exit({ valueOf() { for (;;) {} } })', timeout_s: 1, expect: uncaught('TypeError: The "code" argument must be of type number. Received { valueOf: [Function: valueOf] }') },
      { code: "try { process.exit(4) } catch { console.log('caught') } finally { console.log('finally') }", expect: { exit_code: 4, stdout: '', stderr: '' } },
      { code: "setTimeout(() => console.log('never'), 1); Promise.resolve().then(() => console.log('never')); process.exit(6)", expect: { exit_code: 6, stdout: '', stderr: '' } },
    ],
  },
  {
    name: `the server's environment (${CANARY_NAME}) is nowhere the guest can look`,
    steps: [
      {
        code: [
          'const seen = new Set(); const queue = [globalThis]; const strings = [];',
          'while (queue.length > 0) {',
          '  const value = queue.pop();',
          "  if (typeof value === 'string') { strings.push(value); continue }",
          "  if ((typeof value !== 'object' && typeof value !== 'function') || value === null || seen.has(value)) continue;",
          '  seen.add(value); queue.push(Object.getPrototypeOf(value));',
          '  for (const key of Reflect.ownKeys(value)) {',
          '    if (typeof key === "string") strings.push(key);',
          '    const d = Object.getOwnPropertyDescriptor(value, key); if (d !== undefined) queue.push(d.value, d.get, d.set);',
          '  }',
          '}',
          "console.log(seen.size > 500, strings.some((s) => /CANARY|ENVBOX_|HOME=|PATH=/.test(s)), JSON.stringify(process.env))",
        ].join('\n'),
        expect: { exit_code: 0, stdout: 'true false {}\n', stderr: '' },
      },
    ],
  },
];

/**
 * Programs that hold their worker thread inside a native operation QuickJS's interrupt cannot
 * stop: only the watchdog's termination of the worker (deadline + grace) ends them, and every
 * episode on that worker is lost with it (the documented blast radius). Run with one episode per
 * worker, so the corpus's bystander is never on the stalled worker; javascript.test.ts asserts the
 * blast radius itself separately.
 */
export const javascriptWorkerStallCases: readonly HostileCase[] = [
  {
    name: 'a.length = 2**32-1; a.includes(1) ignores the interrupt: the watchdog terminates the worker (137), the next step is fresh',
    steps: [
      { code: 'var kept = 1; const a = []; a.length = 2 ** 32 - 1; a.includes(1)', timeout_s: 1, expect: { exit_code: 137, stdout: '', stderr: WORKER_TERMINATED, state_lost: true } },
      { code: 'typeof kept', expect: { exit_code: 0, stdout: '', stderr: '', result: "'undefined'", state_lost: false } },
    ],
  },
  {
    name: "Array(1e8).join('') ignores the interrupt: the watchdog terminates the worker (137)",
    steps: [
      { code: "Array(1e8).join('')", timeout_s: 1, expect: { exit_code: 137, stdout: '', stderr: WORKER_TERMINATED, state_lost: true } },
      { code: "'fresh'", expect: { exit_code: 0, stdout: '', stderr: '', result: "'fresh'" } },
    ],
  },
];
