// The guest prelude of a JavaScript episode: evaluated inside QuickJS, once per context, before
// any guest code. It is read as text by sandbox/quickjs/quickjs-backend.ts and is never imported
// by Node. Everything it needs from the language is captured here, at install time, so that guest
// code that later replaces `Array.prototype.join` or `Object.keys` cannot change what the host
// receives. The host gives it one bridge object of native functions; only strings and numbers
// cross it:
//   bridge.write(fd, text)      append text to stdout (1) or stderr (2)
//   bridge.exit(code)           request the end of the step with that exit code
//   bridge.promiseState(p)      [state, value] of a promise, read without running guest code
//   bridge.inspect(value)       util.inspect(value), by guest-inspect.js
//   bridge.format(...args)      util.format(...args)
//   bridge.formatError(error)   what Node prints for an uncaught error
// The last three run Node's formatter (sandbox/quickjs/guest-inspect.js, 100 KB) in a realm of
// its own beside this one, loaded on first use: QuickJS parses source anew for every context and
// that file takes ~10 ms to parse, so plain values (numbers, short strings, ...) are formatted
// here, exactly as Node would, and only the rest pays for it.
// It returns the internals the worker calls between jobs (never reachable from guest code).
(function install(bridge) {
  'use strict';
  const write = bridge.write;
  const requestExit = bridge.exit;
  const slowInspect = bridge.inspect;
  const slowFormat = bridge.format;
  const formatError = bridge.formatError;

  const apply = Reflect.apply;
  const objectIs = Object.is;
  const StringCtorForFast = String;
  const stringCharCodeAt = String.prototype.charCodeAt;
  const defineProperty = Object.defineProperty;
  const freeze = Object.freeze;
  const create = Object.create;
  const isInteger = Number.isInteger;
  const dateNow = Date.now;
  const NativePromise = Promise;
  const nativeThen = Promise.prototype.then;
  const MapCtor = Map;
  const mapGet = Map.prototype.get;
  const mapSet = Map.prototype.set;
  const mapDelete = Map.prototype.delete;
  const mapHas = Map.prototype.has;
  const mapValues = Map.prototype.values;
  const mapEntries = Map.prototype.entries;
  const mapClear = Map.prototype.clear;
  const WeakMapCtor = WeakMap;
  const weakGet = WeakMap.prototype.get;
  const weakSet = WeakMap.prototype.set;
  const SetCtor = Set;
  const setAdd = Set.prototype.add;
  const setDelete = Set.prototype.delete;
  const setValues = Set.prototype.values;
  const setClear = Set.prototype.clear;
  const iteratorNext = Object.getPrototypeOf(new Set().values()).next;
  const mapIteratorNext = Object.getPrototypeOf(new Map().values()).next;
  const StringCtor = String;
  const stringSplit = String.prototype.split;
  const stringStartsWith = String.prototype.startsWith;
  const stringSlice = String.prototype.slice;
  const stringIndexOf = String.prototype.indexOf;
  const stringTrimStart = String.prototype.trimStart;
  const arrayJoin = Array.prototype.join;
  const arrayMap = Array.prototype.map;
  const arrayPush = Array.prototype.push;
  const TypeErrorCtor = TypeError;
  const InternalErrorProto = typeof InternalError === 'function' ? InternalError.prototype : undefined;

  // ---- formatting: Node's output for plain values here, the rest by guest-inspect.js ----------
  /** util.inspect of a plain value, or undefined when it needs the full formatter. */
  const fastInspect = (value) => {
    switch (typeof value) {
      case 'number':
        return objectIs(value, -0) ? '-0' : StringCtorForFast(value);
      case 'boolean':
      case 'undefined':
        return StringCtorForFast(value);
      case 'bigint':
        return StringCtorForFast(value) + 'n';
      case 'string': {
        // Printable ASCII without a quote or a backslash, short enough never to be split: 'as is'.
        if (value.length > 64) return undefined;
        for (let i = 0; i < value.length; i++) {
          const code = apply(stringCharCodeAt, value, [i]);
          if (code < 0x20 || code > 0x7e || code === 0x27 || code === 0x5c) return undefined;
        }
        return "'" + value + "'";
      }
      case 'object':
        return value === null ? 'null' : undefined;
      default:
        return undefined;
    }
  };
  /** What is printed when the formatter cannot run (the step's deadline, or the memory is full). */
  const plain = (value) => {
    try {
      return typeof value === 'symbol' ? '[symbol]' : typeof value === 'object' && value !== null ? '[object]' : StringCtorForFast(value);
    } catch {
      return '[value]';
    }
  };
  const inspect = (value) => fastInspect(value) ?? slowInspect(value) ?? plain(value);
  /** util.format: strings as they are and plain values joined by spaces here; `%` and objects by the formatter. */
  const format = (...args) => {
    let text = '';
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      let piece;
      if (typeof arg === 'string') {
        if (i === 0 && apply(stringIndexOf, arg, ['%']) !== -1) return apply(slowFormat, undefined, args) ?? arg;
        piece = arg;
      } else {
        piece = fastInspect(arg);
        if (piece === undefined) {
          const slow = apply(slowFormat, undefined, args);
          if (slow !== undefined) return slow;
          piece = plain(arg);
        }
      }
      text += i === 0 ? piece : ' ' + piece;
    }
    return text;
  };

  // Deep recursion ends in QuickJS's "InternalError: stack overflow"; Node throws a RangeError.
  // Let `catch (e) { e instanceof RangeError }` hold for it, as it does in Node.
  if (InternalErrorProto !== undefined) Object.setPrototypeOf(InternalErrorProto, RangeError.prototype);

  // ---- console --------------------------------------------------------------------------------
  let groupIndent = '';
  const indentLines = (text) =>
    groupIndent === '' ? text : apply(arrayJoin, apply(arrayMap, apply(stringSplit, text, ['\n']), [(line) => groupIndent + line]), ['\n']);
  const out = (fd, args) => {
    write(fd, indentLines(apply(format, undefined, args)) + '\n');
  };
  const counts = new MapCtor();
  const timers = new MapCtor();
  const console = {
    log: (...args) => out(1, args),
    info: (...args) => out(1, args),
    debug: (...args) => out(1, args),
    error: (...args) => out(2, args),
    warn: (...args) => out(2, args),
    trace: (...args) => {
      const err = { stack: '' };
      try {
        throw new Error();
      } catch (e) {
        err.stack = StringCtor(e.stack);
      }
      let frames = err.stack;
      while (frames.length > 0 && frames[frames.length - 1] === '\n') frames = apply(stringSlice, frames, [0, -1]);
      // The first frame is this function's own.
      const firstBreak = apply(stringIndexOf, frames, ['\n']);
      frames = firstBreak === -1 ? '' : apply(stringSlice, frames, [firstBreak + 1]);
      out(2, ['Trace' + (args.length > 0 ? ': ' + apply(format, undefined, args) : '') + (frames === '' ? '' : '\n' + frames)]);
    },
    dir: (value) => write(1, indentLines(inspect(value)) + '\n'),
    assert: (condition, ...args) => {
      if (condition) return;
      out(2, args.length === 0 ? ['Assertion failed'] : ['Assertion failed: ' + apply(format, undefined, args)]);
    },
    count: (label = 'default') => {
      const key = StringCtor(label);
      const n = (apply(mapGet, counts, [key]) ?? 0) + 1;
      apply(mapSet, counts, [key, n]);
      out(1, [`${key}: ${n}`]);
    },
    countReset: (label = 'default') => void apply(mapDelete, counts, [StringCtor(label)]),
    time: (label = 'default') => void apply(mapSet, timers, [StringCtor(label), dateNow()]),
    timeLog: (label = 'default', ...args) => {
      const key = StringCtor(label);
      if (!apply(mapHas, timers, [key])) return out(2, [`Warning: No such label '${key}' for console.timeLog()`]);
      const line = [`${key}: ${dateNow() - apply(mapGet, timers, [key])}ms`];
      for (let i = 0; i < args.length; i++) line[i + 1] = args[i];
      out(1, line);
    },
    timeEnd: (label = 'default') => {
      const key = StringCtor(label);
      if (!apply(mapHas, timers, [key])) return out(2, [`Warning: No such label '${key}' for console.timeEnd()`]);
      out(1, [`${key}: ${dateNow() - apply(mapGet, timers, [key])}ms`]);
      apply(mapDelete, timers, [key]);
    },
    group: (...args) => {
      if (args.length > 0) out(1, args);
      groupIndent += '  ';
    },
    groupEnd: () => {
      groupIndent = apply(stringSlice, groupIndent, [0, -2]);
    },
    table: (...args) => out(1, args),
  };
  console.groupCollapsed = console.group;
  defineProperty(globalThis, 'console', { value: console, writable: true, configurable: true, enumerable: false });

  // ---- process: only exit, argv and env ------------------------------------------------------
  // exit() tells the host first, then spins: the host's interrupt handler answers "stop" from
  // then on, and QuickJS's interrupt is uncatchable, so no try/catch or finally can swallow it.
  const exit = (code) => {
    let n = 0;
    if (code !== undefined && code !== null) {
      const number = typeof code === 'string' && code !== '' && isInteger(+code) ? +code : code;
      if (typeof number !== 'number' || !isInteger(number)) {
        throw new TypeErrorCtor(`The "code" argument must be of type number. Received ${inspect(code)}`);
      }
      n = number & 0xff;
    }
    requestExit(n);
    for (;;) {
      // Interrupted by the host within a few thousand iterations.
    }
  };
  const process = freeze({ exit, argv: freeze([]), env: freeze(create(null)) });
  defineProperty(globalThis, 'process', { value: process, writable: true, configurable: true, enumerable: false });

  // ---- timers: the guest's own, on real time; the worker waits for them without blocking ------
  const pending = new MapCtor();
  let nextTimerId = 1;
  const addTimer = (callback, delay, args, repeat) => {
    if (typeof callback !== 'function') {
      throw new TypeErrorCtor(`The "callback" argument must be of type function. Received ${inspect(callback)}`);
    }
    let ms = +delay;
    if (!(ms >= 1 && ms <= 2147483647)) ms = 1;
    const id = nextTimerId++;
    apply(mapSet, pending, [id, { callback, args, ms, due: dateNow() + ms, repeat }]);
    return id;
  };
  const clearTimer = (id) => void apply(mapDelete, pending, [typeof id === 'number' ? id : +id]);
  const timerGlobals = {
    setTimeout: (callback, delay, ...args) => addTimer(callback, delay, args, false),
    setInterval: (callback, delay, ...args) => addTimer(callback, delay, args, true),
    setImmediate: (callback, ...args) => addTimer(callback, 0, args, false),
    clearTimeout: clearTimer,
    clearInterval: clearTimer,
    clearImmediate: clearTimer,
    queueMicrotask: (callback) => {
      if (typeof callback !== 'function') {
        throw new TypeErrorCtor(`The "callback" argument must be of type function. Received ${inspect(callback)}`);
      }
      apply(nativeThen, NativePromise.resolve(), [() => callback()]);
    },
  };
  for (const name of ['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate', 'queueMicrotask']) {
    defineProperty(globalThis, name, { value: timerGlobals[name], writable: true, configurable: true, enumerable: false });
  }

  /** The due time (ms since the epoch) of the earliest timer, or -1 when none is pending. */
  const nextDue = () => {
    let earliest = -1;
    const values = apply(mapValues, pending, []);
    for (let step = apply(mapIteratorNext, values, []); !step.done; step = apply(mapIteratorNext, values, [])) {
      if (earliest === -1 || step.value.due < earliest) earliest = step.value.due;
    }
    return earliest;
  };

  /** Run the earliest timer if it is due; true when one ran. Errors propagate to the worker (uncaught). */
  const runDueTimer = () => {
    let chosenId = 0;
    let chosen;
    // Map iteration is insertion order and ids grow, so ties run in the order they were set, as in Node.
    const entries = apply(mapEntries, pending, []);
    for (let step = apply(mapIteratorNext, entries, []); !step.done; step = apply(mapIteratorNext, entries, [])) {
      if (chosen === undefined || step.value[1].due < chosen.due) {
        chosenId = step.value[0];
        chosen = step.value[1];
      }
    }
    if (chosen === undefined || chosen.due > dateNow()) return false;
    if (chosen.repeat) chosen.due = dateNow() + chosen.ms;
    else apply(mapDelete, pending, [chosenId]);
    apply(chosen.callback, undefined, chosen.args);
    return true;
  };

  // ---- unhandled rejections ---------------------------------------------------------------------
  // QuickJS's host rejection tracker is not exposed by quickjs-emscripten, so the guest tracks the
  // promises it can see: the global `Promise` becomes a subclass whose instances note whether they
  // were rejected with no handler attached. `await`, `.then`, `.catch` and `.finally` on one all go
  // through `then`, which marks it handled. Async functions are rewritten to return one (below);
  // promises made inside the engine otherwise (an async generator's) are not tracked.
  const records = new WeakMapCtor();
  const unhandled = new SetCtor();
  class TrackedPromise extends NativePromise {
    constructor(executor) {
      if (typeof executor !== 'function') {
        throw new TypeErrorCtor(`Promise resolver ${inspect(executor)} is not a function`);
      }
      const record = { promise: undefined, handled: false, rejected: false };
      super((resolve, reject) =>
        executor(resolve, (reason) => {
          if (!record.rejected) {
            record.rejected = true;
            if (!record.handled && record.promise !== undefined) apply(setAdd, unhandled, [record.promise]);
          }
          reject(reason);
        }),
      );
      record.promise = this;
      apply(weakSet, records, [this, record]);
      if (record.rejected && !record.handled) apply(setAdd, unhandled, [this]);
    }
    then(onFulfilled, onRejected) {
      const record = apply(weakGet, records, [this]);
      if (record !== undefined && !record.handled) {
        record.handled = true;
        apply(setDelete, unhandled, [this]);
      }
      return apply(nativeThen, this, [onFulfilled, onRejected]);
    }
  }
  defineProperty(TrackedPromise, 'name', { value: 'Promise' });
  // The worker rewrites each async function of a step so that its promise is a tracked one:
  // `async function f() { B }` runs as `function f() { return __envbox_async(async () => { B }) }`
  // (sandbox/quickjs/track-async.ts).
  const trackAsync = (body) => {
    const inner = body();
    return new TrackedPromise((resolve, reject) => apply(nativeThen, inner, [resolve, reject]));
  };
  defineProperty(globalThis, '__envbox_async', { value: trackAsync, writable: false, configurable: false, enumerable: false });
  defineProperty(globalThis, 'Promise', { value: TrackedPromise, writable: true, configurable: true, enumerable: false });

  /** Formatted reports of the promises rejected without a handler since the last call. */
  const takeUnhandledRejections = () => {
    const reports = [];
    const values = apply(setValues, unhandled, []);
    for (let step = apply(iteratorNext, values, []); !step.done; step = apply(iteratorNext, values, [])) {
      const state = bridge.promiseState(step.value);
      apply(arrayPush, reports, [formatUncaught(state[1])]);
    }
    apply(setClear, unhandled, []);
    return apply(arrayJoin, reports, ['']);
  };

  // ---- what the worker formats --------------------------------------------------------------
  /** Node keeps 10 frames of a stack (Error.stackTraceLimit); QuickJS keeps them all. */
  const MAX_FRAMES = 10;
  const trimFrames = (text) => {
    const lines = apply(stringSplit, text, ['\n']);
    let frames = 0;
    const kept = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (apply(stringStartsWith, apply(stringTrimStart, line, []), ['at ']) && line !== apply(stringTrimStart, line, [])) {
        frames += 1;
        if (frames > MAX_FRAMES) continue;
      }
      apply(arrayPush, kept, [line]);
    }
    return apply(arrayJoin, kept, ['\n']);
  };
  /** What Node prints for an uncaught throw: the error's inspection, or `Uncaught <value>`. */
  const formatUncaught = (error) => {
    let text;
    try {
      if (InternalErrorProto !== undefined && error !== null && typeof error === 'object' && Object.getPrototypeOf(error) === InternalErrorProto && error.message === 'stack overflow') {
        const stack = typeof error.stack === 'string' ? error.stack : '';
        text = 'RangeError: Maximum call stack size exceeded\n' + stack;
      } else if (error instanceof Error) {
        text = formatError(error);
        if (typeof text !== 'string') {
          // The formatter could not run: Node's first line, from own data properties only.
          const name = Object.getOwnPropertyDescriptor(error, 'name') ?? Object.getOwnPropertyDescriptor(Object.getPrototypeOf(error), 'name');
          const message = Object.getOwnPropertyDescriptor(error, 'message');
          const stack = Object.getOwnPropertyDescriptor(error, 'stack');
          text = `${typeof name?.value === 'string' ? name.value : 'Error'}: ${typeof message?.value === 'string' ? message.value : ''}\n${typeof stack?.value === 'string' ? stack.value : ''}`;
        }
      } else {
        text = 'Uncaught ' + inspect(error);
      }
    } catch {
      text = 'Uncaught exception';
    }
    // An error without frames (a SyntaxError of the step itself) is `[SyntaxError: ...]` to
    // util.inspect; Node prints an uncaught one bare.
    if (text.length > 2 && text[0] === '[' && text[text.length - 1] === ']' && apply(stringIndexOf, text, ['\n']) === -1) {
      text = apply(stringSlice, text, [1, -1]);
    }
    // QuickJS quotes the name in "'x' is not defined"; V8 does not.
    if (apply(stringStartsWith, text, ["ReferenceError: '"])) {
      const end = apply(stringIndexOf, text, ["' is not defined"]);
      const lineEnd = apply(stringIndexOf, text, ['\n']);
      if (end !== -1 && (lineEnd === -1 || end < lineEnd)) {
        text = 'ReferenceError: ' + apply(stringSlice, text, [17, end]) + apply(stringSlice, text, [end + 1]);
      }
    }
    let trimmed = trimFrames(text);
    while (trimmed.length > 0 && trimmed[trimmed.length - 1] === '\n') trimmed = apply(stringSlice, trimmed, [0, -1]);
    return trimmed + '\n';
  };

  return {
    /** `inspect` of a step's trailing value, or null for undefined (a statement). */
    formatResult: (value) => (value === undefined ? null : inspect(value)),
    formatUncaught,
    nextDue,
    runDueTimer,
    clearTimers: () => apply(mapClear, pending, []),
    takeUnhandledRejections,
  };
});
