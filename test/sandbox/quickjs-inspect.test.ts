import { readFile } from 'node:fs/promises';
import util from 'node:util';
import vm from 'node:vm';
import variant from '@jitl/quickjs-wasmfile-release-sync';
import { newQuickJSWASMModuleFromVariant, shouldInterruptAfterDeadline, type QuickJSContext, type QuickJSSyncVariant } from 'quickjs-emscripten-core';
import t, { type Test } from 'tap';

// sandbox/quickjs/guest-inspect.js is Node's util.inspect and util.format, run inside the guest.
// Its output is compared with Node's own twice: in a fresh vm realm of Node (values made in that
// realm, so prototypes match), and in real QuickJS, with the values written as source code that
// both engines evaluate. Then the guest does its worst: tampered built-ins, throwing getters and
// Proxy traps, cycles, and values too big, too deep or too wide to print.

/** The factory's result, as guest-inspect.js documents it. */
interface GuestFormatter {
  inspect(value: unknown, options?: object): string;
  format(...args: unknown[]): string;
  formatError(error: unknown): string;
}
type CreateInspect = (hooks?: { promiseState?: (promise: unknown) => unknown }) => GuestFormatter;

const source = await readFile(new URL('../../sandbox/quickjs/guest-inspect.js', import.meta.url), 'utf8');

/**
 * Values, as source, on which the guest must print what Node 20 prints, in a vm realm and in
 * QuickJS alike.
 */
const VALUES: readonly string[] = [
  // Primitives
  '1', '-0', '0', 'NaN', '-Infinity', '-1.5e-7', '0.1 + 0.2', '123456789012345680000', '2 ** 53 + 2',
  '1n', '-12345678901234567890n', 'true', 'undefined', 'null',
  "'hello'", '"it\'s"', `'say "hi" it\\'s'`, "'a`b\"c\\'d${x}'", "'line1\\nline2'",
  "'tab\\there \\x00 \\x7f \\u0085 \\ud800 \\udc00x \\u{1F600}'", "'x'.repeat(100)", "'abc\\n'.repeat(30)",
  "'x'.repeat(20000)", "Symbol('a')", 'Symbol()', 'Symbol.iterator', `Symbol("it's\\n")`,
  // Arrays
  '[]', '[1, 2, 3]', "[1, 'a', { b: 2 }]", '[, 1, , , 2, ,]', 'new Array(5)', '[[]]', '[{}]',
  "Object.assign([1, 2], { extra: true, [Symbol('s')]: 1 })",
  'Array.from({ length: 30 }, (_, i) => i)',
  'Array.from({ length: 150 }, (_, i) => i * 3)',
  'Array.from({ length: 26 }, (_, i) => String.fromCharCode(97 + i).repeat(i % 5 + 1))',
  'Array.from({ length: 10 }, (_, i) => ({ a: i }))',
  'Array.from({ length: 12 }, (_, i) => 1.5 ** i)',
  "Array.from({ length: 7 }, (_, i) => (i % 2 ? 'str' : i))",
  "Array.from({ length: 101 }, () => 'ab')",
  '[1.1, 22.22, 333.333, 4444.4444, 55555.55555, 666666.666666, 7777777.7777777]',
  "[['a', 1], ['b', 2], ['c', 3], ['d', 4], ['e', 5], ['f', 6], ['g', 7]]",
  "Array.from({ length: 10 }, (_, i) => '漢'.repeat(i % 3 + 1))",
  "Array.from({ length: 10 }, (_, i) => '😀'.repeat(i % 3 + 1))",
  "Array.from({ length: 8 }, (_, i) => 'é'.repeat(i) + '漢字')",
  '[[1, [2, [3, [4, [5]]]]]]', '[undefined, null, NaN, -0, 0n]',
  "(() => { const a = [1, 2, 3]; a[-1] = 'neg'; a['1.5'] = 'f'; return a })()",
  "Object.defineProperty([1, 2], 'g', { get() { return 1 }, enumerable: true })",
  'Object.defineProperty([1, 2], 0, { get() { return 1 }, enumerable: true })',
  'new Array(3).fill({ x: 1 })',
  // Objects
  '{}', "{ a: 1, b: 'two', c: [3], d: { e: { f: { g: 1 } } } }",
  "{ 'a-b': 1, '1a': 2, $x: 3, _y: 4, 'ünï': 5, '': 6, '0': 7, 12: 8, '-0': 9, '01': 10 }",
  `{ "it's": 1, 'a"b': 2, 'a\\nb': 3, [Symbol("q'")]: 4 }`,
  "{ [Symbol('k')]: 1, [Symbol.for('f')]: 2 }",
  "{ longKeyNameNumberOne: 'some string value', longKeyNameNumberTwo: 'another string value', three: 3 }",
  '[{ a: 1, b: 2 }, { a: 3, b: 4 }]', '{ arr: [[1, 2, [3, 4, [5, [6]]]]] }',
  '{ a: { b: { c: { d: {} } } } }', '{ a: { b: { c: [] } } }', '{ a: { b: { c: [1] } } }',
  "{ a: 'x'.repeat(100), b: 1 }", '{ a: undefined, b: null, c: NaN }',
  "{ a: 'line1\\nline2\\nline3 is a bit longer than the others so that it wraps' }",
  "{ f() {}, g: () => 1, h: function named() {} }", '{ date: new Date(86400000), re: /x/, n: null, u: undefined }',
  "Object.defineProperty({}, 'g', { get() { return 1 }, enumerable: true })",
  "Object.defineProperty({}, 's', { set(v) {}, enumerable: true })",
  "Object.defineProperty({}, 'gs', { get() { return 1 }, set(v) {}, enumerable: true })",
  "(() => { const o = {}; Object.defineProperty(o, 'hidden', { value: 1 }); o.shown = 2; return o })()",
  'Object.create(null)', 'Object.assign(Object.create(null), { a: 1 })', 'Object.create(Object.create(null))',
  "{ __proto__: null, ['__proto__']: 1 }", 'JSON.parse(\'{"__proto__": 1}\')',
  "{ [Symbol.toStringTag]: 'Tagged' }", '(function () { return arguments })(1, 2)',
  'Object.setPrototypeOf({ a: 1 }, Array.prototype)', 'Object.create(Map.prototype)', 'Object.create(Date.prototype)',
  'Math', 'JSON', 'Reflect', 'Symbol.prototype',
  // Cycles and shared references
  '(() => { const o = { a: 1 }; o.self = o; return o })()',
  '(() => { const a = [1]; a.push(a); return { a, b: { a } } })()',
  '(() => { const a = {}; const b = { a }; a.b = b; return [a, b] })()',
  '(() => { const shared = { s: 1 }; return { a: shared, b: shared } })()',
  '(() => { const m = new Map(); m.set(m, m); return m })()',
  // Class instances
  '(() => { class Foo { constructor() { this.a = 1 } } return new Foo() })()',
  '(() => { class Foo {} return new Foo() })()',
  '(() => { class Foo { get x() { return 1 } } return new Foo() })()',
  "(() => { class T { get [Symbol.toStringTag]() { return 'TT' } } return new T() })()",
  "(() => { class S { static get name() { return 'Dyn' } } return new S() })()",
  '(() => { function Legacy() { this.x = 1 } return new Legacy() })()',
  '(() => { class MyArr extends Array {} return MyArr.from([1, 2]) })()',
  '(() => { class MyMap extends Map {} return new MyMap([[1, 2]]) })()',
  // Functions and classes
  'function f() {}', '(function () {})', '() => {}', 'async function af() {}', 'function* g() {}',
  'async function* ag() {}', 'class A {}', 'class B extends class A {} {}', '(class {})',
  'Object.assign(function f() {}, { a: 1 })', 'Object.assign(class Q {}, { staticProp: 1 })',
  'Math.max', 'Math.max.bind(null)', 'Object.setPrototypeOf(function f() {}, null)',
  '[function a() {}, class B {}, () => {}, async () => {}]',
  // Collections
  "new Map([['a', 1], ['b', 2]])", 'new Map()', "new Set([1, 'x', {}])", 'new Set()',
  'new Map([[{ a: 1 }, new Set([1])]])', 'new Map([[1, { a: { b: { c: 1 } } }]])',
  '[new Map([[1, 2]]), new Set([3])]', 'Object.assign(new Map([[1, 2]]), { extra: 1 })',
  'new WeakMap()', 'new WeakSet()', 'Object.setPrototypeOf(new Map([[1, 2]]), null)',
  // Dates, regular expressions, boxed primitives
  'new Date(0)', 'new Date(NaN)', 'Object.assign(new Date(0), { x: 1 })', '/ab+c/gi', '/x/dgimsuy',
  'Object.assign(/x/, { y: 1 })', 'new Number(3)', "new String('x')", 'new Boolean(false)', 'Object(1n)',
  "Object(Symbol('q'))", 'Object.assign(new Number(-0), { a: 1 })', "Object.assign(new String('ab'), { x: 1 })",
  // Binary data
  'new Uint8Array([1, 2, 3])', 'new Float64Array(3)', 'new BigInt64Array([1n, -2n])', 'new Uint8Array(200)',
  'new ArrayBuffer(2)', 'new Uint8Array([1, 2]).buffer', 'new ArrayBuffer(200)',
  'new DataView(new ArrayBuffer(4), 1, 2)', 'Object.setPrototypeOf(new Uint8Array(2), null)',
  // Errors whose output holds no stack frame
  "(() => { const e = new Error('m'); e.stack = 'custom stack'; return e })()",
  "(() => { const e = new Error('m'); e.stack = 42; return e })()",
  "(() => { const e = new Error('m'); e.stack = ''; return e })()",
  "(() => { const e = new Error('m'); e.stack = 'Error: m\\n    at x (y.js:1:1)'; e.code = 'E'; return e })()",
  "(() => { const e = new RangeError('m'); e.stack = 'Error: m\\n    at x (y.js:1:1)'; return e })()",
  "(() => { const e = new Error('m'); e.name = 'Custom'; e.stack = 'Custom: m\\n    at x (y.js:1:1)'; return e })()",
  "{ e: Object.assign(new Error('x'), { stack: 'Error: x\\n    at q (r.js:1:1)' }) }",
  "(() => { const c = new Error('c'); c.stack = 'Error: c\\n    at a (f.js:1:1)\\n    at b (f.js:2:1)\\n    at c (f.js:3:1)\\n    at d (f.js:4:1)\\n    at e (f.js:5:1)'; const e = new Error('e', { cause: c }); e.stack = 'Error: e\\n    at z (f.js:9:1)\\n    at a (f.js:1:1)\\n    at b (f.js:2:1)\\n    at c (f.js:3:1)\\n    at d (f.js:4:1)\\n    at e (f.js:5:1)'; return e })()",
];

/** Errors carry their engine's stack frames: compared with Node in the vm realm only. */
const V8_ERRORS: readonly string[] = [
  "new Error('boom')", "Object.assign(new Error('boom'), { code: 'E_X' })", "new TypeError('bad')",
  "new Error('outer', { cause: new Error('inner') })", "new Error('c', { cause: 'str' })",
  "new AggregateError([new Error('a')], 'agg')", "(() => { const e = new Error('m'); e.name = 'MyName'; return e })()",
  "(() => { class MyErr extends Error {} return new MyErr('x') })()",
  "(() => { class NErr extends Error { constructor(m) { super(m); this.name = 'NErr' } } return new NErr('y') })()",
  "{ err: new Error('nested') }", "[new Error('in array')]",
];

/** [value, options] pairs: util.inspect's options. */
const OPTIONS: ReadonlyArray<readonly [string, string]> = [
  ['{ a: { b: { c: { d: 1 } } } }', '{ depth: 0 }'],
  ['{ a: { b: { c: { d: 1 } } } }', '{ depth: null }'],
  ['{ a: { b: { c: { d: 1 } } } }', '{ depth: Infinity }'],
  ["{ a: 1, b: [1, 2, 3], c: { d: 'x' } }", '{ compact: false }'],
  ["{ a: 1, b: [1, 2, 3], c: { d: 'x' } }", '{ compact: true }'],
  ['{ a: 1, b: [1, 2, 3], c: { d: { e: { f: 1 } } } }', '{ compact: 1 }'],
  ['Array.from({ length: 30 }, (_, i) => i)', '{ breakLength: Infinity }'],
  ['Array.from({ length: 30 }, (_, i) => i)', '{ breakLength: 40 }'],
  ['{ b: 1, a: 2, c: { z: 1, y: 2 } }', '{ sorted: true }'],
  ['Array.from({ length: 10 }, (_, i) => i)', '{ maxArrayLength: 2 }'],
  ['new Map([[1, 2], [3, 4]])', '{ maxArrayLength: 1 }'],
  ['new ArrayBuffer(10)', '{ maxArrayLength: 3 }'],
  ["['abcdefghij']", '{ maxStringLength: 5 }'],
  ['[1234567, -1234567.12345, 123n, 1e21]', '{ numericSeparator: true }'],
  ['[1, 2, 3]', '{ showHidden: true }'],
  ["(() => { const o = {}; Object.defineProperty(o, 'h', { value: 1 }); return o })()", '{ showHidden: true }'],
  ['new Uint8Array([1, 2])', '{ showHidden: true }'],
  ['(() => { class P { constructor() { this.own = 1 } } P.prototype.shared = 2; return new P() })()', '{ showHidden: true }'],
  ["{ s: Symbol('x'), [Symbol('y')]: 2 }", '{ showHidden: true }'],
  ["new Map([[{ a: 1 }, [1, 2]]])", '{ compact: true }'],
  ['{ a: { b: { c: new ArrayBuffer(2) } }, byteLength: 7, d: new DataView(new ArrayBuffer(1)) }', '{ depth: 1 }'],
  ["Object.defineProperty(new ArrayBuffer(2), 'byteLength', { value: 99, enumerable: true })", '{}'],
  ["[new String('abcdefghij')]", '{ maxStringLength: 3 }'],
];

/** Argument lists of util.format, as source. */
const FORMAT_ARGS: readonly string[] = [
  "'hello'", "'hello', 'world'", "'a %s b', 'x'", "'%s', 1.5", "'%s', -0", "'%s', 10n", "'%s', Symbol('s')",
  "'%s', { a: 1 }", "'%s', [1, [2, [3]]]", "'%s', { toString() { return 'custom' } }", "'%s', null, undefined",
  "'%s', function foo() {}", "'%s', new Date(0)", "'%s', (() => { class C { toString() { return 'C!' } } return new C() })()",
  "'%s', (() => { class D {} return new D() })()", "'%s', Object.create(null)",
  "'%d', '42'", "'%d', 1.5", "'%d', {}", "'%d', 5n", "'%d', '0x10'", "'%i', '42.9px'", "'%i', 1n", "'%f', '1.5e3'",
  "'%f', Symbol('x')", "'%j', { a: [1, 2] }", "'%j', (() => { const o = {}; o.o = o; return o })()",
  "'%o', [1, 2]", "'%o', { a: { b: { c: { d: { e: 1 } } } } }", "'%o', 'str'", "'%O', { a: { b: { c: { d: 1 } } } }",
  "'%c styled', 'color: red'", "'100%%', 1", "'%s %s', 'only one'", "'%x %s', 'a'", "1, 2, 'three', { four: 4 }",
  "'a', { b: 1 }, [2]", "'%s:%d', 'x', 5, 'extra', { y: 1 }", "'%'", "'%%'", "'trailing %'", "{ a: 1 }, 'str'",
  // %j is the guest's own JSON.stringify
  "'%j', 'a\"b\\\\c\\n\\t\\u0001\\u001f\\u007f é 😀 \\ud800 \\udc00'",
  "'%j', [1, 'a', null, undefined, () => 1, Symbol('s'), NaN, -0, Infinity, [, 2]]",
  "'%j', { a: undefined, b: () => 1, c: Symbol('x'), [Symbol('k')]: 1, d: { e: [{}] } }",
  "'%j', { toJSON(k) { return 'custom:' + k } }", "'%j', { nested: { toJSON(k) { return 'key=' + k } } }",
  "'%j', new Date(0)", "'%j', [new Number(3), new String('s'), new Boolean(false)]", "'%j', undefined",
  "'%j', Object.assign(Object.create({ inherited: 1 }), { own: 2 })", "'%j', (() => { const a = [1]; a.push({ a }); return a })()",
  "'%j %j', 1, 'two'", "'%j', new Map([[1, 2]])",
];

t.test('in a vm realm of Node, inspect prints what util.inspect prints', async (t) => {
  const context = vm.createContext({});
  const guest = (vm.runInContext(source, context) as CreateInspect)(undefined);
  const inRealm = (code: string): unknown => vm.runInContext(`(${code})`, context);
  for (const code of [...VALUES, ...V8_ERRORS]) {
    const value = inRealm(code);
    t.equal(guest.inspect(value), util.inspect(value), code);
  }
  for (const code of V8_ERRORS) {
    const value = inRealm(code);
    t.equal(guest.formatError(value), util.inspect(value), `formatError(${code})`);
  }
  for (const [code, options] of OPTIONS) {
    const value = inRealm(code);
    const opts = inRealm(options) as util.InspectOptions;
    t.equal(guest.inspect(value, opts), util.inspect(value, opts), `${code} with ${options}`);
  }
});

t.test('in a vm realm of Node, format prints what util.format prints', async (t) => {
  const context = vm.createContext({});
  const guest = (vm.runInContext(source, context) as CreateInspect)(undefined);
  for (const code of FORMAT_ARGS) {
    const args = vm.runInContext(`[${code}]`, context) as unknown[];
    t.equal(guest.format(...args), util.format(...args), `format(${code})`);
  }
  const fn = vm.runInContext('[function foo() {}]', context) as unknown[];
  t.equal(guest.format('%o', ...fn), util.format('%o', ...fn), "format('%o', function foo() {}), V8's own keys");
});

// ---- QuickJS ------------------------------------------------------------------------------------

// The package's types are CommonJS-shaped under NodeNext; its default export is the variant (as in guest-context.ts).
const quickjs = await newQuickJSWASMModuleFromVariant(variant as unknown as QuickJSSyncVariant);

interface GuestOptions {
  /** QuickJS's stack guard in bytes; 0 leaves QuickJS without one (quickjs-emscripten's default). */
  maxStackSizeBytes?: number;
  /** Install a host `promiseState` hook, as the QuickJS backend does. */
  promiseHook?: boolean;
}

/** A QuickJS context whose global `__fmt` is the formatter, disposed when `t` ends. */
function guestFor(t: Test, options: GuestOptions = {}): QuickJSContext {
  const runtime = quickjs.newRuntime();
  runtime.setMaxStackSize(options.maxStackSizeBytes ?? 256 * 1024);
  runtime.setMemoryLimit(256 * 1024 * 1024);
  const ctx = runtime.newContext();
  t.teardown(() => {
    ctx.dispose();
    runtime.dispose();
  });
  let hooks = 'undefined';
  if (options.promiseHook === true) {
    // What sandbox/quickjs/guest-context.ts installs: the engine's own slots, no guest code runs.
    const promiseState = ctx.newFunction('promiseState', (promise) => {
      const state = ctx.getPromiseState(promise);
      const pair = ctx.newArray();
      ctx.setProp(pair, 0, ctx.newString(state.type));
      if (state.type === 'fulfilled') {
        ctx.setProp(pair, 1, state.value);
        state.value.dispose();
      } else if (state.type === 'rejected') {
        ctx.setProp(pair, 1, state.error);
        state.error.dispose();
      }
      return pair;
    });
    ctx.setProp(ctx.global, '__promiseState', promiseState);
    promiseState.dispose();
    hooks = '{ promiseState: __promiseState }';
  }
  ctx.unwrapResult(ctx.evalCode(`globalThis.__fmt = (${source})(${hooks});`, 'setup.js')).dispose();
  return ctx;
}

/** Evaluates `code` in the guest; its value must be a string. A guest throw fails the test. */
function evalString(ctx: QuickJSContext, code: string): string {
  const handle = ctx.unwrapResult(ctx.evalCode(code, 'step.js'));
  try {
    return ctx.getString(handle);
  } finally {
    handle.dispose();
  }
}

/** t.equal for strings too long for tap's diff: a mismatch reports where they part, with context. */
function equalLong(t: Test, actual: string, expected: string, message: string): void {
  if (actual === expected) {
    t.pass(message);
    return;
  }
  let at = 0;
  while (at < actual.length && actual[at] === expected[at]) at++;
  const around = (text: string): string => text.slice(Math.max(0, at - 80), at + 80);
  t.fail(message, { offset: at, actual: around(actual), expected: around(expected), lengths: [actual.length, expected.length] });
}

t.test('in QuickJS, inspect prints what util.inspect prints in Node', async (t) => {
  const ctx = guestFor(t);
  for (const code of VALUES) {
    const expected = util.inspect(vm.runInNewContext(`(${code})`));
    t.equal(evalString(ctx, `__fmt.inspect((${code}))`), expected, code);
  }
  for (const [code, options] of OPTIONS) {
    const expected = util.inspect(vm.runInNewContext(`(${code})`), vm.runInNewContext(`(${options})`) as util.InspectOptions);
    t.equal(evalString(ctx, `__fmt.inspect((${code}), ${options})`), expected, `${code} with ${options}`);
  }
  for (const code of FORMAT_ARGS) {
    const expected = util.format(...(vm.runInNewContext(`[${code}]`) as unknown[]));
    t.equal(evalString(ctx, `__fmt.format(${code})`), expected, `format(${code})`);
  }
});

t.test('in QuickJS, errors print as Node prints them, over QuickJS frames', async (t) => {
  const ctx = guestFor(t);
  const thrown = (code: string): string => evalString(ctx, `(() => {\ntry {\n${code}\n} catch (e) { return __fmt.formatError(e) }\n})()`);
  t.equal(thrown("(function f() { throw new Error('boom') })()"),
    'Error: boom\n    at f (step.js:3:32)\n    at <anonymous> (step.js:3:43)\n    at <eval> (step.js:5:3)',
    "QuickJS's frames under V8's `Name: message` header, no trailing newline");
  t.equal(thrown("throw Object.assign(new TypeError('bad'), { code: 'E_BAD' })"),
    "TypeError: bad\n    at <anonymous> (step.js:3:34)\n    at <eval> (step.js:5:3) {\n  code: 'E_BAD'\n}",
    'own properties follow in braces');
  t.equal(thrown("class ValidationError extends Error { constructor(m) { super(m); this.name = 'ValidationError'; this.field = 'email' } }\nthrow new ValidationError('bad email')"),
    "ValidationError: bad email\n    at ValidationError (step.js:3:61)\n    at <anonymous> (step.js:4:26)\n    at <eval> (step.js:6:3) {\n  field: 'email'\n}",
    'a name set in the constructor is in the header, not repeated below');
  t.equal(thrown("class MyErr extends Error {}\nthrow new MyErr('x')"),
    'MyErr [Error]: x\n    at MyErr (step.js:3:28)\n    at <anonymous> (step.js:4:16)\n    at <eval> (step.js:6:3)',
    "a subclass that keeps the name 'Error', as Node prints it");
  t.equal(thrown("throw new Error('outer', { cause: new Error('inner') })"),
    'Error: outer\n    at <anonymous> (step.js:3:16)\n    at <eval> (step.js:5:3) {\n  [cause]: Error: inner\n' +
    '      at <anonymous> (step.js:3:44)\n      at <eval> (step.js:5:3)\n}',
    '[cause], indented');
  t.equal(thrown('null.x'), "TypeError: cannot read property 'x' of null\n    at <anonymous> (step.js:3:5)\n    at <eval> (step.js:5:3)",
    "the engine's own errors");
  t.equal(thrown("throw 'x'"), "'x'", 'a thrown non-error is inspected (the caller adds `Uncaught `)');
  t.equal(thrown('throw { a: 1 }'), '{ a: 1 }');
  t.equal(thrown('throw undefined'), 'undefined');

  // name, message and stack that throw, or are no strings: formatError degrades, never throws.
  const define = (props: string, enumerable: boolean): string =>
    `const e = new Error('x'); for (const k of [${props}]) Object.defineProperty(e, k, { get() { throw new Error('getter') }, enumerable: ${enumerable} }); throw e`;
  t.equal(thrown(define("'stack'", false)), '[Error: x]', 'a stack that throws: the header alone');
  t.equal(thrown(define("'name', 'message', 'stack'", false)), '[Error]', 'name and message that throw: their defaults');
  t.equal(thrown(define("'name', 'message', 'stack'", true)), '[Error] { message: [Getter], stack: [Getter], name: [Getter] }',
    'enumerable ones are listed, never run');
  t.equal(thrown("const e = new Error('x'); e.name = { toString() { throw 1 } }; e.message = Symbol('m'); throw e"),
    'Error: Symbol(m)\n    at <anonymous> (step.js:3:20)\n    at <eval> (step.js:5:3) {\n  name: { toString: [Function: toString] }\n}',
    "a name whose toString throws, a symbol message");
  t.equal(thrown("const e = new Error('x'); e.stack = { toString() { throw 1 } }; throw e"), '[Error: x]');
  t.equal(thrown("const e = new Error('x'); e.stack = 42; throw e"), '[42]', 'a stack that is no string, as Node prints it');
  t.equal(thrown("throw new Proxy(new Error('p'), { get() { throw new Error('trap') }, getOwnPropertyDescriptor() { throw new Error('trap') } })"),
    '<Inspection threw (trap)>', 'a Proxy whose every trap throws');
});

t.test('in QuickJS, promises show their state through the host hook', async (t) => {
  const ctx = guestFor(t, { promiseHook: true });
  const cases: ReadonlyArray<readonly [string, string]> = [
    ['Promise.resolve(1)', 'Promise { 1 }'],
    ['new Promise(() => {})', 'Promise { <pending> }'],
    ["(() => { const p = Promise.reject(new Error('no')); p.catch(() => {}); return p })()",
      'Promise {\n  <rejected> Error: no\n      at <anonymous> (step.js:1:59)\n      at <eval> (step.js:1:98)\n}'],
    ['Promise.resolve({ a: [1, { b: 2 }] })', 'Promise { { a: [ 1, [Object] ] } }'],
    ["Object.assign(Promise.resolve('x'), { extra: 1 })", "Promise { 'x', extra: 1 }"],
    ['Object.create(Promise.prototype)', 'Promise {}'],
    ['Object.setPrototypeOf(Promise.resolve(2), null)', '[Promise: null prototype] { 2 }'],
    ['new (class P2 extends Promise {})(() => {})', 'P2 [Promise] { <pending> }'],
  ];
  for (const [code, expected] of cases) {
    t.equal(evalString(ctx, `__fmt.inspect((${code}))`), expected, code);
  }
  const bare = guestFor(t);
  t.equal(evalString(bare, '__fmt.inspect(Promise.resolve(1))'), 'Promise { <unknown> }', 'without the hook');
});

t.test('in QuickJS, what V8 alone can see differs as documented', async (t) => {
  const ctx = guestFor(t);
  t.equal(evalString(ctx, '__fmt.inspect(new Map([[1, 2]]).entries())'), '[Map Iterator] { <items unknown> }',
    'an iterator cannot be previewed without consuming it');
  t.equal(evalString(ctx, '__fmt.inspect(new WeakMap([[{}, 1]]), { showHidden: true })'), 'WeakMap { <items unknown> }',
    'nor a weak collection');
  t.equal(evalString(ctx, "__fmt.inspect(new Proxy({ a: 1 }, { ownKeys() { return ['a', 'b'] }, getOwnPropertyDescriptor(t, k) { return { value: k, enumerable: true, configurable: true } } }))"),
    "{ a: 'a', b: 'b' }", 'a Proxy is the object its traps describe (Node shows its target)');
  t.equal(evalString(ctx, "__fmt.format('%o', function foo() {})"),
    '<ref *1> [Function: foo] {\n  [length]: 0,\n  [name]: \'foo\',\n  [prototype]: { [constructor]: [Circular *1] }\n}',
    "%o lists QuickJS's own function keys (V8 adds arguments and caller)");
});

t.test('in QuickJS, getters are shown, never run', async (t) => {
  const ctx = guestFor(t);
  evalString(ctx, "globalThis.ran = []; globalThis.withGetters = { get a() { ran.push('a'); return 1 }, set b(v) { ran.push('b') }, get c() { ran.push('c'); throw new Error('c') }, set c(v) {}, d: 4 }; ''");
  t.equal(evalString(ctx, '__fmt.inspect(withGetters)'), '{ a: [Getter], b: [Setter], c: [Getter/Setter], d: 4 }');
  t.equal(evalString(ctx, "__fmt.format('%s %o %O', withGetters, withGetters, [withGetters])"),
    '{ a: [Getter], b: [Setter], c: [Getter/Setter], d: 4 } { a: [Getter], b: [Setter], c: [Getter/Setter], d: 4 } [ { a: [Getter], b: [Setter], c: [Getter/Setter], d: 4 } ]');
  t.equal(evalString(ctx, "String(ran.length)"), '0', 'no getter ran');
  t.equal(evalString(ctx, "(class K { get x() { ran.push('x'); return 1 } }, __fmt.inspect(new (class K { get x() { ran.push('x'); return 1 } })()) + ran.length)"),
    'K {}0', 'nor a getter on a prototype');
});

t.test('in QuickJS, guest tampering after creation changes nothing', async (t) => {
  const ctx = guestFor(t);
  const values = [
    "[1, 'a', { b: 2 }]", "{ a: 1, 'b-c': [1, 2, 3], d: { e: { f: { g: 1 } } } }", "new Map([['a', 1]])", 'new Set([1, 2])',
    '(() => { class Foo { constructor() { this.a = 1 } } return new Foo() })()', 'Array.from({ length: 30 }, (_, i) => i)',
    '[, 1, , 2]', 'new Date(0)', '/re/g', 'new Uint8Array([1, 2])', 'new ArrayBuffer(3)', 'new DataView(new ArrayBuffer(2))',
    "Object.assign(new Error('boom'), { code: 1 })", 'function named() {}', 'class K extends Array {}', "Symbol('s')", '10n',
    '-0', `"it's"`, "'x'.repeat(100)", 'Object.create(null)', 'new Number(1)', "new String('ab')",
    '(() => { const o = { x: 1 }; o.o = o; return o })()', "{ [Symbol('k')]: 1 }", 'new WeakMap()',
    '(function () { return arguments })(1)', '[undefined, null]', '{ __proto__: null, x: [1] }',
    "Object.defineProperty({}, 'g', { get() { throw 1 }, enumerable: true })",
  ];
  evalString(ctx, `globalThis.samples = [${values.join(', ')}]; ''`);
  // Only what the guest formats with is captured: samples, and a null-prototype list for results.
  const formatAll = `(() => {
    const out = __list(); for (let i = 0; i < samples.length; i++) out[out.length] = __fmt.inspect(samples[i]);
    out[out.length] = __fmt.format('%s %d %i %f %j %o %O %c %%', 'a', 1, 2, 3, { j: 1 }, [1], { O: 1 }, 'css', 'rest', { r: 1 });
    return out;
  })()`;
  evalString(ctx, `globalThis.__list = ((set) => () => set([], null))(Object.setPrototypeOf); globalThis.before = ${formatAll}; ''`);
  evalString(ctx, `(() => {
    const define = Object.defineProperty;
    const boom = () => { throw new Error('tampered') };
    const mapIterator = Object.getPrototypeOf(new Map().entries());
    const setIterator = Object.getPrototypeOf(new Set().values());
    const typedArray = Object.getPrototypeOf(Uint8Array.prototype);
    // Null-prototype descriptors: once Object.prototype.get throws, a plain one would too.
    const replace = (obj, names) => { for (const n of names) define(obj, n, { __proto__: null, value: boom, writable: true, configurable: true }) };
    const trap = (obj, names) => { for (const n of names) define(obj, n, { __proto__: null, get: boom, set: boom, configurable: true }) };
    replace(mapIterator, ['next']);
    replace(setIterator, ['next']);
    trap(typedArray, ['length', 'byteLength', 'byteOffset', 'buffer']);
    trap(ArrayBuffer.prototype, ['byteLength']); trap(DataView.prototype, ['byteLength', 'byteOffset', 'buffer']);
    trap(Map.prototype, ['size']); trap(Set.prototype, ['size']); trap(RegExp.prototype, ['flags', 'source', 'global', 'lastIndex']);
    trap(Array.prototype, ['0', '1', '2', '3', '100']);
    replace(Object, ['keys', 'getOwnPropertyNames', 'getOwnPropertySymbols', 'getOwnPropertyDescriptor', 'getPrototypeOf', 'setPrototypeOf', 'is', 'defineProperty', 'assign']);
    replace(Reflect, ['apply', 'ownKeys', 'get', 'getPrototypeOf']);
    replace(Array, ['isArray', 'from']);
    replace(Array.prototype, ['join', 'push', 'pop', 'slice', 'splice', 'sort', 'map', 'filter', 'forEach', 'indexOf', 'includes', 'unshift', 'concat']);
    replace(String.prototype, ['slice', 'indexOf', 'lastIndexOf', 'includes', 'startsWith', 'endsWith', 'repeat', 'padStart', 'padEnd', 'charCodeAt', 'codePointAt', 'normalize', 'split', 'replace', 'replaceAll', 'toString', 'valueOf', 'trim']);
    replace(Number.prototype, ['toString', 'valueOf']); replace(Symbol.prototype, ['toString', 'valueOf']);
    replace(Function.prototype, ['toString', 'call', 'apply', 'bind']);
    replace(Map.prototype, ['get', 'set', 'has', 'entries', 'forEach', 'keys', 'values']);
    replace(Set.prototype, ['add', 'has', 'values', 'forEach', 'entries']);
    replace(RegExp.prototype, ['exec', 'test', 'toString']); replace(Date.prototype, ['toISOString', 'toString', 'getTime']);
    replace(Error.prototype, ['toString']); replace(JSON, ['stringify']); replace(Math, ['min', 'max', 'floor', 'round', 'sqrt', 'trunc']);
    replace(Number, ['isNaN', 'isFinite', 'parseInt', 'parseFloat']);
    replace(Object.prototype, ['toString', 'hasOwnProperty', 'propertyIsEnumerable', 'valueOf']);
    trap(Object.prototype, ['x', 'get', 'set', 'value', 'done', 'enumerable', 'writable', 'configurable', 'constructor', 'length', '0', '1', 'lastIndex', 'cause', 'errors', 'name', 'message', 'stack', 'index', 'size', 'flags', 'source', 'global']);
    delete Array.prototype[Symbol.iterator]; delete Map.prototype[Symbol.iterator]; delete Set.prototype[Symbol.iterator];
    globalThis.String = boom; globalThis.Number = boom; globalThis.Map = boom; globalThis.Set = boom; globalThis.Symbol = boom; globalThis.Uint8Array = boom;
    return 'tampered';
  })()`);
  t.equal(evalString(ctx, "(() => { try { return [].x } catch (e) { return e.message } })()"), 'tampered', 'the traps are in place');
  evalString(ctx, `globalThis.after = ${formatAll}; ''`);
  const count = Number(evalString(ctx, "'' + before.length"));
  t.equal(count, values.length + 1);
  for (let i = 0; i < count; i++) {
    t.equal(evalString(ctx, `after[${i}]`), evalString(ctx, `before[${i}]`), values[i] ?? 'format');
  }
  t.equal(evalString(ctx, 'before[0]'), "[ 1, 'a', { b: 2 } ]", 'and before is what Node prints');
  t.equal(evalString(ctx, `before[${values.length - 1}]`), '{ g: [Getter] }');
});

t.test('in QuickJS, cycles, throwing traps and huge values end, and fast', async (t) => {
  const ctx = guestFor(t);
  t.equal(evalString(ctx, "(() => { const c = { name: 'c' }; c.self = c; c.list = [c, { back: c }]; return __fmt.inspect(c) })()"),
    "<ref *1> {\n  name: 'c',\n  self: [Circular *1],\n  list: [ [Circular *1], { back: [Circular *1] } ]\n}");

  evalString(ctx, "globalThis.hostile = new Proxy({}, { get() { throw new Error('g') }, ownKeys() { throw new Error('o') }, getPrototypeOf() { throw new Error('p') }, getOwnPropertyDescriptor() { throw new Error('d') }, has() { throw new Error('h') } }); ''");
  t.equal(evalString(ctx, '__fmt.inspect(hostile)'), '<Inspection threw (d)>', 'a Proxy whose traps throw');
  t.equal(evalString(ctx, '__fmt.inspect([1, hostile, 2])'), '[ 1, <Inspection threw (d)>, 2 ]', 'only its own place');
  t.equal(evalString(ctx, "__fmt.format('%s %o %j %d', hostile, hostile, hostile, hostile)"),
    '<Inspection threw (d)> <Inspection threw (d)> <Inspection threw (g)> NaN');
  t.equal(evalString(ctx, "__fmt.inspect(new Proxy({ a: 1, b: 2 }, { getOwnPropertyDescriptor(t, k) { if (k === 'b') throw new Error('no b'); return Reflect.getOwnPropertyDescriptor(t, k) } }))"),
    '{ a: 1, b: <Inspection threw (no b)> }', 'a trap that throws for one key spoils that entry only');
  t.equal(evalString(ctx, '(() => { const r = Proxy.revocable({}, {}); r.revoke(); return __fmt.inspect(r.proxy) })()'), '<Revoked Proxy>');
  t.equal(evalString(ctx, '(() => { const p = new Proxy({}, { getPrototypeOf() { return p } }); return __fmt.inspect(p) })()'),
    'Object <Complex prototype> {}', 'an endless prototype chain');

  evalString(ctx, 'globalThis.big = Array.from({ length: 1e6 }, (_, i) => i); globalThis.bigTyped = new Float64Array(1e6); \'\'');
  // Times are reported, not judged: a unit test's verdict must not depend on the machine's speed.
  let started = performance.now();
  t.equal(evalString(ctx, '__fmt.inspect(big)'), util.inspect(Array.from({ length: 1e6 }, (_, i) => i)), 'a 1e6-item array');
  t.equal(evalString(ctx, '__fmt.inspect(bigTyped)'), util.inspect(new Float64Array(1e6)), 'a 1e6-item typed array');
  t.comment(`the 1e6-item arrays in ${Math.round(performance.now() - started)} ms`);

  evalString(ctx, "globalThis.sparse = []; sparse[1e9] = 1; globalThis.holes = Array.from({ length: 200000 }, (_, i) => i); for (let i = 0; i < 100000; i++) delete holes[i]; ''");
  t.equal(evalString(ctx, '__fmt.inspect(sparse)'), '[ <1000000000 empty items>, 1 ]');
  const holes = Array.from({ length: 200000 }, (_, i) => i);
  for (let i = 0; i < 100000; i++) Reflect.deleteProperty(holes, i);
  t.equal(evalString(ctx, '__fmt.inspect(holes)'), util.inspect(holes), '100000 holes, then items');

  evalString(ctx, "globalThis.deep = {}; for (let i = 0; i < 10000; i++) deep = { d: deep }; ''");
  t.equal(evalString(ctx, '__fmt.inspect(deep)'), '{ d: { d: { d: [Object] } } }', '10000 levels, depth 2');
  const unlimited = evalString(ctx, '__fmt.inspect(deep, { depth: null })');
  t.ok(/d: \[Object: Inspection interrupted prematurely\. Maximum call stack size exceeded\.\]/.test(unlimited),
    'depth: null ends at the stack guard, as in Node');

  evalString(ctx, "globalThis.wide = {}; for (let i = 0; i < 100000; i++) wide['k' + i] = i; ''");
  const wide: Record<string, number> = {};
  for (let i = 0; i < 100000; i++) wide[`k${i}`] = i;
  started = performance.now();
  equalLong(t, evalString(ctx, '__fmt.inspect(wide)'), util.inspect(wide), '100000 keys, every one, as Node prints them');
  t.comment(`100000 keys in ${Math.round(performance.now() - started)} ms`);

  const huge = evalString(ctx, "(() => { const o = {}; for (let i = 0; i < 300000; i++) o['key_' + i] = 'value value value ' + i; return __fmt.inspect(o) })()");
  t.ok(huge.length > 4_000_000 && huge.length < 4_500_000, `an object of 300000 long entries stops at ${huge.length} characters`);
  t.ok(huge.endsWith(',\n  ...\n}'), 'with ...');
  const long = evalString(ctx, "__fmt.inspect('x'.repeat(5e6), { maxStringLength: Infinity })");
  t.equal(long.length, 4 * 1024 * 1024 + 2 + '... 805696 more characters'.length, 'one string past the cap is cut');
});

t.test('in QuickJS without a stack guard, nesting stops before the host stack does', async (t) => {
  // quickjs-emscripten's default runtime has no stack guard: deep recursion would overflow the
  // host's own stack. The formatter stops nesting at 400 levels whatever the depth asked for.
  const ctx = guestFor(t, { maxStackSizeBytes: 0 });
  const lines = (code: string): number => Number(evalString(ctx, `'' + __fmt.inspect(${code}, { depth: null }).split('\\n').length`));
  evalString(ctx, "globalThis.o = {}; for (let i = 0; i < 10000; i++) o = { o }; globalThis.a = []; for (let i = 0; i < 10000; i++) a = [a]; globalThis.m = 1; for (let i = 0; i < 5000; i++) m = new Map([[1, m]]); globalThis.e = new Error('x'); for (let i = 0; i < 5000; i++) e = new Error('x', { cause: e }); ''");
  t.equal(lines('o'), 801, 'objects');
  t.equal(lines('a'), 801, 'arrays');
  t.equal(lines('m'), 801, 'maps');
  t.ok(lines('e') > 400, 'error causes');
  t.match(evalString(ctx, "__fmt.inspect(o, { depth: null }).split('\\n')[400]"), /^ {800}o: \[Object\]$/);
});

t.test("in QuickJS, the host's deadline still ends a long formatting", async (t) => {
  // QuickJS's interrupt is uncatchable: no `catch` in the formatter can swallow it.
  const ctx = guestFor(t);
  evalString(ctx, "globalThis.o = {}; for (let i = 0; i < 300000; i++) o['k' + i] = { a: [i, { b: i }] }; ''");
  ctx.runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + 50));
  const started = performance.now();
  const result = ctx.evalCode('globalThis.inspections = 0; for (let i = 0; i < 100; i++) { __fmt.inspect(o, { depth: null }); inspections++ }', 'step.js');
  const elapsedMs = performance.now() - started;
  ctx.runtime.removeInterruptHandler();
  t.ok(result.error !== undefined, 'the step ends in an error');
  if (result.error !== undefined) {
    t.match(ctx.dump(result.error), { name: 'InternalError', message: 'interrupted' });
    result.error.dispose();
  } else {
    result.value.dispose();
  }
  // Counted, not timed (the machine's speed must not decide): the formatting stopped at the deadline.
  const inspections = Number(evalString(ctx, "'' + inspections"));
  t.ok(inspections < 100, `the deadline ended the formatting after ${inspections} of 100 inspections`);
  t.comment(`interrupted after ${Math.round(elapsedMs)} ms`);
});
