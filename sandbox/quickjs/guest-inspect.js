// The guest-side formatter of a JavaScript episode: Node 20's `util.inspect` and `util.format`,
// evaluated INSIDE QuickJS so that only strings ever reach the host. It is read as text and
// evaluated as a script (never imported by Node); the script's value is one function:
//
//   createInspect(hooks?) -> { inspect, format, formatError }
//
//   hooks.promiseState(p)   optional, native: [state, value] of the promise p, state being
//                           'pending' | 'fulfilled' | 'rejected', read without running guest code;
//                           undefined (or a throw) when p is not a promise. It is called only for
//                           objects whose prototype chain holds Promise.prototype, or that have no
//                           known prototype at all. Without it a promise prints `Promise { <unknown> }`.
//   inspect(value, options?) the string util.inspect(value, options) prints in Node 20. Options read
//                           (own data properties only): depth (2; null = no limit), showHidden,
//                           breakLength (80), compact (3), maxArrayLength (100), maxStringLength
//                           (10000), sorted, numericSeparator. Colors, getters, showProxy and
//                           customInspect do not exist here.
//   format(...args)          util.format(...args): what console.log prints.
//   formatError(e)           what Node prints for an uncaught e, without the `Uncaught ` prefix that
//                           the caller adds for non-errors: inspect(e), whose error branch turns a
//                           QuickJS stack ("    at f (step.js:1:20)\n", no header) into Node's
//                           "Error: boom\n    at f (step.js:1:20)".
//
// None of the three throws, whatever the value: a part that throws (a Proxy trap) prints
// `<Inspection threw (message)>` in its place, an error's `name`, `message` or `stack` that throws
// counts as absent, a stack overflow prints Node's "Inspection interrupted prematurely", and the
// whole output stops with `...` past MAX_OUTPUT_CHARS. The one throw that passes is QuickJS's
// uncatchable interrupt, so that the host's deadline still ends a step formatting a huge value.
// Getters are never run; what Node itself runs still runs (a Symbol.toStringTag or static `name`
// getter, an error's `name`/`message`/`stack`, `%s`'s toString, `%d`'s valueOf, `%j`'s toJSON).
//
// It is a port of Node v20.20.2's lib/internal/util/inspect.js
// (https://github.com/nodejs/node/blob/v20.20.2/lib/internal/util/inspect.js), function for function,
// so that its output matches Node's byte for byte on everything QuickJS can observe. Where V8
// internals were used (proxy and promise details, previews of iterators and weak collections,
// type checks), this file uses the brand checks of the built-ins themselves or says why it differs.
//
// Guest code runs after this factory, and it may replace or delete any built-in (Object.keys = null,
// Array.prototype.join = ..., a throwing getter on Object.prototype.x, a setter on
// Array.prototype[0]). So, as Node does with its primordials, every built-in is captured once, below,
// when createInspect runs; methods are called uncurried (`StringPrototypeSlice(s, 0, 3)`), never off a
// prototype; the arrays built here have a null prototype (no inherited setter catches a write);
// descriptors get a null prototype before `.get` or `.value` is read; no for-of, spread of arrays
// or method call on a guest object is used.
(function createInspect(hooks) {
  'use strict';

  // ---- Built-ins, captured while they are still the real ones --------------------------------
  const ReflectApply = Reflect.apply;
  const ReflectOwnKeys = Reflect.ownKeys;
  const FunctionPrototype = Function.prototype;
  const FunctionCtor = Function;
  const FunctionPrototypeBind = FunctionPrototype.bind;
  const FunctionPrototypeCallRaw = FunctionPrototype.call;
  // `uncurryThis(String.prototype.slice)(s, 0, 3)` is `s.slice(0, 3)` with the slice captured now:
  // a bound `call`, whose target and `this` later tampering cannot reach.
  const uncurryThis = (fn) => ReflectApply(FunctionPrototypeBind, FunctionPrototypeCallRaw, [fn]);
  const ObjectCtor = Object;
  const ObjectPrototype = Object.prototype;
  const ObjectGetPrototypeOf = Object.getPrototypeOf;
  const ObjectSetPrototypeOf = Object.setPrototypeOf;
  const ObjectGetOwnPropertyDescriptorRaw = Object.getOwnPropertyDescriptor;
  const ObjectGetOwnPropertyNames = Object.getOwnPropertyNames;
  const ObjectGetOwnPropertySymbols = Object.getOwnPropertySymbols;
  const ObjectKeys = Object.keys;
  const ObjectIs = Object.is;
  const ObjectPrototypeHasOwnProperty = uncurryThis(ObjectPrototype.hasOwnProperty);
  const ObjectPrototypePropertyIsEnumerable = uncurryThis(ObjectPrototype.propertyIsEnumerable);
  const ObjectPrototypeToString = uncurryThis(ObjectPrototype.toString);
  const FunctionPrototypeToString = uncurryThis(FunctionPrototype.toString);
  const FunctionPrototypeSymbolHasInstance = uncurryThis(FunctionPrototype[Symbol.hasInstance]);
  const ArrayIsArray = Array.isArray;
  const ArrayPrototypeJoin = uncurryThis(Array.prototype.join);
  const ArrayPrototypeSort = uncurryThis(Array.prototype.sort);
  const StringCtor = String;
  const NumberCtor = Number;
  const StringPrototypeCharCodeAt = uncurryThis(String.prototype.charCodeAt);
  const StringPrototypeCodePointAt = uncurryThis(String.prototype.codePointAt);
  const StringPrototypeSlice = uncurryThis(String.prototype.slice);
  const StringPrototypeIndexOf = uncurryThis(String.prototype.indexOf);
  const StringPrototypeLastIndexOf = uncurryThis(String.prototype.lastIndexOf);
  const StringPrototypeIncludes = uncurryThis(String.prototype.includes);
  const StringPrototypeStartsWith = uncurryThis(String.prototype.startsWith);
  const StringPrototypeEndsWith = uncurryThis(String.prototype.endsWith);
  const StringPrototypeRepeat = uncurryThis(String.prototype.repeat);
  const StringPrototypePadStart = uncurryThis(String.prototype.padStart);
  const StringPrototypePadEnd = uncurryThis(String.prototype.padEnd);
  const StringPrototypeNormalize = typeof String.prototype.normalize === 'function' ?
    uncurryThis(String.prototype.normalize) : (s) => s;
  const StringPrototypeValueOf = uncurryThis(String.prototype.valueOf);
  const NumberPrototypeValueOf = uncurryThis(Number.prototype.valueOf);
  const NumberPrototypeToString = uncurryThis(Number.prototype.toString);
  const NumberIsNaN = Number.isNaN;
  const NumberIsFinite = Number.isFinite;
  const NumberParseInt = Number.parseInt;
  const NumberParseFloat = Number.parseFloat;
  const BooleanPrototypeValueOf = uncurryThis(Boolean.prototype.valueOf);
  const BigIntPrototypeValueOf = typeof BigInt === 'function' ? uncurryThis(BigInt.prototype.valueOf) : undefined;
  const SymbolPrototypeToString = uncurryThis(Symbol.prototype.toString);
  const SymbolPrototypeValueOf = uncurryThis(Symbol.prototype.valueOf);
  const SymbolToStringTag = Symbol.toStringTag;
  const SymbolToPrimitive = Symbol.toPrimitive;
  const MathMin = Math.min;
  const MathMax = Math.max;
  const MathFloor = Math.floor;
  const MathRound = Math.round;
  const MathSqrt = Math.sqrt;
  const MathTrunc = Math.trunc;
  const DatePrototypeGetTime = uncurryThis(Date.prototype.getTime);
  const DatePrototypeToISOString = uncurryThis(Date.prototype.toISOString);
  const DatePrototypeToString = uncurryThis(Date.prototype.toString);
  const RegExpPrototype = RegExp.prototype;
  const RegExpPrototypeExec = uncurryThis(RegExp.prototype.exec);
  const ErrorPrototype = Error.prototype;
  const ErrorIsError = typeof Error.isError === 'function' ? Error.isError : undefined;
  const MapCtor = Map;
  const MapPrototypeGet = uncurryThis(Map.prototype.get);
  const MapPrototypeSet = uncurryThis(Map.prototype.set);
  const MapPrototypeEntries = uncurryThis(Map.prototype.entries);
  const SetCtor = Set;
  const SetPrototypeAdd = uncurryThis(Set.prototype.add);
  const SetPrototypeHas = uncurryThis(Set.prototype.has);
  const SetPrototypeValues = uncurryThis(Set.prototype.values);
  const MapIteratorPrototype = ObjectGetPrototypeOf(new Map().entries());
  const SetIteratorPrototype = ObjectGetPrototypeOf(new Set().values());
  const MapIteratorNext = uncurryThis(MapIteratorPrototype.next);
  const SetIteratorNext = uncurryThis(SetIteratorPrototype.next);
  const WeakMapPrototypeHas = uncurryThis(WeakMap.prototype.has);
  const WeakSetPrototypeHas = uncurryThis(WeakSet.prototype.has);
  const TypedArrayPrototype = ObjectGetPrototypeOf(Uint8Array.prototype);
  const Uint8ArrayCtor = Uint8Array;
  const PromisePrototype = Promise.prototype;
  const AsyncFunctionPrototype = ObjectGetPrototypeOf(async function () {});
  const GeneratorFunctionPrototype = ObjectGetPrototypeOf(function* () {});
  const AsyncGeneratorFunctionPrototype = ObjectGetPrototypeOf(async function* () {});

  /** A getter of a built-in prototype, uncurried; undefined when this engine lacks it. */
  const getterOf = (proto, key) => {
    const desc = proto === undefined ? undefined : ObjectGetOwnPropertyDescriptorRaw(proto, key);
    return desc !== undefined && typeof desc.get === 'function' ? uncurryThis(desc.get) : undefined;
  };
  const MapPrototypeGetSize = getterOf(Map.prototype, 'size');
  const SetPrototypeGetSize = getterOf(Set.prototype, 'size');
  const TypedArrayPrototypeGetLength = getterOf(TypedArrayPrototype, 'length');
  const TypedArrayPrototypeGetSymbolToStringTag = getterOf(TypedArrayPrototype, SymbolToStringTag);
  const ArrayBufferPrototypeGetByteLength = getterOf(ArrayBuffer.prototype, 'byteLength');
  const SharedArrayBufferPrototype = typeof SharedArrayBuffer === 'function' ? SharedArrayBuffer.prototype : undefined;
  const SharedArrayBufferPrototypeGetByteLength = getterOf(SharedArrayBufferPrototype, 'byteLength');
  const DataViewPrototypeGetByteLength = getterOf(DataView.prototype, 'byteLength');
  const DataViewPrototypeGetByteOffset = getterOf(DataView.prototype, 'byteOffset');
  const DataViewPrototypeGetBuffer = getterOf(DataView.prototype, 'buffer');
  const RegExpPrototypeGetSource = getterOf(RegExpPrototype, 'source');
  // RegExp.prototype.flags reads `this.global` and the others through [[Get]], which guest code
  // can redefine; each flag getter on its own checks the internal slot instead. Spec order: dgimsuvy.
  const regExpFlagGetters = [];
  {
    const flagNames = ['hasIndices', 'global', 'ignoreCase', 'multiline', 'dotAll', 'unicode', 'unicodeSets', 'sticky'];
    const flagChars = 'dgimsuvy';
    for (let i = 0; i < flagNames.length; i++) {
      const get = getterOf(RegExpPrototype, flagNames[i]);
      if (get !== undefined) regExpFlagGetters[regExpFlagGetters.length] = { __proto__: null, get, char: flagChars[i] };
    }
  }
  const promiseStateHook = hooks !== null && typeof hooks === 'object' && typeof hooks.promiseState === 'function' ?
    hooks.promiseState : undefined;

  // ---- Safe little tools: lists, descriptors, strings -------------------------------------
  /** A list with no prototype: `list[list.length] = x` reaches no inherited setter. */
  const newList = () => ObjectSetPrototypeOf([], null);
  /** An array made by a built-in (Object.keys), made safe to write to. */
  const asList = (array) => ObjectSetPrototypeOf(array, null);
  const push = (list, value) => { list[list.length] = value; };
  const join = (list, separator) => ArrayPrototypeJoin(list, separator);
  const listIncludes = (list, value) => {
    for (let i = 0; i < list.length; i++) if (list[i] === value) return true;
    return false;
  };
  const listIndexOf = (list, value) => {
    for (let i = 0; i < list.length; i++) if (list[i] === value) return i;
    return -1;
  };
  const listRemoveAt = (list, index, count) => {
    const n = list.length;
    for (let i = index; i + count < n; i++) list[i] = list[i + count];
    list.length = MathMax(index, n - count);
  };
  const listUnshift = (list, items) => {
    const n = list.length;
    const k = items.length;
    for (let i = n - 1; i >= 0; i--) list[i + k] = list[i];
    for (let i = 0; i < k; i++) list[i] = items[i];
  };
  const listFrom = (items) => {
    const list = newList();
    for (let i = 0; i < items.length; i++) list[i] = items[i];
    return list;
  };
  /** An own property descriptor whose `.get`/`.value` cannot come from a polluted Object.prototype. */
  const getOwnDesc = (obj, key) => {
    const desc = ObjectGetOwnPropertyDescriptorRaw(obj, key);
    return desc === undefined ? undefined : ObjectSetPrototypeOf(desc, null);
  };
  /** The value of an own data property, or undefined: never runs a getter. */
  const ownData = (obj, key) => {
    const desc = getOwnDesc(obj, key);
    return desc === undefined ? undefined : desc.value;
  };
  /** `obj[key]` through [[Get]] (getters run, as in Node), or undefined when that throws. */
  const tryGet = (obj, key) => {
    try {
      return obj[key];
    } catch {
      return undefined;
    }
  };
  /** `obj[key]` through [[Get]], or `fallback` when that throws. */
  const tryGetOr = (obj, key, fallback) => {
    try {
      return obj[key];
    } catch {
      return fallback;
    }
  };
  /** `String(v)` that never throws: symbols print as in Node; a throwing toString gives `fallback`. */
  const safeString = (value, fallback) => {
    if (typeof value === 'string') return value;
    if (typeof value === 'symbol') return SymbolPrototypeToString(value);
    try {
      return StringCtor(value);
    } catch {
      return fallback;
    }
  };
  // Near the end of the stack even looking at a caught error overflows again. The two helpers
  // below then throw the original error on: a caller further up, with more stack, decides.
  /** What a caught throw says, read without running guest code. */
  const describeThrown = (err) => {
    if (err === null || (typeof err !== 'object' && typeof err !== 'function')) return safeString(err, 'unknown');
    let message;
    try {
      message = ownData(err, 'message');
    } catch {
      throw err;
    }
    return typeof message === 'string' ? message : 'unknown';
  };
  /** QuickJS throws InternalError "stack overflow"; V8 (the Node tests) a RangeError. */
  const isStackOverflowError = (err) => {
    if (err === null || typeof err !== 'object') return false;
    let message;
    try {
      message = ownData(err, 'message');
    } catch {
      throw err;
    }
    return message === 'stack overflow' || message === 'Maximum call stack size exceeded';
  };
  const HEX = '0123456789abcdef';
  const hexByte = (byte) => HEX[byte >> 4] + HEX[byte & 15];

  // ---- Brand checks: what V8's util.types tells Node, asked of the built-ins themselves ------
  const brand = (check) => (value) => {
    if (check === undefined) return false;
    try {
      check(value);
      return true;
    } catch {
      return false;
    }
  };
  const isMap = brand(MapPrototypeGetSize);
  const isSet = brand(SetPrototypeGetSize);
  const isWeakMap = brand((v) => WeakMapPrototypeHas(v, undefined));
  const isWeakSet = brand((v) => WeakSetPrototypeHas(v, undefined));
  const isDate = brand(DatePrototypeGetTime);
  const isRegExp = (v) => v !== RegExpPrototype && brand(RegExpPrototypeGetSource)(v);
  const isArrayBuffer = brand(ArrayBufferPrototypeGetByteLength);
  const isSharedArrayBuffer = brand(SharedArrayBufferPrototypeGetByteLength);
  const isDataView = brand(DataViewPrototypeGetByteLength);
  const isNumberObject = brand(NumberPrototypeValueOf);
  const isStringObject = brand(StringPrototypeValueOf);
  const isBooleanObject = brand(BooleanPrototypeValueOf);
  const isBigIntObject = brand(BigIntPrototypeValueOf);
  const isSymbolObject = brand(SymbolPrototypeValueOf);
  const typedArrayName = (v) => {
    try {
      return TypedArrayPrototypeGetSymbolToStringTag(v);
    } catch {
      return undefined;
    }
  };
  const isNativeError = (v) => {
    if (ErrorIsError !== undefined) return ErrorIsError(v);
    try {
      return ObjectPrototypeToString(v) === '[object Error]';
    } catch {
      return false;
    }
  };
  /**
   * The state of a promise from the host, or undefined when it is none (or no host answers).
   * A real promise is never fulfilled with itself, so [fulfilled, p] for p means "not a promise".
   */
  const promiseDetails = (value) => {
    if (promiseStateHook === undefined) return undefined;
    let details;
    try {
      details = promiseStateHook(value);
    } catch {
      return undefined;
    }
    if (details === null || typeof details !== 'object') return undefined;
    const state = ownData(details, 0);
    const result = ownData(details, 1);
    if (state !== 'pending' && state !== 'fulfilled' && state !== 'rejected') return undefined;
    if (state === 'fulfilled' && result === value) return undefined;
    return { __proto__: null, state, result };
  };

  const K_NONE = 0;
  const K_ARRAY = 1;
  const K_SET = 2;
  const K_MAP = 3;
  const K_TYPED = 4;
  const K_MAP_ITER = 5;
  const K_SET_ITER = 6;
  const K_FUNCTION = 7;
  const K_REGEXP = 8;
  const K_DATE = 9;
  const K_ERROR = 10;
  const K_ARRAY_BUFFER = 11;
  const K_SHARED_ARRAY_BUFFER = 12;
  const K_DATA_VIEW = 13;
  const K_PROMISE = 14;
  const K_WEAK_SET = 15;
  const K_WEAK_MAP = 16;
  const K_BOXED = 17;
  const K_OBJECT = 18; // a hint only: Object.prototype reached first
  const K_BOXED_NUMBER = 19; // hints, confirmed into K_BOXED
  const K_BOXED_STRING = 20;
  const K_BOXED_BOOLEAN = 21;
  const K_BOXED_BIGINT = 22;
  const K_BOXED_SYMBOL = 23;

  // The first of these prototypes met on an object's chain says what to check it for: a handful of
  // brand checks per object would cost a thrown TypeError each (~2.5 µs in QuickJS).
  const knownPrototypes = new MapCtor();
  MapPrototypeSet(knownPrototypes, ObjectPrototype, K_OBJECT);
  MapPrototypeSet(knownPrototypes, Array.prototype, K_NONE);
  MapPrototypeSet(knownPrototypes, FunctionPrototype, K_NONE);
  MapPrototypeSet(knownPrototypes, Map.prototype, K_MAP);
  MapPrototypeSet(knownPrototypes, Set.prototype, K_SET);
  MapPrototypeSet(knownPrototypes, WeakMap.prototype, K_WEAK_MAP);
  MapPrototypeSet(knownPrototypes, WeakSet.prototype, K_WEAK_SET);
  MapPrototypeSet(knownPrototypes, TypedArrayPrototype, K_TYPED);
  MapPrototypeSet(knownPrototypes, MapIteratorPrototype, K_MAP_ITER);
  MapPrototypeSet(knownPrototypes, SetIteratorPrototype, K_SET_ITER);
  MapPrototypeSet(knownPrototypes, RegExpPrototype, K_REGEXP);
  MapPrototypeSet(knownPrototypes, Date.prototype, K_DATE);
  MapPrototypeSet(knownPrototypes, ErrorPrototype, K_ERROR);
  MapPrototypeSet(knownPrototypes, ArrayBuffer.prototype, K_ARRAY_BUFFER);
  if (SharedArrayBufferPrototype !== undefined) {
    MapPrototypeSet(knownPrototypes, SharedArrayBufferPrototype, K_SHARED_ARRAY_BUFFER);
  }
  MapPrototypeSet(knownPrototypes, DataView.prototype, K_DATA_VIEW);
  MapPrototypeSet(knownPrototypes, PromisePrototype, K_PROMISE);
  MapPrototypeSet(knownPrototypes, Number.prototype, K_BOXED_NUMBER);
  MapPrototypeSet(knownPrototypes, String.prototype, K_BOXED_STRING);
  MapPrototypeSet(knownPrototypes, Boolean.prototype, K_BOXED_BOOLEAN);
  if (typeof BigInt === 'function') MapPrototypeSet(knownPrototypes, BigInt.prototype, K_BOXED_BIGINT);
  MapPrototypeSet(knownPrototypes, Symbol.prototype, K_BOXED_SYMBOL);

  /** Prototype chains longer than this (a Proxy can fake an endless one) are not followed. */
  const MAX_PROTO_CHAIN = 1000;

  /** Every check, in Node's order: for objects whose chain has no known prototype. */
  const probeKind = (value) => {
    if (isSet(value)) return K_SET;
    if (isMap(value)) return K_MAP;
    if (typedArrayName(value) !== undefined) return K_TYPED;
    if (isRegExp(value)) return K_REGEXP;
    if (isDate(value)) return K_DATE;
    if (isNativeError(value)) return K_ERROR;
    if (isArrayBuffer(value)) return K_ARRAY_BUFFER;
    if (isSharedArrayBuffer(value)) return K_SHARED_ARRAY_BUFFER;
    if (isDataView(value)) return K_DATA_VIEW;
    if (promiseDetails(value) !== undefined) return K_PROMISE;
    if (isWeakSet(value)) return K_WEAK_SET;
    if (isWeakMap(value)) return K_WEAK_MAP;
    if (isNumberObject(value) || isStringObject(value) || isBooleanObject(value) ||
        isBigIntObject(value) || isSymbolObject(value)) {
      return K_BOXED;
    }
    return K_NONE;
  };

  const confirmKind = (value, hint) => {
    switch (hint) {
      case K_NONE: return K_NONE;
      // Node asks isNativeError first; Object.setPrototypeOf(err, Foo.prototype) stays an error.
      case K_OBJECT: return ErrorIsError !== undefined && ErrorIsError(value) ? K_ERROR : K_NONE;
      // Node's isError is isNativeError || instanceof Error: the chain is enough.
      case K_ERROR: return K_ERROR;
      // The host tells a promise; without it, the chain is all there is.
      case K_PROMISE:
        return promiseStateHook === undefined || promiseDetails(value) !== undefined ? K_PROMISE : K_NONE;
      // No brand check can tell an iterator without consuming it.
      case K_MAP_ITER: return K_MAP_ITER;
      case K_SET_ITER: return K_SET_ITER;
      case K_MAP: return isMap(value) ? K_MAP : probeKind(value);
      case K_SET: return isSet(value) ? K_SET : probeKind(value);
      case K_WEAK_MAP: return isWeakMap(value) ? K_WEAK_MAP : probeKind(value);
      case K_WEAK_SET: return isWeakSet(value) ? K_WEAK_SET : probeKind(value);
      case K_TYPED: return typedArrayName(value) !== undefined ? K_TYPED : probeKind(value);
      case K_REGEXP: return isRegExp(value) ? K_REGEXP : probeKind(value);
      case K_DATE: return isDate(value) ? K_DATE : probeKind(value);
      case K_ARRAY_BUFFER: return isArrayBuffer(value) ? K_ARRAY_BUFFER : probeKind(value);
      case K_SHARED_ARRAY_BUFFER: return isSharedArrayBuffer(value) ? K_SHARED_ARRAY_BUFFER : probeKind(value);
      case K_DATA_VIEW: return isDataView(value) ? K_DATA_VIEW : probeKind(value);
      case K_BOXED_NUMBER: return isNumberObject(value) ? K_BOXED : probeKind(value);
      case K_BOXED_STRING: return isStringObject(value) ? K_BOXED : probeKind(value);
      case K_BOXED_BOOLEAN: return isBooleanObject(value) ? K_BOXED : probeKind(value);
      case K_BOXED_BIGINT: return isBigIntObject(value) ? K_BOXED : probeKind(value);
      case K_BOXED_SYMBOL: return isSymbolObject(value) ? K_BOXED : probeKind(value);
      default: return probeKind(value);
    }
  };

  /** What kind of built-in `value` (an object) is: V8's util.types, as far as QuickJS can tell. */
  const getKind = (value) => {
    if (typeof value === 'function') return K_FUNCTION;
    if (ArrayIsArray(value)) return K_ARRAY;
    let proto = value;
    for (let n = 0; n < MAX_PROTO_CHAIN; n++) {
      proto = ObjectGetPrototypeOf(proto);
      if (proto === null) break;
      const hint = MapPrototypeGet(knownPrototypes, proto);
      if (hint !== undefined) return confirmKind(value, hint);
    }
    return probeKind(value);
  };

  /** V8's GetConstructorName, for objects whose chain names no constructor: their built-in class. */
  const internalGetConstructorName = (value) => {
    switch (getKind(value)) {
      case K_ARRAY: return 'Array';
      case K_FUNCTION: return 'Function';
      case K_SET: return 'Set';
      case K_MAP: return 'Map';
      case K_TYPED: return typedArrayName(value);
      case K_REGEXP: return 'RegExp';
      case K_DATE: return 'Date';
      case K_ERROR: return 'Error';
      case K_ARRAY_BUFFER: return 'ArrayBuffer';
      case K_SHARED_ARRAY_BUFFER: return 'SharedArrayBuffer';
      case K_DATA_VIEW: return 'DataView';
      case K_PROMISE: return 'Promise';
      case K_WEAK_SET: return 'WeakSet';
      case K_WEAK_MAP: return 'WeakMap';
      case K_BOXED:
        if (isNumberObject(value)) return 'Number';
        if (isStringObject(value)) return 'String';
        if (isBooleanObject(value)) return 'Boolean';
        if (isBigIntObject(value)) return 'BigInt';
        return 'Symbol';
      default: return 'Object';
    }
  };

  // Node lists the capitalised globals of its realm as built-ins; here, those of the guest's realm
  // as they are now (before guest code could add its own).
  const builtInObjects = new SetCtor();
  {
    const names = ObjectGetOwnPropertyNames(globalThis);
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      if (isBuiltInName(name)) SetPrototypeAdd(builtInObjects, name);
    }
  }
  /** /^[A-Z][a-zA-Z0-9]+$/ */
  function isBuiltInName(name) {
    if (typeof name !== 'string' || name.length < 2) return false;
    const first = StringPrototypeCharCodeAt(name, 0);
    if (first < 65 || first > 90) return false;
    for (let i = 1; i < name.length; i++) {
      const c = StringPrototypeCharCodeAt(name, i);
      if (!((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57))) return false;
    }
    return true;
  }

  // ---- Constants from Node --------------------------------------------------------------------
  const inspectDefaultOptions = {
    __proto__: null,
    showHidden: false,
    depth: 2,
    maxArrayLength: 100,
    maxStringLength: 10000,
    breakLength: 80,
    compact: 3,
    sorted: false,
    numericSeparator: false,
  };
  const kObjectType = 0;
  const kArrayType = 1;
  const kArrayExtrasType = 2;
  const kMinLineLength = 16;

  /**
   * The whole output stops (`...`) past this many characters. Node stops at ~2 ** 27 per level;
   * a QuickJS heap is capped far lower, and a host reads no more than a few MB of a step anyway.
   */
  const MAX_OUTPUT_CHARS = 4 * 1024 * 1024;
  /** Nesting never goes deeper than this, even with depth: null (Node's ends in a stack overflow). */
  const MAX_NESTING = 400;
  /**
   * Non-index keys of an array come from Object.keys, which lists every index too: 1e6 strings,
   * tens of MB of a capped heap. Longer arrays show their symbol keys only (see the report).
   */
  const ARRAY_KEY_SCAN_LIMIT = 65536;
  /** Holes in a long array are found by probing indices, at most this many before Object.keys. */
  const HOLE_PROBE_LIMIT = 65536;

  // Escaped control characters (plus the single quote and the backslash).
  const meta = [
    '\\x00', '\\x01', '\\x02', '\\x03', '\\x04', '\\x05', '\\x06', '\\x07', // x07
    '\\b', '\\t', '\\n', '\\x0B', '\\f', '\\r', '\\x0E', '\\x0F', // x0F
    '\\x10', '\\x11', '\\x12', '\\x13', '\\x14', '\\x15', '\\x16', '\\x17', // x17
    '\\x18', '\\x19', '\\x1A', '\\x1B', '\\x1C', '\\x1D', '\\x1E', '\\x1F', // x1F
    '', '', '', '', '', '', '', "\\'", '', '', '', '', '', '', '', '', // x2F
    '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', // x3F
    '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', // x4F
    '', '', '', '', '', '', '', '', '', '', '', '', '\\\\', '', '', '', // x5F
    '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', // x6F
    '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '\\x7F', // x7F
    '\\x80', '\\x81', '\\x82', '\\x83', '\\x84', '\\x85', '\\x86', '\\x87', // x87
    '\\x88', '\\x89', '\\x8A', '\\x8B', '\\x8C', '\\x8D', '\\x8E', '\\x8F', // x8F
    '\\x90', '\\x91', '\\x92', '\\x93', '\\x94', '\\x95', '\\x96', '\\x97', // x97
    '\\x98', '\\x99', '\\x9A', '\\x9B', '\\x9C', '\\x9D', '\\x9E', '\\x9F', // x9F
  ];
  ObjectSetPrototypeOf(meta, null);

  // ---- Strings ---------------------------------------------------------------------------------
  function addQuotes(str, quotes) {
    if (quotes === -1) return `"${str}"`;
    if (quotes === -2) return `\`${str}\``;
    return `'${str}'`;
  }

  /**
   * Node's strEscape: the quote is ' unless the string holds one (then ", then `); control
   * characters, the backslash, the chosen quote and lone surrogates are escaped. Node takes regex
   * fast paths first; they give the same string as this loop, which needs no RegExp.prototype.
   */
  function strEscape(str) {
    let singleQuote = 39;
    if (StringPrototypeIncludes(str, "'")) {
      if (!StringPrototypeIncludes(str, '"')) {
        singleQuote = -1;
      } else if (!StringPrototypeIncludes(str, '`') && !StringPrototypeIncludes(str, '${')) {
        singleQuote = -2;
      }
    }
    return addQuotes(escapeChars(str, singleQuote), singleQuote);
  }

  /** Escapes what strEscape escapes; `quote` 39 escapes the single quote too, -1/-2 do not. */
  function escapeChars(str, quote) {
    let result = '';
    let last = 0;
    for (let i = 0; i < str.length; i++) {
      const point = StringPrototypeCharCodeAt(str, i);
      if (point === quote || point === 92 || point < 32 || (point > 126 && point < 160)) {
        if (last === i) {
          result += meta[point];
        } else {
          result += `${StringPrototypeSlice(str, last, i)}${meta[point]}`;
        }
        last = i + 1;
      } else if (point >= 0xd800 && point <= 0xdfff) {
        if (point <= 0xdbff && i + 1 < str.length) {
          const next = StringPrototypeCharCodeAt(str, i + 1);
          if (next >= 0xdc00 && next <= 0xdfff) {
            i++;
            continue;
          }
        }
        result += `${StringPrototypeSlice(str, last, i)}\\u${NumberPrototypeToString(point, 16)}`;
        last = i + 1;
      }
    }
    if (last === 0) return str;
    if (last !== str.length) result += StringPrototypeSlice(str, last);
    return result;
  }

  /** Node's `RegExpPrototypeSymbolReplace(strEscapeSequencesReplacer, str, escapeFn)`. */
  const escapeAll = (str) => escapeChars(str, 39);

  /** /^[a-zA-Z_][a-zA-Z_0-9]*$/ */
  function isIdentifierKey(key) {
    if (key.length === 0) return false;
    for (let i = 0; i < key.length; i++) {
      const c = StringPrototypeCharCodeAt(key, i);
      if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95) continue;
      if (i > 0 && c >= 48 && c <= 57) continue;
      return false;
    }
    return true;
  }

  /** /^(0|[1-9][0-9]*)$/ */
  function isNumberKey(key) {
    if (key.length === 0) return false;
    if (key === '0') return true;
    for (let i = 0; i < key.length; i++) {
      const c = StringPrototypeCharCodeAt(key, i);
      if (c < 48 || c > 57 || (i === 0 && c === 48)) return false;
    }
    return true;
  }

  /** An array index as V8 skips it: a canonical integer below 2 ** 32 - 1. */
  const isArrayIndexKey = (key) => typeof key === 'string' && isNumberKey(key) && +key < 4294967295;

  /** `str.split(/(?<=\n)/)`: lines, each keeping its newline. */
  function splitAfterNewlines(str) {
    const lines = newList();
    let start = 0;
    for (;;) {
      const nl = StringPrototypeIndexOf(str, '\n', start);
      if (nl === -1 || nl === str.length - 1) break;
      push(lines, StringPrototypeSlice(str, start, nl + 1));
      start = nl + 1;
    }
    push(lines, StringPrototypeSlice(str, start));
    return lines;
  }

  /** `str.replaceAll('\n', replacement)` */
  function replaceNewlines(str, replacement) {
    let result = '';
    let start = 0;
    for (;;) {
      const nl = StringPrototypeIndexOf(str, '\n', start);
      if (nl === -1) break;
      result += StringPrototypeSlice(str, start, nl) + replacement;
      start = nl + 1;
    }
    return start === 0 ? str : result + StringPrototypeSlice(str, start);
  }

  /** `str.split('\n')` */
  function splitLines(str) {
    const lines = newList();
    let start = 0;
    for (;;) {
      const nl = StringPrototypeIndexOf(str, '\n', start);
      if (nl === -1) break;
      push(lines, StringPrototypeSlice(str, start, nl));
      start = nl + 1;
    }
    push(lines, StringPrototypeSlice(str, start));
    return lines;
  }

  // Column widths for grouping array items. Node asks ICU (East Asian Width, Emoji_Presentation,
  // zero-width categories); these ranges cover the common scripts and emoji the same way.
  const zeroWidthRanges = [
    0x0000, 0x001f, 0x007f, 0x009f, 0x0300, 0x036f, 0x0483, 0x0489, 0x0591, 0x05bd, 0x0610, 0x061a,
    0x064b, 0x065f, 0x0670, 0x0670, 0x06d6, 0x06dc, 0x06df, 0x06e4, 0x0900, 0x0902, 0x093a, 0x093a,
    0x093c, 0x093c, 0x0941, 0x0948, 0x094d, 0x094d, 0x0e31, 0x0e31, 0x0e34, 0x0e3a, 0x0e47, 0x0e4e,
    0x1ab0, 0x1aff, 0x1dc0, 0x1dff, 0x200b, 0x200f, 0x202a, 0x202e, 0x2060, 0x2064, 0x20d0, 0x20ff,
    0xfe00, 0xfe0f, 0xfe20, 0xfe2f, 0xfeff, 0xfeff, 0x1f3fb, 0x1f3ff, 0xe0001, 0xe007f, 0xe0100, 0xe01ef,
  ];
  const wideRanges = [
    0x1100, 0x115f, 0x231a, 0x231b, 0x2329, 0x232a, 0x23e9, 0x23ec, 0x23f0, 0x23f0, 0x23f3, 0x23f3,
    0x25fd, 0x25fe, 0x2614, 0x2615, 0x2648, 0x2653, 0x267f, 0x267f, 0x2693, 0x2693, 0x26a1, 0x26a1,
    0x26aa, 0x26ab, 0x26bd, 0x26be, 0x26c4, 0x26c5, 0x26ce, 0x26ce, 0x26d4, 0x26d4, 0x26ea, 0x26ea,
    0x26f2, 0x26f3, 0x26f5, 0x26f5, 0x26fa, 0x26fa, 0x26fd, 0x26fd, 0x2705, 0x2705, 0x270a, 0x270b,
    0x2728, 0x2728, 0x274c, 0x274c, 0x274e, 0x274e, 0x2753, 0x2755, 0x2757, 0x2757, 0x2795, 0x2797,
    0x27b0, 0x27b0, 0x27bf, 0x27bf, 0x2b1b, 0x2b1c, 0x2b50, 0x2b50, 0x2b55, 0x2b55, 0x2e80, 0x303e,
    0x3041, 0x3247, 0x3250, 0x4dbf, 0x4e00, 0xa4cf, 0xa960, 0xa97f, 0xac00, 0xd7a3, 0xf900, 0xfaff,
    0xfe10, 0xfe19, 0xfe30, 0xfe6f, 0xff00, 0xff60, 0xffe0, 0xffe6, 0x16fe0, 0x18cff, 0x1b000, 0x1b2ff,
    0x1f004, 0x1f004, 0x1f0cf, 0x1f0cf, 0x1f18e, 0x1f18e, 0x1f191, 0x1f19a, 0x1f200, 0x1f251,
    0x1f300, 0x1f320, 0x1f32d, 0x1f335, 0x1f337, 0x1f37c, 0x1f37e, 0x1f393, 0x1f3a0, 0x1f3ca,
    0x1f3cf, 0x1f3d3, 0x1f3e0, 0x1f3f0, 0x1f3f4, 0x1f3f4, 0x1f3f8, 0x1f43e, 0x1f440, 0x1f440,
    0x1f442, 0x1f4fc, 0x1f4ff, 0x1f53d, 0x1f54b, 0x1f54e, 0x1f550, 0x1f567, 0x1f57a, 0x1f57a,
    0x1f595, 0x1f596, 0x1f5a4, 0x1f5a4, 0x1f5fb, 0x1f64f, 0x1f680, 0x1f6c5, 0x1f6cc, 0x1f6cc,
    0x1f6d0, 0x1f6d2, 0x1f6d5, 0x1f6d7, 0x1f6eb, 0x1f6ec, 0x1f6f4, 0x1f6fc, 0x1f7e0, 0x1f7eb,
    0x1f90c, 0x1f93a, 0x1f93c, 0x1f945, 0x1f947, 0x1f9ff, 0x1fa70, 0x1faff, 0x20000, 0x3fffd,
  ];
  ObjectSetPrototypeOf(zeroWidthRanges, null);
  ObjectSetPrototypeOf(wideRanges, null);
  function inRanges(ranges, code) {
    for (let i = 0; i < ranges.length; i += 2) {
      if (code < ranges[i]) return false;
      if (code <= ranges[i + 1]) return true;
    }
    return false;
  }
  /** Node's getStringWidth(str, false), ICU build: ASCII counts 1 (controls 0), the rest per code point. */
  function getStringWidth(str) {
    let width = 0;
    for (let i = 0; i < str.length; i++) {
      const code = StringPrototypeCharCodeAt(str, i);
      if (code >= 127) {
        const rest = StringPrototypeNormalize(StringPrototypeSlice(str, i), 'NFC');
        for (let j = 0; j < rest.length; j++) {
          const point = StringPrototypeCodePointAt(rest, j);
          if (point > 0xffff) j++;
          if (point === 0x00ad) width += 1;
          else if (inRanges(zeroWidthRanges, point)) width += 0;
          else if (inRanges(wideRanges, point)) width += 2;
          else width += 1;
        }
        break;
      }
      width += code >= 32 ? 1 : 0;
    }
    return width;
  }

  // ---- inspect ---------------------------------------------------------------------------------
  /** Reads the options Node's inspect knows, from own data properties only. */
  function newContext(opts) {
    const ctx = {
      __proto__: null,
      budget: { __proto__: null },
      indentationLvl: 0,
      seen: newList(),
      currentDepth: 0,
      circular: undefined,
      emitted: 0,
      showHidden: inspectDefaultOptions.showHidden,
      depth: inspectDefaultOptions.depth,
      maxArrayLength: inspectDefaultOptions.maxArrayLength,
      maxStringLength: inspectDefaultOptions.maxStringLength,
      breakLength: inspectDefaultOptions.breakLength,
      compact: inspectDefaultOptions.compact,
      sorted: inspectDefaultOptions.sorted,
      numericSeparator: inspectDefaultOptions.numericSeparator,
    };
    if (opts !== null && typeof opts === 'object') {
      const names = ['showHidden', 'depth', 'maxArrayLength', 'maxStringLength', 'breakLength', 'compact',
        'sorted', 'numericSeparator'];
      for (let i = 0; i < names.length; i++) {
        const desc = getOwnDesc(opts, names[i]);
        if (desc !== undefined && 'value' in desc) ctx[names[i]] = desc.value;
      }
    } else if (typeof opts === 'boolean') {
      ctx.showHidden = opts;
    }
    // Node tests `ctx.depth !== null` everywhere; Infinity says the same once.
    if (ctx.depth === null) ctx.depth = Infinity;
    if (typeof ctx.depth !== 'number' || NumberIsNaN(ctx.depth)) ctx.depth = inspectDefaultOptions.depth;
    if (ctx.maxArrayLength === null) ctx.maxArrayLength = Infinity;
    if (ctx.maxStringLength === null) ctx.maxStringLength = Infinity;
    if (typeof ctx.maxArrayLength !== 'number' || NumberIsNaN(ctx.maxArrayLength)) ctx.maxArrayLength = 100;
    if (typeof ctx.maxStringLength !== 'number' || NumberIsNaN(ctx.maxStringLength)) ctx.maxStringLength = 10000;
    if (typeof ctx.breakLength !== 'number' || NumberIsNaN(ctx.breakLength)) ctx.breakLength = 80;
    if (ctx.compact !== true && ctx.compact !== false && typeof ctx.compact !== 'number') ctx.compact = 3;
    return ctx;
  }

  /**
   * Node's util.inspect(value, options), without colors, custom inspect functions or proxy
   * detection. Never throws (but lets QuickJS's uncatchable interrupt through).
   */
  function inspect(value, opts) {
    try {
      return formatValue(newContext(opts), value, 0);
    } catch (err) {
      try {
        return `<Inspection threw (${describeThrown(err)})>`;
      } catch {
        return '<Inspection threw>';
      }
    }
  }

  const overBudget = (ctx) => ctx.emitted > MAX_OUTPUT_CHARS;

  function getCtxName(value, constructor, tag) {
    try {
      return StringPrototypeSlice(getCtxStyle(value, constructor, tag), 0, -1);
    } catch {
      return 'Object';
    }
  }

  function formatValue(ctx, value, recurseTimes, typedArray) {
    // Primitive types cannot have properties.
    if (typeof value !== 'object' && typeof value !== 'function') {
      return formatPrimitive(value, ctx);
    }
    if (value === null) {
      ctx.emitted += 4;
      return 'null';
    }
    // Node asks V8 whether `value` is a Proxy and formats its target without running a trap.
    // QuickJS cannot tell; a Proxy is formatted as the object it pretends to be, traps running.
    // Node also calls value[util.inspect.custom] here; there is no such method in a guest.

    // Using an array here is actually better for the average case than using
    // a Set. `seen` will only check for the depth and will never grow too large.
    if (listIncludes(ctx.seen, value)) {
      let index = 1;
      if (ctx.circular === undefined) {
        ctx.circular = new MapCtor();
        MapPrototypeSet(ctx.circular, value, index);
      } else {
        index = MapPrototypeGet(ctx.circular, value);
        if (index === undefined) {
          index = MapPrototypeGetSize(ctx.circular) + 1;
          MapPrototypeSet(ctx.circular, value, index);
        }
      }
      ctx.emitted += 14;
      return `[Circular *${index}]`;
    }

    // Array.isArray throws for a revoked Proxy only: the one kind of Proxy a guest can see.
    try {
      ArrayIsArray(value);
    } catch {
      ctx.emitted += 15;
      return '<Revoked Proxy>';
    }

    const seenLength = ctx.seen.length;
    const indentationLvl = ctx.indentationLvl;
    const currentDepth = ctx.currentDepth;
    try {
      return formatRaw(ctx, value, recurseTimes, typedArray);
    } catch (err) {
      // A trap, a getter or the engine threw: this value prints as what went wrong; its
      // siblings and parents go on as if nothing happened.
      ctx.seen.length = seenLength;
      ctx.indentationLvl = indentationLvl;
      ctx.currentDepth = currentDepth;
      if (isStackOverflowError(err)) {
        return `[${getCtxName(value, 'Object', '')}: Inspection interrupted ` +
          'prematurely. Maximum call stack size exceeded.]';
      }
      return `<Inspection threw (${describeThrown(err)})>`;
    }
  }

  /** `value[Symbol.toStringTag]` as Node reads it (a getter runs), '' when it throws. */
  function readTag(value) {
    try {
      return value[SymbolToStringTag];
    } catch {
      return '';
    }
  }

  function formatRaw(ctx, value, recurseTimes, typedArray) {
    let keys;
    let protoProps;
    if (ctx.showHidden && recurseTimes <= ctx.depth) {
      protoProps = newList();
    }

    const constructor = getConstructorName(value, ctx, recurseTimes, protoProps);
    // Reset the variable to check for this later on.
    if (protoProps !== undefined && protoProps.length === 0) {
      protoProps = undefined;
    }

    let tag = readTag(value);
    // Only list the tag in case it's non-enumerable / not an own property.
    // Otherwise we'd print this twice.
    if (typeof tag !== 'string' ||
        (tag !== '' &&
        (ctx.showHidden ?
          ObjectPrototypeHasOwnProperty :
          ObjectPrototypePropertyIsEnumerable)(value, SymbolToStringTag))) {
      tag = '';
    }
    let base = '';
    let formatter = getEmptyFormatArray;
    let braces;
    let noIterator = true;
    let extrasType = kObjectType;
    // Values of the built-in keys Node lists first (byteLength...), read through captured getters.
    let builtIns;
    const kind = getKind(value);

    // Node enters this branch when `Symbol.iterator in value`; a guest may have deleted
    // Array.prototype[Symbol.iterator], and an array is still an array here.
    if (kind === K_ARRAY || kind === K_SET || kind === K_MAP || kind === K_TYPED ||
        kind === K_MAP_ITER || kind === K_SET_ITER) {
      noIterator = false;
      if (kind === K_ARRAY) {
        const length = value.length;
        // Only set the constructor for non ordinary ("Array [...]") arrays.
        const prefix = (constructor !== 'Array' || tag !== '') ?
          getPrefix(constructor, tag, 'Array', `(${length})`) :
          '';
        keys = getOwnNonIndexProperties(value, ctx.showHidden, length);
        braces = [`${prefix}[`, ']'];
        if (length === 0 && keys.length === 0 && protoProps === undefined) {
          ctx.emitted += braces[0].length + 1;
          return `${braces[0]}]`;
        }
        extrasType = kArrayExtrasType;
        formatter = formatArray;
      } else if (kind === K_SET) {
        const size = SetPrototypeGetSize(value);
        const prefix = getPrefix(constructor, tag, 'Set', `(${size})`);
        keys = getKeys(value, ctx.showHidden);
        formatter = (ctx, v, recurseTimes) => formatSet(value, size, ctx, recurseTimes);
        if (size === 0 && keys.length === 0 && protoProps === undefined) {
          return `${prefix}{}`;
        }
        braces = [`${prefix}{`, '}'];
      } else if (kind === K_MAP) {
        const size = MapPrototypeGetSize(value);
        const prefix = getPrefix(constructor, tag, 'Map', `(${size})`);
        keys = getKeys(value, ctx.showHidden);
        formatter = (ctx, v, recurseTimes) => formatMap(value, size, ctx, recurseTimes);
        if (size === 0 && keys.length === 0 && protoProps === undefined) {
          return `${prefix}{}`;
        }
        braces = [`${prefix}{`, '}'];
      } else if (kind === K_TYPED) {
        const size = TypedArrayPrototypeGetLength(value);
        keys = getOwnNonIndexProperties(value, ctx.showHidden, size);
        let fallback = '';
        if (constructor === null) {
          fallback = typedArrayName(value);
        }
        const prefix = getPrefix(constructor, tag, fallback, `(${size})`);
        braces = [`${prefix}[`, ']'];
        if (size === 0 && keys.length === 0 && !ctx.showHidden) {
          return `${braces[0]}]`;
        }
        // Node rebuilds a typed array without prototype from its tag; the captured getters
        // and integer indexing need no prototype at all.
        formatter = (ctx, v, recurseTimes) => formatTypedArray(value, size, ctx, recurseTimes);
        extrasType = kArrayExtrasType;
      } else if (kind === K_MAP_ITER) {
        keys = getKeys(value, ctx.showHidden);
        braces = getIteratorBraces('Map', tag);
        formatter = formatIterator;
      } else {
        keys = getKeys(value, ctx.showHidden);
        braces = getIteratorBraces('Set', tag);
        formatter = formatIterator;
      }
    }
    if (noIterator) {
      keys = getKeys(value, ctx.showHidden);
      braces = ['{', '}'];
      if (kind === K_FUNCTION) {
        base = getFunctionBase(value, constructor, tag);
        if (keys.length === 0 && protoProps === undefined) {
          ctx.emitted += base.length;
          return base;
        }
      } else if (constructor === 'Object') {
        if (isArgumentsObject(value, tag)) {
          braces[0] = '[Arguments] {';
        } else if (tag !== '') {
          braces[0] = `${getPrefix(constructor, tag, 'Object')}{`;
        }
        if (keys.length === 0 && protoProps === undefined) {
          ctx.emitted += braces[0].length + 1;
          return `${braces[0]}}`;
        }
      } else if (kind === K_REGEXP) {
        // Make RegExps say that they are RegExps
        base = regExpToString(value);
        const prefix = getPrefix(constructor, tag, 'RegExp');
        if (prefix !== 'RegExp ') {
          base = `${prefix}${base}`;
        }
        if ((keys.length === 0 && protoProps === undefined) || recurseTimes > ctx.depth) {
          ctx.emitted += base.length;
          return base;
        }
      } else if (kind === K_DATE) {
        // Make dates with properties first say the date
        base = NumberIsNaN(DatePrototypeGetTime(value)) ?
          DatePrototypeToString(value) :
          DatePrototypeToISOString(value);
        const prefix = getPrefix(constructor, tag, 'Date');
        if (prefix !== 'Date ') {
          base = `${prefix}${base}`;
        }
        if (keys.length === 0 && protoProps === undefined) {
          ctx.emitted += base.length;
          return base;
        }
      } else if (kind === K_ERROR) {
        base = formatError(value, constructor, tag, ctx, keys);
        if (keys.length === 0 && protoProps === undefined) {
          ctx.emitted += base.length;
          return base;
        }
      } else if (kind === K_ARRAY_BUFFER || kind === K_SHARED_ARRAY_BUFFER) {
        // Fast path for ArrayBuffer and SharedArrayBuffer.
        // Can't do the same for DataView because it has a non-primitive
        // .buffer property that we need to recurse for.
        const arrayType = kind === K_ARRAY_BUFFER ? 'ArrayBuffer' : 'SharedArrayBuffer';
        const byteLength = kind === K_ARRAY_BUFFER ?
          ArrayBufferPrototypeGetByteLength(value) :
          SharedArrayBufferPrototypeGetByteLength(value);
        const prefix = getPrefix(constructor, tag, arrayType);
        if (typedArray === undefined) {
          formatter = formatArrayBuffer;
        } else if (keys.length === 0 && protoProps === undefined) {
          return prefix +
                `{ byteLength: ${formatNumber(byteLength, false)} }`;
        }
        braces[0] = `${prefix}{`;
        listUnshift(keys, ['byteLength']);
        // Node reads `value.byteLength` (an inherited getter); the captured one cannot be replaced.
        builtIns = { __proto__: null, byteLength };
      } else if (kind === K_DATA_VIEW) {
        braces[0] = `${getPrefix(constructor, tag, 'DataView')}{`;
        // .buffer goes last, it's not a primitive like the others.
        listUnshift(keys, ['byteLength', 'byteOffset', 'buffer']);
        builtIns = {
          __proto__: null,
          byteLength: DataViewPrototypeGetByteLength(value),
          byteOffset: DataViewPrototypeGetByteOffset(value),
          buffer: DataViewPrototypeGetBuffer(value),
        };
      } else if (kind === K_PROMISE) {
        braces[0] = `${getPrefix(constructor, tag, 'Promise')}{`;
        formatter = formatPromise;
      } else if (kind === K_WEAK_SET) {
        braces[0] = `${getPrefix(constructor, tag, 'WeakSet')}{`;
        // With showHidden, Node previews the entries through V8; nothing in QuickJS can.
        formatter = formatWeakCollection;
      } else if (kind === K_WEAK_MAP) {
        braces[0] = `${getPrefix(constructor, tag, 'WeakMap')}{`;
        formatter = formatWeakCollection;
      } else if (constructor === null && tag === 'Module' && isModuleNamespace(value)) {
        braces[0] = `${getPrefix(constructor, tag, 'Module')}{`;
        // Special handle keys for namespace objects.
        const namespaceKeys = keys;
        formatter = (ctx, value, recurseTimes) => formatNamespaceObject(namespaceKeys, ctx, value, recurseTimes);
      } else if (kind === K_BOXED) {
        base = getBoxedBase(value, ctx, keys, constructor, tag);
        if (keys.length === 0 && protoProps === undefined) {
          ctx.emitted += base.length;
          return base;
        }
      } else {
        if (keys.length === 0 && protoProps === undefined) {
          return `${getCtxStyle(value, constructor, tag)}{}`;
        }
        braces[0] = `${getCtxStyle(value, constructor, tag)}{`;
      }
    }

    if (recurseTimes > ctx.depth || recurseTimes >= MAX_NESTING) {
      let constructorName = StringPrototypeSlice(getCtxStyle(value, constructor, tag), 0, -1);
      if (constructor !== null) {
        constructorName = `[${constructorName}]`;
      }
      ctx.emitted += constructorName.length;
      return constructorName;
    }
    recurseTimes += 1;

    push(ctx.seen, value);
    ctx.currentDepth = recurseTimes;
    let output;
    const indentationLvl = ctx.indentationLvl;
    try {
      output = formatter(ctx, value, recurseTimes);
      for (let i = 0; i < keys.length; i++) {
        if (overBudget(ctx)) {
          push(output, '...');
          break;
        }
        const key = keys[i];
        // Node reads value[key] for these when there is no own property of that name.
        const desc = builtIns !== undefined && typeof key === 'string' && key in builtIns &&
            !ObjectPrototypeHasOwnProperty(value, key) ?
          { __proto__: null, value: builtIns[key], enumerable: true } :
          undefined;
        push(output, formatProperty(ctx, value, recurseTimes, key, extrasType, desc));
      }
      if (protoProps !== undefined) {
        for (let i = 0; i < protoProps.length; i++) push(output, protoProps[i]);
      }
    } catch (err) {
      if (!isStackOverflowError(err)) throw err;
      const constructorName = StringPrototypeSlice(getCtxStyle(value, constructor, tag), 0, -1);
      return handleMaxCallStackSize(ctx, err, constructorName, indentationLvl);
    }
    if (ctx.circular !== undefined) {
      const index = MapPrototypeGet(ctx.circular, value);
      if (index !== undefined) {
        const reference = `<ref *${index}>`;
        // Add reference always to the very beginning of the output.
        if (ctx.compact !== true) {
          base = base === '' ? reference : `${reference} ${base}`;
        } else {
          braces[0] = `${reference} ${braces[0]}`;
        }
      }
    }
    ctx.seen.length -= 1;

    if (ctx.sorted) {
      const comparator = ctx.sorted === true ? undefined : ctx.sorted;
      if (extrasType === kObjectType) {
        ArrayPrototypeSort(output, comparator);
      } else if (keys.length > 1) {
        const start = output.length - keys.length;
        const sorted = newList();
        for (let i = start; i < output.length; i++) push(sorted, output[i]);
        ArrayPrototypeSort(sorted, comparator);
        for (let i = 0; i < sorted.length; i++) output[start + i] = sorted[i];
      }
    }

    const res = reduceToSingleString(
      ctx, output, base, braces, extrasType, recurseTimes, value);
    const budget = ctx.budget[ctx.indentationLvl] || 0;
    const newLength = budget + res.length;
    ctx.budget[ctx.indentationLvl] = newLength;
    // Node's own brake: past 2 ** 27 characters at one level, every later object is [Object].
    if (newLength > 2 ** 27) {
      ctx.depth = -1;
    }
    return res;
  }

  function getEmptyFormatArray() {
    return newList();
  }

  /** Own 'callee' and Object.prototype.toString's own tag say "arguments" (V8 asks the map). */
  function isArgumentsObject(value, tag) {
    if (tag !== '' || !ObjectPrototypeHasOwnProperty(value, 'callee')) return false;
    try {
      return ObjectPrototypeToString(value) === '[object Arguments]';
    } catch {
      return false;
    }
  }

  /** A module namespace: null prototype, an own non-writable, non-enumerable 'Module' tag. */
  function isModuleNamespace(value) {
    const desc = getOwnDesc(value, SymbolToStringTag);
    return desc !== undefined && desc.value === 'Module' && desc.writable === false &&
      desc.enumerable === false && desc.configurable === false;
  }

  function regExpToString(value) {
    let flags = '';
    for (let i = 0; i < regExpFlagGetters.length; i++) {
      const flag = regExpFlagGetters[i];
      if (flag.get(value)) flags += flag.char;
    }
    return `/${RegExpPrototypeGetSource(value)}/${flags}`;
  }

  function getIteratorBraces(type, tag) {
    if (tag !== `${type} Iterator`) {
      if (tag !== '') {
        tag += '] [';
      }
      tag += `${type} Iterator`;
    }
    return [`[${tag}] {`, '}'];
  }

  // Special-case for some builtin prototypes in case their `constructor` property has been tampered.
  function getConstructorName(obj, ctx, recurseTimes, protoProps) {
    let firstProto;
    const tmp = obj;
    let steps = 0;
    while (obj !== null && obj !== undefined) {
      if (++steps > MAX_PROTO_CHAIN) {
        return `${internalGetConstructorName(tmp)} <Complex prototype>`;
      }
      if (obj === ObjectPrototype || obj === FunctionPrototype) {
        const constructor = obj === ObjectPrototype ? ObjectCtor : FunctionCtor;
        if (FunctionPrototypeSymbolHasInstance(constructor, tmp)) {
          if (protoProps !== undefined && firstProto !== obj) {
            addPrototypeProperties(ctx, tmp, firstProto || tmp, recurseTimes, protoProps);
          }
          return obj === ObjectPrototype ? 'Object' : 'Function';
        }
      }
      const descriptor = getOwnDesc(obj, 'constructor');
      if (descriptor !== undefined && typeof descriptor.value === 'function') {
        // A static `name` getter runs, as in Node; one that throws names nothing.
        const name = tryGetOr(descriptor.value, 'name', '');
        // Node's `tmp instanceof constructor` would run a static [Symbol.hasInstance] of a guest
        // class; OrdinaryHasInstance gives the same answer for every ordinary class.
        if (name !== '' && isInstanceof(tmp, descriptor.value)) {
          if (protoProps !== undefined &&
             (firstProto !== obj || !SetPrototypeHas(builtInObjects, name))) {
            addPrototypeProperties(ctx, tmp, firstProto || tmp, recurseTimes, protoProps);
          }
          return safeString(name, 'Object');
        }
      }

      obj = ObjectGetPrototypeOf(obj);
      if (firstProto === undefined) {
        firstProto = obj;
      }
    }

    if (firstProto === null) {
      return null;
    }

    const res = internalGetConstructorName(tmp);

    if (recurseTimes > ctx.depth) {
      return `${res} <Complex prototype>`;
    }

    const protoConstr = getConstructorName(firstProto, ctx, recurseTimes + 1, protoProps);

    if (protoConstr === null) {
      const inner = newContext({ __proto__: null, depth: -1 });
      inner.showHidden = ctx.showHidden;
      inner.maxArrayLength = ctx.maxArrayLength;
      inner.maxStringLength = ctx.maxStringLength;
      inner.breakLength = ctx.breakLength;
      inner.compact = ctx.compact;
      inner.sorted = ctx.sorted;
      inner.numericSeparator = ctx.numericSeparator;
      inner.depth = -1;
      return `${res} <${formatValue(inner, firstProto, 0)}>`;
    }

    return `${res} <${protoConstr}>`;
  }

  function isInstanceof(object, constructor) {
    try {
      return FunctionPrototypeSymbolHasInstance(constructor, object);
    } catch {
      return false;
    }
  }

  // This function has the side effect of adding prototype properties to the
  // `output` argument (which is an array). This is intended to highlight user
  // defined prototype properties.
  function addPrototypeProperties(ctx, main, obj, recurseTimes, output) {
    let depth = 0;
    let keys;
    let keySet;
    do {
      if (depth !== 0 || main === obj) {
        obj = ObjectGetPrototypeOf(obj);
        // Stop as soon as a null prototype is encountered.
        if (obj === null) {
          return;
        }
        // Stop as soon as a built-in object type is detected.
        const descriptor = getOwnDesc(obj, 'constructor');
        if (descriptor !== undefined &&
            typeof descriptor.value === 'function' &&
            SetPrototypeHas(builtInObjects, descriptor.value.name)) {
          return;
        }
      }

      if (depth === 0) {
        keySet = new SetCtor();
      } else {
        for (let i = 0; i < keys.length; i++) SetPrototypeAdd(keySet, keys[i]);
      }
      // Get all own property names and symbols.
      keys = asList(ReflectOwnKeys(obj));
      push(ctx.seen, main);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i];
        // Ignore the `constructor` property and keys that exist on layers above.
        if (key === 'constructor' ||
            ObjectPrototypeHasOwnProperty(main, key) ||
            (depth !== 0 && SetPrototypeHas(keySet, key))) {
          continue;
        }
        const desc = getOwnDesc(obj, key);
        if (desc === undefined || typeof desc.value === 'function') {
          continue;
        }
        const value = formatProperty(
          ctx, obj, recurseTimes, key, kObjectType, desc, main);
        push(output, value);
      }
      ctx.seen.length -= 1;
    // Limit the inspection to up to three prototype layers. Using `recurseTimes`
    // is not a good choice here, because it's as if the properties are declared
    // on the current object from the users perspective.
    } while (++depth !== 3);
  }

  function getPrefix(constructor, tag, fallback, size = '') {
    if (constructor === null) {
      if (tag !== '' && fallback !== tag) {
        return `[${fallback}${size}: null prototype] [${tag}] `;
      }
      return `[${fallback}${size}: null prototype] `;
    }

    if (tag !== '' && constructor !== tag) {
      return `${constructor}${size} [${tag}] `;
    }
    return `${constructor}${size} `;
  }

  // Look up the keys of the object.
  function getKeys(value, showHidden) {
    let keys;
    const symbols = ObjectGetOwnPropertySymbols(value);
    if (showHidden) {
      keys = asList(ObjectGetOwnPropertyNames(value));
      for (let i = 0; i < symbols.length; i++) push(keys, symbols[i]);
    } else {
      try {
        keys = asList(ObjectKeys(value));
      } catch {
        // A module namespace whose bindings are not initialised yet.
        keys = asList(ObjectGetOwnPropertyNames(value));
      }
      for (let i = 0; i < symbols.length; i++) {
        if (ObjectPrototypePropertyIsEnumerable(value, symbols[i])) push(keys, symbols[i]);
      }
    }
    return keys;
  }

  /** V8's GetOwnNonIndexProperties: own string keys that are not indices, then symbols. */
  function getOwnNonIndexProperties(value, showHidden, length) {
    const keys = newList();
    if (length <= ARRAY_KEY_SCAN_LIMIT) {
      const names = showHidden ? ObjectGetOwnPropertyNames(value) : ObjectKeys(value);
      for (let i = 0; i < names.length; i++) {
        if (!isArrayIndexKey(names[i])) push(keys, names[i]);
      }
    } else if (showHidden && ObjectPrototypeHasOwnProperty(value, 'length')) {
      push(keys, 'length');
    }
    const symbols = ObjectGetOwnPropertySymbols(value);
    for (let i = 0; i < symbols.length; i++) {
      if (showHidden || ObjectPrototypePropertyIsEnumerable(value, symbols[i])) push(keys, symbols[i]);
    }
    return keys;
  }

  function getCtxStyle(value, constructor, tag) {
    let fallback = '';
    if (constructor === null) {
      fallback = internalGetConstructorName(value);
      if (fallback === tag) {
        fallback = 'Object';
      }
    }
    return getPrefix(constructor, tag, fallback);
  }

  function getBoxedBase(value, ctx, keys, constructor, tag) {
    let primitive;
    let type;
    if (isNumberObject(value)) {
      primitive = NumberPrototypeValueOf(value);
      type = 'Number';
    } else if (isStringObject(value)) {
      primitive = StringPrototypeValueOf(value);
      type = 'String';
      // For boxed Strings, we have to remove the 0-n indexed entries,
      // since they just noisy up the output and are redundant
      // Make boxed primitive Strings look like such
      listRemoveAt(keys, 0, MathMin(keys.length, primitive.length));
    } else if (isBooleanObject(value)) {
      primitive = BooleanPrototypeValueOf(value);
      type = 'Boolean';
    } else if (isBigIntObject(value)) {
      primitive = BigIntPrototypeValueOf(value);
      type = 'BigInt';
    } else {
      primitive = SymbolPrototypeValueOf(value);
      type = 'Symbol';
    }
    let base = `[${type}`;
    if (type !== constructor) {
      if (constructor === null) {
        base += ' (null prototype)';
      } else {
        base += ` (${constructor})`;
      }
    }
    base += `: ${formatPrimitiveInner(primitive, ctx)}]`;
    if (tag !== '' && tag !== constructor) {
      base += ` [${tag}]`;
    }
    return base;
  }

  function getClassBase(value, constructor, tag) {
    const hasName = ObjectPrototypeHasOwnProperty(value, 'name');
    const name = (hasName && tryGetOr(value, 'name', '')) || '(anonymous)';
    let base = `class ${safeString(name, '(anonymous)')}`;
    if (constructor !== 'Function' && constructor !== null) {
      base += ` [${constructor}]`;
    }
    if (tag !== '' && constructor !== tag) {
      base += ` [${tag}]`;
    }
    if (constructor !== null) {
      const superName = tryGetOr(ObjectGetPrototypeOf(value), 'name', '');
      if (superName) {
        base += ` extends ${safeString(superName, '')}`;
      }
    } else {
      base += ' extends [null prototype]';
    }
    return `[${base}]`;
  }

  /** Node's classRegExp, /^(\s+[^(]*?)\s*{/, after comments are stripped. */
  const classRegExp = /^(\s+[^(]*?)\s*{/;
  const stripCommentsRegExp = /(\/\/.*?\n)|(\/\*(.|\n)*?\*\/)/g;
  /** `str.replace(stripCommentsRegExp, '')`, through the captured exec only. */
  function stripComments(str) {
    let result = '';
    let last = 0;
    stripCommentsRegExp.lastIndex = 0;
    for (;;) {
      const match = RegExpPrototypeExec(stripCommentsRegExp, str);
      if (match === null) break;
      const index = ownData(match, 'index');
      const text = ownData(match, 0);
      result += StringPrototypeSlice(str, last, index);
      last = index + text.length;
      if (text.length === 0) stripCommentsRegExp.lastIndex += 1;
    }
    return result + StringPrototypeSlice(str, last);
  }

  function getFunctionBase(value, constructor, tag) {
    let stringified = '';
    try {
      stringified = FunctionPrototypeToString(value);
    } catch {
      // A Proxy around a function: QuickJS refuses to print its source.
    }
    if (StringPrototypeStartsWith(stringified, 'class') && stringified[stringified.length - 1] === '}') {
      const slice = StringPrototypeSlice(stringified, 5, -1);
      const bracketIndex = StringPrototypeIndexOf(slice, '{');
      if (bracketIndex !== -1 &&
          (!StringPrototypeIncludes(StringPrototypeSlice(slice, 0, bracketIndex), '(') ||
          // Slow path to guarantee that it's indeed a class.
          RegExpPrototypeExec(classRegExp, stripComments(slice)) !== null)
      ) {
        return getClassBase(value, constructor, tag);
      }
    }
    // V8 knows the kind of a function; its prototype says the same unless a guest changed it.
    // envbox evaluates this formatter in a realm of its own beside the guest's (same runtime), so
    // a guest function's prototype is the guest realm's: its own @@toStringTag names the kind.
    const proto = ObjectGetPrototypeOf(value);
    const kindTag = proto === null ? undefined : ownData(proto, SymbolToStringTag);
    let type = 'Function';
    if (proto === GeneratorFunctionPrototype || proto === AsyncGeneratorFunctionPrototype || kindTag === 'GeneratorFunction' || kindTag === 'AsyncGeneratorFunction') {
      type = `Generator${type}`;
    }
    if (proto === AsyncFunctionPrototype || proto === AsyncGeneratorFunctionPrototype || kindTag === 'AsyncFunction' || kindTag === 'AsyncGeneratorFunction') {
      type = `Async${type}`;
    }
    let base = `[${type}`;
    if (constructor === null) {
      base += ' (null prototype)';
    }
    const name = tryGetOr(value, 'name', '');
    if (name === '') {
      base += ' (anonymous)';
    } else {
      base += `: ${safeString(name, '')}`;
    }
    base += ']';
    if (constructor !== type && constructor !== null) {
      base += ` ${constructor}`;
    }
    if (tag !== '' && constructor !== tag) {
      base += ` [${tag}]`;
    }
    return base;
  }

  function identicalSequenceRange(a, b) {
    for (let i = 0; i < a.length - 3; i++) {
      // Find the first entry of b that matches the current entry of a.
      const pos = listIndexOf(b, a[i]);
      if (pos !== -1) {
        const rest = b.length - pos;
        if (rest > 3) {
          let len = 1;
          const maxLen = MathMin(a.length - i, rest);
          // Count the number of consecutive entries.
          while (maxLen > len && a[i + len] === b[pos + len]) {
            len++;
          }
          if (len > 3) {
            return { __proto__: null, len, offset: i };
          }
        }
      }
    }

    return { __proto__: null, len: 0, offset: 0 };
  }

  /**
   * `Error.prototype.toString` of `error`, a getter that throws standing for its default: the
   * first line V8 writes into every stack.
   */
  function errorHeader(error) {
    let name = 'Error';
    let message = '';
    try {
      const value = error.name;
      if (value !== undefined) name = safeString(value, 'Error');
    } catch {
      // Keep the default.
    }
    try {
      const value = error.message;
      if (value !== undefined) message = safeString(value, '');
    } catch {
      // Keep the default.
    }
    if (name === '') return message;
    if (message === '') return name;
    return `${name}: ${message}`;
  }

  /**
   * The error's stack as V8 would have written it. A QuickJS stack holds the frames only
   * ("    at f (step.js:1:20)\n"); V8's starts with the header `Name: message`, which Node's
   * formatting below relies on. Any other stack (set by the guest) is used as it is.
   */
  function getStackString(error) {
    let stack;
    try {
      stack = error.stack;
    } catch {
      stack = undefined;
    }
    if (typeof stack === 'string' && (stack === '' || StringPrototypeStartsWith(stack, '    at '))) {
      let end = stack.length;
      while (end > 0 && stack[end - 1] === '\n') end--;
      const header = errorHeader(error);
      return end === 0 ? header : `${header}\n${StringPrototypeSlice(stack, 0, end)}`;
    }
    return stack ? safeString(stack, errorHeader(error)) : errorHeader(error);
  }

  function getStackFrames(ctx, err, stack) {
    const frames = splitLines(stack);

    const cause = ownData(err, 'cause');

    // Remove stack frames identical to frames in cause.
    if (cause !== null && typeof cause === 'object' && getKind(cause) === K_ERROR) {
      const causeStack = getStackString(cause);
      const causeStackStart = StringPrototypeIndexOf(causeStack, '\n    at');
      if (causeStackStart !== -1) {
        const causeFrames = splitLines(StringPrototypeSlice(causeStack, causeStackStart + 1));
        const { len, offset } = identicalSequenceRange(frames, causeFrames);
        if (len > 0) {
          const skipped = len - 2;
          const msg = `    ... ${skipped} lines matching cause stack trace ...`;
          // frames.splice(offset + 1, skipped, msg)
          const tail = newList();
          for (let i = offset + 1 + skipped; i < frames.length; i++) push(tail, frames[i]);
          frames.length = offset + 1;
          push(frames, msg);
          for (let i = 0; i < tail.length; i++) push(frames, tail[i]);
        }
      }
    }
    return frames;
  }

  /** /^([A-Z][a-z_ A-Z0-9[\]()-]+)(?::|\n {4}at)/ and /^([a-z_A-Z0-9-]*Error)$/ */
  const errorNameRegExp = /^([A-Z][a-z_ A-Z0-9[\]()-]+)(?::|\n {4}at)/;
  const errorOnlyRegExp = /^([a-z_A-Z0-9-]*Error)$/;

  function improveStack(stack, constructor, name, tag) {
    // A stack trace may contain arbitrary data. Only manipulate the output
    // for "regular errors" (errors that "look normal") for now.
    let len = name.length;

    if (constructor === null ||
        (StringPrototypeEndsWith(name, 'Error') &&
        StringPrototypeStartsWith(stack, name) &&
        (stack.length === len || stack[len] === ':' || stack[len] === '\n'))) {
      let fallback = 'Error';
      if (constructor === null) {
        const start = RegExpPrototypeExec(errorNameRegExp, stack) ||
          RegExpPrototypeExec(errorOnlyRegExp, stack);
        fallback = (start && ownData(start, 1)) || '';
        len = fallback.length;
        fallback = fallback || 'Error';
      }
      const prefix = StringPrototypeSlice(getPrefix(constructor, tag, fallback), 0, -1);
      if (name !== prefix) {
        if (StringPrototypeIncludes(prefix, name)) {
          if (len === 0) {
            stack = `${prefix}: ${stack}`;
          } else {
            stack = `${prefix}${StringPrototypeSlice(stack, len)}`;
          }
        } else {
          stack = `${prefix} [${name}]${StringPrototypeSlice(stack, len)}`;
        }
      }
    }
    return stack;
  }

  function removeDuplicateErrorKeys(ctx, keys, err, stack) {
    if (!ctx.showHidden && keys.length !== 0) {
      const names = ['name', 'message', 'stack'];
      for (let i = 0; i < names.length; i++) {
        const index = listIndexOf(keys, names[i]);
        if (index === -1) continue;
        // Only hide the property in case it's part of the original stack
        const value = tryGet(err, names[i]);
        if (value !== null && typeof value === 'object') continue;
        if (StringPrototypeIncludes(stack, safeString(value, ''))) {
          listRemoveAt(keys, index, 1);
        }
      }
    }
  }

  function formatError(err, constructor, tag, ctx, keys) {
    const rawName = tryGet(err, 'name');
    const name = rawName !== null && rawName !== undefined ? safeString(rawName, 'Error') : 'Error';
    let stack = getStackString(err);

    removeDuplicateErrorKeys(ctx, keys, err, stack);

    // Node asks `'cause' in err`, which a polluted Object.prototype.cause would answer too.
    if (ObjectPrototypeHasOwnProperty(err, 'cause') &&
        (keys.length === 0 || !listIncludes(keys, 'cause'))) {
      push(keys, 'cause');
    }

    // Print errors aggregated into AggregateError
    const errors = ownData(err, 'errors');
    if (errors !== undefined && ArrayIsArray(errors) &&
        (keys.length === 0 || !listIncludes(keys, 'errors'))) {
      push(keys, 'errors');
    }

    stack = improveStack(stack, constructor, name, tag);

    // Ignore the error message if it's contained in the stack.
    const message = tryGet(err, 'message');
    let pos = -1;
    if (message && typeof message !== 'object' && typeof message !== 'function') {
      const text = safeString(message, '');
      pos = StringPrototypeIndexOf(stack, text) || -1;
      if (pos !== -1) pos += text.length;
    }
    // Wrap the error in brackets in case it has no stack trace.
    const stackStart = StringPrototypeIndexOf(stack, '\n    at', pos);
    if (stackStart === -1) {
      stack = `[${stack}]`;
    } else {
      const newStack = StringPrototypeSlice(stack, 0, stackStart);
      const stackFramePart = StringPrototypeSlice(stack, stackStart + 1);
      const lines = getStackFrames(ctx, err, stackFramePart);
      stack = `${newStack}\n${join(lines, '\n')}`;
    }
    // The message and the stack have to be indented as well!
    if (ctx.indentationLvl !== 0) {
      const indentation = StringPrototypeRepeat(' ', ctx.indentationLvl);
      stack = replaceNewlines(stack, `\n${indentation}`);
    }
    return stack;
  }

  function groupArrayElements(ctx, output, value) {
    let totalLength = 0;
    let maxLength = 0;
    let i = 0;
    let outputLength = output.length;
    if (ctx.maxArrayLength < output.length) {
      // This makes sure the "... n more items" part is not taken into account.
      outputLength--;
    }
    const separatorSpace = 2; // Add 1 for the space and 1 for the separator.
    const dataLen = newList();
    // Calculate the total length of all output entries and the individual max
    // entries length of all output entries.
    for (; i < outputLength; i++) {
      const len = getStringWidth(output[i]);
      dataLen[i] = len;
      totalLength += len + separatorSpace;
      if (maxLength < len) maxLength = len;
    }
    // Add two to `maxLength` as we add a single whitespace character plus a comma
    // in-between two entries.
    const actualMax = maxLength + separatorSpace;
    // Check if at least three entries fit next to each other and prevent grouping
    // of arrays that contains entries of very different length (i.e., if a single
    // entry is longer than 1/5 of all other entries combined). Otherwise the
    // space in-between small entries would be enormous.
    if (actualMax * 3 + ctx.indentationLvl < ctx.breakLength &&
        (totalLength / actualMax > 5 || maxLength <= 6)) {

      const approxCharHeights = 2.5;
      const averageBias = MathSqrt(actualMax - totalLength / output.length);
      const biasedMax = MathMax(actualMax - 3 - averageBias, 1);
      // Dynamically check how many columns seem possible.
      const columns = MathMin(
        // Ideally a square should be drawn. We expect a character to be about 2.5
        // times as high as wide. This is the area formula to calculate a square
        // which contains n rectangles of size `actualMax * approxCharHeights`.
        // Divide that by `actualMax` to receive the correct number of columns.
        // The added bias increases the columns for short entries.
        MathRound(
          MathSqrt(
            approxCharHeights * biasedMax * outputLength,
          ) / biasedMax,
        ),
        // Do not exceed the breakLength.
        MathFloor((ctx.breakLength - ctx.indentationLvl) / actualMax),
        // Limit array grouping for small `compact` modes as the user requested
        // minimal grouping.
        ctx.compact * 4,
        // Limit the columns to a maximum of fifteen.
        15,
      );
      // Return with the original output if no grouping should happen.
      if (columns <= 1) {
        return output;
      }
      const tmp = newList();
      const maxLineLength = newList();
      for (let i = 0; i < columns; i++) {
        let lineMaxLength = 0;
        for (let j = i; j < output.length; j += columns) {
          if (dataLen[j] > lineMaxLength) lineMaxLength = dataLen[j];
        }
        lineMaxLength += separatorSpace;
        maxLineLength[i] = lineMaxLength;
      }
      let order = StringPrototypePadStart;
      if (value !== undefined) {
        for (let i = 0; i < output.length; i++) {
          // Node reads value[i]; an own data property gives the same for any array, without
          // running a getter a guest put on Array.prototype for a hole.
          const item = ownData(value, i);
          if (typeof item !== 'number' && typeof item !== 'bigint') {
            order = StringPrototypePadEnd;
            break;
          }
        }
      }
      // Each iteration creates a single line of grouped entries.
      for (let i = 0; i < outputLength; i += columns) {
        // The last lines may contain less entries than columns.
        const max = MathMin(i + columns, outputLength);
        let str = '';
        let j = i;
        for (; j < max - 1; j++) {
          const padding = maxLineLength[j - i] + output[j].length - dataLen[j];
          str += order(`${output[j]}, `, padding, ' ');
        }
        if (order === StringPrototypePadStart) {
          const padding = maxLineLength[j - i] +
                          output[j].length -
                          dataLen[j] -
                          separatorSpace;
          str += StringPrototypePadStart(output[j], padding, ' ');
        } else {
          str += output[j];
        }
        push(tmp, str);
      }
      if (ctx.maxArrayLength < output.length) {
        push(tmp, output[outputLength]);
      }
      output = tmp;
    }
    return output;
  }

  function handleMaxCallStackSize(ctx, err, constructorName, indentationLvl) {
    ctx.seen.length -= 1;
    ctx.indentationLvl = indentationLvl;
    return `[${constructorName}: Inspection interrupted ` +
      'prematurely. Maximum call stack size exceeded.]';
  }

  function addNumericSeparator(integerString) {
    let result = '';
    let i = integerString.length;
    const start = integerString[0] === '-' ? 1 : 0;
    for (; i >= start + 4; i -= 3) {
      result = `_${StringPrototypeSlice(integerString, i - 3, i)}${result}`;
    }
    return i === integerString.length ?
      integerString :
      `${StringPrototypeSlice(integerString, 0, i)}${result}`;
  }

  function addNumericSeparatorEnd(integerString) {
    let result = '';
    let i = 0;
    for (; i < integerString.length - 3; i += 3) {
      result += `${StringPrototypeSlice(integerString, i, i + 3)}_`;
    }
    return i === 0 ?
      integerString :
      `${result}${StringPrototypeSlice(integerString, i)}`;
  }

  const remainingText = (remaining) => `... ${remaining} more item${remaining > 1 ? 's' : ''}`;

  function formatNumber(number, numericSeparator) {
    if (!numericSeparator) {
      // Format -0 as '-0'. Checking `number === -0` won't distinguish 0 from -0.
      if (ObjectIs(number, -0)) {
        return '-0';
      }
      return `${number}`;
    }

    const numberString = `${number}`;
    const integer = MathTrunc(number);

    if (integer === number) {
      if (!NumberIsFinite(number) || StringPrototypeIncludes(numberString, 'e')) {
        return numberString;
      }
      return addNumericSeparator(numberString);
    }
    if (NumberIsNaN(number)) {
      return numberString;
    }

    const decimalIndex = StringPrototypeIndexOf(numberString, '.');
    const integerPart = StringPrototypeSlice(numberString, 0, decimalIndex);
    const fractionalPart = StringPrototypeSlice(numberString, decimalIndex + 1);

    return `${addNumericSeparator(integerPart)}.${addNumericSeparatorEnd(fractionalPart)}`;
  }

  function formatBigInt(bigint, numericSeparator) {
    const string = `${bigint}`;
    if (!numericSeparator) {
      return `${string}n`;
    }
    return `${addNumericSeparator(string)}n`;
  }

  function formatPrimitive(value, ctx) {
    const result = formatPrimitiveInner(value, ctx);
    ctx.emitted += result.length;
    return result;
  }

  function formatPrimitiveInner(value, ctx) {
    if (typeof value === 'string') {
      let trailer = '';
      // Past the output cap nothing more is shown, whatever maxStringLength asks for.
      const maxStringLength = MathMin(ctx.maxStringLength, MAX_OUTPUT_CHARS);
      if (value.length > maxStringLength) {
        const remaining = value.length - maxStringLength;
        value = StringPrototypeSlice(value, 0, MathMax(0, maxStringLength));
        trailer = `... ${remaining} more character${remaining > 1 ? 's' : ''}`;
      }
      if (ctx.compact !== true &&
          // We do not support handling unicode characters width with
          // the readline getStringWidth function as there are
          // performance implications.
          value.length > kMinLineLength &&
          value.length > ctx.breakLength - ctx.indentationLvl - 4) {
        const lines = splitAfterNewlines(value);
        for (let i = 0; i < lines.length; i++) lines[i] = strEscape(lines[i]);
        return join(lines, ` +\n${StringPrototypeRepeat(' ', ctx.indentationLvl + 2)}`) + trailer;
      }
      return strEscape(value) + trailer;
    }
    if (typeof value === 'number') return formatNumber(value, ctx.numericSeparator);
    if (typeof value === 'bigint') return formatBigInt(value, ctx.numericSeparator);
    if (typeof value === 'boolean') return `${value}`;
    if (typeof value === 'undefined') return 'undefined';
    // es6 symbol primitive
    return SymbolPrototypeToString(value);
  }

  function formatNamespaceObject(keys, ctx, value, recurseTimes) {
    const output = newList();
    for (let i = 0; i < keys.length; i++) {
      try {
        output[i] = formatProperty(ctx, value, recurseTimes, keys[i], kObjectType);
      } catch {
        // An uninitialised binding throws a ReferenceError when read.
        const tmp = { __proto__: null, [keys[i]]: '' };
        output[i] = formatProperty(ctx, tmp, recurseTimes, keys[i], kObjectType);
        const pos = StringPrototypeLastIndexOf(output[i], ' ');
        output[i] = `${StringPrototypeSlice(output[i], 0, pos + 1)}<uninitialized>`;
      }
    }
    // Reset the keys to an empty array. This prevents duplicated inspection.
    keys.length = 0;
    return output;
  }

  // The array is sparse and/or has extra keys
  function formatSpecialArray(ctx, value, recurseTimes, maxLength, output, i) {
    // Node walks Object.keys(value) from the first hole. Probing indices gives the same output
    // without listing every index of a long array; Object.keys is the fallback for long holes.
    const length = value.length;
    let index = i;
    let probes = 0;
    while (output.length < maxLength) {
      let next = index;
      while (next < length && !ObjectPrototypeHasOwnProperty(value, next)) {
        next++;
        if (++probes > HOLE_PROBE_LIMIT) {
          return formatSpecialArrayByKeys(ctx, value, recurseTimes, maxLength, output, index);
        }
      }
      if (next >= length) break;
      if (next !== index) {
        const emptyItems = next - index;
        const ending = emptyItems > 1 ? 's' : '';
        push(output, `<${emptyItems} empty item${ending}>`);
        index = next;
        if (output.length === maxLength) {
          break;
        }
      }
      if (overBudget(ctx)) {
        push(output, '...');
        return output;
      }
      push(output, formatProperty(ctx, value, recurseTimes, index, kArrayType));
      index++;
    }
    return finishSpecialArray(value, length, maxLength, output, index);
  }

  function formatSpecialArrayByKeys(ctx, value, recurseTimes, maxLength, output, index) {
    const keys = ObjectKeys(value);
    // Skip the keys of the items already shown.
    let i = 0;
    while (i < keys.length && isNumberKey(keys[i]) && +keys[i] < index) i++;
    for (; i < keys.length && output.length < maxLength; i++) {
      const key = keys[i];
      const tmp = +key;
      // Arrays can only have up to 2^32 - 1 entries
      if (tmp > 2 ** 32 - 2) {
        break;
      }
      if (`${index}` !== key) {
        if (!isNumberKey(key)) {
          break;
        }
        const emptyItems = tmp - index;
        const ending = emptyItems > 1 ? 's' : '';
        push(output, `<${emptyItems} empty item${ending}>`);
        index = tmp;
        if (output.length === maxLength) {
          break;
        }
      }
      if (overBudget(ctx)) {
        push(output, '...');
        return output;
      }
      push(output, formatProperty(ctx, value, recurseTimes, key, kArrayType));
      index++;
    }
    return finishSpecialArray(value, value.length, maxLength, output, index);
  }

  function finishSpecialArray(value, length, maxLength, output, index) {
    const remaining = length - index;
    if (output.length !== maxLength) {
      if (remaining > 0) {
        const ending = remaining > 1 ? 's' : '';
        push(output, `<${remaining} empty item${ending}>`);
      }
    } else if (remaining > 0) {
      push(output, remainingText(remaining));
    }
    return output;
  }

  function formatArrayBuffer(ctx, value) {
    let buffer;
    try {
      buffer = new Uint8ArrayCtor(value);
    } catch {
      return listFrom(['(detached)']);
    }
    const length = TypedArrayPrototypeGetLength(buffer);
    const shown = MathMin(MathMax(0, ctx.maxArrayLength), length);
    let str = '';
    for (let i = 0; i < shown; i++) {
      str += i === 0 ? hexByte(buffer[i]) : ` ${hexByte(buffer[i])}`;
    }
    const remaining = length - ctx.maxArrayLength;
    if (remaining > 0) {
      str += ` ... ${remaining} more byte${remaining > 1 ? 's' : ''}`;
    }
    ctx.emitted += str.length;
    return listFrom([`[Uint8Contents]: <${str}>`]);
  }

  function formatArray(ctx, value, recurseTimes) {
    const valLen = value.length;
    const len = MathMin(MathMax(0, ctx.maxArrayLength), valLen);

    const remaining = valLen - len;
    const output = newList();
    for (let i = 0; i < len; i++) {
      // Special handle sparse arrays.
      if (!ObjectPrototypeHasOwnProperty(value, i)) {
        return formatSpecialArray(ctx, value, recurseTimes, len, output, i);
      }
      if (overBudget(ctx)) {
        push(output, '...');
        return output;
      }
      push(output, formatProperty(ctx, value, recurseTimes, i, kArrayType));
    }
    if (remaining > 0) {
      push(output, remainingText(remaining));
    }
    return output;
  }

  function formatTypedArray(value, length, ctx, recurseTimes) {
    const maxLength = MathMin(MathMax(0, ctx.maxArrayLength), length);
    const remaining = length - maxLength;
    const output = newList();
    for (let i = 0; i < maxLength; ++i) {
      if (overBudget(ctx)) {
        push(output, '...');
        return output;
      }
      const item = value[i];
      const str = typeof item === 'bigint' ? formatBigInt(item, ctx.numericSeparator) :
        formatNumber(item, ctx.numericSeparator);
      ctx.emitted += str.length + 2;
      output[i] = str;
    }
    if (remaining > 0) {
      output[maxLength] = remainingText(remaining);
    }
    if (ctx.showHidden) {
      // .buffer goes last, it's not a primitive like the others.
      // All besides `BYTES_PER_ELEMENT` are actually getters.
      ctx.indentationLvl += 2;
      const buffer = tryGet(value, 'buffer');
      const entries = [
        ['BYTES_PER_ELEMENT', tryGet(value, 'BYTES_PER_ELEMENT')],
        ['length', length],
        ['byteLength', tryGet(value, 'byteLength')],
        ['byteOffset', tryGet(value, 'byteOffset')],
        ['buffer', buffer],
      ];
      for (let i = 0; i < entries.length; i++) {
        const str = formatValue(ctx, entries[i][1], recurseTimes, true);
        push(output, `[${entries[i][0]}]: ${str}`);
      }
      ctx.indentationLvl -= 2;
    }
    return output;
  }

  function formatSet(value, size, ctx, recurseTimes) {
    const maxLength = MathMin(MathMax(0, ctx.maxArrayLength), size);
    const remaining = size - maxLength;
    const output = newList();
    ctx.indentationLvl += 2;
    const iterator = SetPrototypeValues(value);
    for (let i = 0; i < maxLength; i++) {
      const step = SetIteratorNext(iterator);
      if (step.done) break;
      if (overBudget(ctx)) {
        push(output, '...');
        break;
      }
      push(output, formatValue(ctx, step.value, recurseTimes));
    }
    if (remaining > 0) {
      push(output, remainingText(remaining));
    }
    ctx.indentationLvl -= 2;
    return output;
  }

  function formatMap(value, size, ctx, recurseTimes) {
    const maxLength = MathMin(MathMax(0, ctx.maxArrayLength), size);
    const remaining = size - maxLength;
    const output = newList();
    ctx.indentationLvl += 2;
    const iterator = MapPrototypeEntries(value);
    for (let i = 0; i < maxLength; i++) {
      const step = MapIteratorNext(iterator);
      if (step.done) break;
      if (overBudget(ctx)) {
        push(output, '...');
        break;
      }
      const entry = step.value;
      push(
        output,
        `${formatValue(ctx, entry[0], recurseTimes)} => ${formatValue(ctx, entry[1], recurseTimes)}`,
      );
    }
    if (remaining > 0) {
      push(output, remainingText(remaining));
    }
    ctx.indentationLvl -= 2;
    return output;
  }

  // Node previews the items of an iterator and of a weak collection through V8 without
  // consuming them; QuickJS has no such door, so their items are unknown.
  function formatWeakCollection() {
    return listFrom(['<items unknown>']);
  }

  function formatIterator() {
    return listFrom(['<items unknown>']);
  }

  function formatPromise(ctx, value, recurseTimes) {
    let output;
    const details = promiseDetails(value);
    if (details === undefined) {
      // No host to ask (getKind has already asked it when there is one).
      output = listFrom(['<unknown>']);
    } else if (details.state === 'pending') {
      output = listFrom(['<pending>']);
    } else {
      ctx.indentationLvl += 2;
      const str = formatValue(ctx, details.result, recurseTimes);
      ctx.indentationLvl -= 2;
      output = listFrom([details.state === 'rejected' ? `<rejected> ${str}` : str]);
    }
    return output;
  }

  function formatProperty(ctx, value, recurseTimes, key, type, desc, original = value) {
    let name, str;
    let extra = ' ';
    let thrown;
    if (desc === undefined) {
      try {
        // Node falls back to value[key] when there is no own descriptor (a Proxy's ownKeys may
        // list a key its getOwnPropertyDescriptor denies).
        desc = getOwnDesc(value, key) || { __proto__: null, value: value[key], enumerable: true };
      } catch (err) {
        // A Proxy trap threw for this key: this entry says so, its siblings print as usual.
        if (isStackOverflowError(err)) throw err;
        thrown = `<Inspection threw (${describeThrown(err)})>`;
        desc = { __proto__: null, value: undefined, enumerable: true };
      }
    }
    if (thrown !== undefined) {
      str = thrown;
    } else if (desc.value !== undefined) {
      const diff = (ctx.compact !== true || type !== kObjectType) ? 2 : 3;
      ctx.indentationLvl += diff;
      str = formatValue(ctx, desc.value, recurseTimes);
      if (diff === 3 && ctx.breakLength < getStringWidth(str)) {
        extra = `\n${StringPrototypeRepeat(' ', ctx.indentationLvl)}`;
      }
      ctx.indentationLvl -= diff;
    } else if (desc.get !== undefined) {
      // Never run: a getter is a guest function with any side effect.
      str = desc.set !== undefined ? '[Getter/Setter]' : '[Getter]';
    } else if (desc.set !== undefined) {
      str = '[Setter]';
    } else {
      str = 'undefined';
    }
    ctx.emitted += ctx.indentationLvl + 4;
    if (type === kArrayType) {
      return str;
    }
    if (typeof key === 'symbol') {
      name = `[${escapeAll(SymbolPrototypeToString(key))}]`;
    } else if (key === '__proto__') {
      name = "['__proto__']";
    } else if (desc.enumerable === false) {
      name = `[${escapeAll(key)}]`;
    } else if (isIdentifierKey(key)) {
      name = key;
    } else {
      name = strEscape(key);
    }
    ctx.emitted += name.length;
    return `${name}:${extra}${str}`;
  }

  function isBelowBreakLength(ctx, output, start, base) {
    // Each entry is separated by at least a comma. Thus, we start with a total
    // length of at least `output.length`. In addition, some cases have a
    // whitespace in-between each other that is added to the total as well.
    let totalLength = output.length + start;
    if (totalLength + output.length > ctx.breakLength) return false;
    for (let i = 0; i < output.length; i++) {
      totalLength += output[i].length;
      if (totalLength > ctx.breakLength) {
        return false;
      }
    }
    // Do not line up properties on the same line if `base` contains line breaks.
    return base === '' || !StringPrototypeIncludes(base, '\n');
  }

  function reduceToSingleString(ctx, output, base, braces, extrasType, recurseTimes, value) {
    if (ctx.compact !== true) {
      if (typeof ctx.compact === 'number' && ctx.compact >= 1) {
        // Memorize the original output length. In case the output is grouped,
        // prevent lining up the entries on a single line.
        const entries = output.length;
        // Group array elements together if the array contains at least six
        // separate entries.
        if (extrasType === kArrayExtrasType && entries > 6) {
          output = groupArrayElements(ctx, output, value);
        }
        // `ctx.currentDepth` is set to the most inner depth of the currently
        // inspected object part while `recurseTimes` is the actual current depth
        // that is inspected.
        //
        // Example:
        //
        // const a = { first: [ 1, 2, 3 ], second: { inner: [ 1, 2, 3 ] } }
        //
        // The deepest depth of `a` is 2 (a.second.inner) and `a.first` has a max
        // depth of 1.
        //
        // Consolidate all entries of the local most inner depth up to
        // `ctx.compact`, as long as the properties are smaller than
        // `ctx.breakLength`.
        if (ctx.currentDepth - recurseTimes < ctx.compact &&
            entries === output.length) {
          // Line up all entries on a single line in case the entries do not
          // exceed `breakLength`. Add 10 as constant to start next to all other
          // factors that may reduce `breakLength`.
          const start = output.length + ctx.indentationLvl +
                        braces[0].length + base.length + 10;
          if (isBelowBreakLength(ctx, output, start, base)) {
            const joinedOutput = join(output, ', ');
            if (!StringPrototypeIncludes(joinedOutput, '\n')) {
              return `${base ? `${base} ` : ''}${braces[0]} ${joinedOutput}` +
                ` ${braces[1]}`;
            }
          }
        }
      }
      // Line up each entry on an individual line.
      const indentation = `\n${StringPrototypeRepeat(' ', ctx.indentationLvl)}`;
      return `${base ? `${base} ` : ''}${braces[0]}${indentation}  ` +
        `${join(output, `,${indentation}  `)}${indentation}${braces[1]}`;
    }
    // Line up all entries on a single line in case the entries do not exceed
    // `breakLength`.
    if (isBelowBreakLength(ctx, output, 0, base)) {
      return `${braces[0]}${base ? ` ${base}` : ''} ${join(output, ', ')} ` +
        braces[1];
    }
    const indentation = StringPrototypeRepeat(' ', ctx.indentationLvl);
    // If the opening "brace" is too large, like in the case of "Set {",
    // we need to force the first item to be on the next line or the
    // items will not line up correctly.
    const ln = base === '' && braces[0].length === 1 ?
      ' ' : `${base ? ` ${base}` : ''}\n${indentation}  `;
    // Line up each entry on an individual line.
    return `${braces[0]}${ln}${join(output, `,\n${indentation}  `)} ${braces[1]}`;
  }

  // ---- format ----------------------------------------------------------------------------------
  function hasBuiltInToString(value) {
    // Node unwraps a Proxy here to keep its traps from running; QuickJS cannot tell one.
    let hasOwnToString = ObjectPrototypeHasOwnProperty;
    let hasOwnToPrimitive = ObjectPrototypeHasOwnProperty;

    // Count objects without `toString` and `Symbol.toPrimitive` function as built-in.
    if (typeof value.toString !== 'function') {
      if (typeof value[SymbolToPrimitive] !== 'function') {
        return true;
      } else if (ObjectPrototypeHasOwnProperty(value, SymbolToPrimitive)) {
        return false;
      }
      hasOwnToString = returnFalse;
    } else if (ObjectPrototypeHasOwnProperty(value, 'toString')) {
      return false;
    } else if (typeof value[SymbolToPrimitive] !== 'function') {
      hasOwnToPrimitive = returnFalse;
    } else if (ObjectPrototypeHasOwnProperty(value, SymbolToPrimitive)) {
      return false;
    }

    // Find the object that has the `toString` property or `Symbol.toPrimitive` property
    // as own property in the prototype chain.
    let pointer = value;
    let steps = 0;
    do {
      pointer = ObjectGetPrototypeOf(pointer);
      if (pointer === null || ++steps > MAX_PROTO_CHAIN) return true;
    } while (!hasOwnToString(pointer, 'toString') &&
      !hasOwnToPrimitive(pointer, SymbolToPrimitive));

    // Check closer if the object is a built-in.
    const descriptor = getOwnDesc(pointer, 'constructor');
    return descriptor !== undefined &&
      typeof descriptor.value === 'function' &&
      SetPrototypeHas(builtInObjects, descriptor.value.name);
  }

  function returnFalse() {
    return false;
  }

  // %j is JSON.stringify. QuickJS's own keeps its work lists in ordinary arrays, so a guest's
  // setter on Array.prototype[0] runs (and throws) inside it; V8's does not. This is the spec's
  // SerializeJSONProperty (no replacer, no gap) over the captured built-ins; toJSON and the
  // valueOf of a boxed primitive run, as they do in JSON.stringify.
  const kJsonCircular = { __proto__: null, message: 'circular' };

  function jsonQuote(str) {
    let result = '"';
    let last = 0;
    for (let i = 0; i < str.length; i++) {
      const c = StringPrototypeCharCodeAt(str, i);
      let escaped;
      if (c === 34) escaped = '\\"';
      else if (c === 92) escaped = '\\\\';
      else if (c === 8) escaped = '\\b';
      else if (c === 12) escaped = '\\f';
      else if (c === 10) escaped = '\\n';
      else if (c === 13) escaped = '\\r';
      else if (c === 9) escaped = '\\t';
      else if (c < 32) escaped = `\\u00${hexByte(c)}`;
      else if (c >= 0xd800 && c <= 0xdfff) {
        if (c <= 0xdbff && i + 1 < str.length) {
          const next = StringPrototypeCharCodeAt(str, i + 1);
          if (next >= 0xdc00 && next <= 0xdfff) {
            i++;
            continue;
          }
        }
        escaped = `\\u${NumberPrototypeToString(c, 16)}`;
      } else {
        continue;
      }
      result += StringPrototypeSlice(str, last, i) + escaped;
      last = i + 1;
    }
    return `${result}${StringPrototypeSlice(str, last)}"`;
  }

  function jsonSerialize(key, value, state) {
    if ((value !== null && typeof value === 'object') || typeof value === 'function' || typeof value === 'bigint') {
      const toJSON = value.toJSON;
      if (typeof toJSON === 'function') value = ReflectApply(toJSON, value, [key]);
    }
    if (value !== null && typeof value === 'object') {
      if (isNumberObject(value)) value = NumberCtor(value);
      else if (isStringObject(value)) value = StringCtor(value);
      else if (isBooleanObject(value)) value = BooleanPrototypeValueOf(value);
      else if (isBigIntObject(value)) value = BigIntPrototypeValueOf(value);
    }
    if (value === null) return 'null';
    if (value === true) return 'true';
    if (value === false) return 'false';
    if (typeof value === 'string') return jsonQuote(value);
    if (typeof value === 'number') return NumberIsFinite(value) ? `${value}` : 'null';
    if (typeof value === 'bigint') throw { __proto__: null, message: 'Do not know how to serialize a BigInt' };
    if (typeof value !== 'object') return undefined;
    if (listIncludes(state.stack, value)) throw kJsonCircular;
    // Deeper than this would overflow a host stack that QuickJS does not guard.
    if (state.stack.length >= MAX_NESTING) throw { __proto__: null, message: 'nested too deep' };
    push(state.stack, value);
    const parts = newList();
    let result;
    if (ArrayIsArray(value)) {
      const length = value.length;
      for (let i = 0; i < length; i++) {
        if (state.length > MAX_OUTPUT_CHARS) {
          push(parts, '...');
          break;
        }
        const item = jsonSerialize(`${i}`, value[i], state);
        push(parts, item === undefined ? 'null' : item);
        state.length += parts[parts.length - 1].length + 1;
      }
      result = `[${join(parts, ',')}]`;
    } else {
      const keys = ObjectKeys(value);
      for (let i = 0; i < keys.length; i++) {
        if (state.length > MAX_OUTPUT_CHARS) {
          push(parts, '...');
          break;
        }
        const item = jsonSerialize(keys[i], value[keys[i]], state);
        if (item !== undefined) {
          push(parts, `${jsonQuote(keys[i])}:${item}`);
          state.length += parts[parts.length - 1].length + 1;
        }
      }
      result = `{${join(parts, ',')}}`;
    }
    state.stack.length -= 1;
    return result;
  }

  function tryStringify(arg) {
    try {
      return jsonSerialize('', arg, { __proto__: null, stack: newList(), length: 0 });
    } catch (err) {
      if (err === kJsonCircular) {
        return '[Circular]';
      }
      // Node throws here (a BigInt, a throwing toJSON); format never does.
      return `<Inspection threw (${describeThrown(err)})>`;
    }
  }

  /** Node's util.format(...args). Never throws. */
  function format(...args) {
    try {
      return formatWithOptionsInternal(undefined, args);
    } catch (err) {
      try {
        return `<Inspection threw (${describeThrown(err)})>`;
      } catch {
        return '<Inspection threw>';
      }
    }
  }

  /** `inspect` with Node's options merged over the caller's, as `{ ...inspectOptions, ... }`. */
  function inspectWith(inspectOptions, value, overrides) {
    const options = { __proto__: null };
    if (inspectOptions !== undefined) {
      const names = ObjectKeys(inspectOptions);
      for (let i = 0; i < names.length; i++) options[names[i]] = ownData(inspectOptions, names[i]);
    }
    if (overrides !== undefined) {
      const names = ObjectKeys(overrides);
      for (let i = 0; i < names.length; i++) options[names[i]] = overrides[names[i]];
    }
    return inspect(value, options);
  }

  function formatWithOptionsInternal(inspectOptions, args) {
    const first = args[0];
    let a = 0;
    let str = '';
    let join = '';

    if (typeof first === 'string') {
      if (args.length === 1) {
        return first;
      }
      let tempStr;
      let lastPos = 0;

      for (let i = 0; i < first.length - 1; i++) {
        if (StringPrototypeCharCodeAt(first, i) === 37) { // '%'
          const nextChar = StringPrototypeCharCodeAt(first, ++i);
          if (a + 1 !== args.length) {
            switch (nextChar) {
              case 115: { // 's'
                const tempArg = args[++a];
                if (typeof tempArg === 'number') {
                  tempStr = formatNumber(tempArg, false);
                } else if (typeof tempArg === 'bigint') {
                  tempStr = formatBigInt(tempArg, false);
                } else if (typeof tempArg !== 'object' ||
                           tempArg === null ||
                           !safeHasBuiltInToString(tempArg)) {
                  tempStr = safeString(tempArg, '<Inspection threw>');
                } else {
                  tempStr = inspectWith(inspectOptions, tempArg, {
                    __proto__: null,
                    compact: 3,
                    depth: 0,
                  });
                }
                break;
              }
              case 106: // 'j'
                tempStr = tryStringify(args[++a]);
                break;
              case 100: { // 'd'
                const tempNum = args[++a];
                if (typeof tempNum === 'bigint') {
                  tempStr = formatBigInt(tempNum, false);
                } else if (typeof tempNum === 'symbol') {
                  tempStr = 'NaN';
                } else {
                  tempStr = formatNumber(toNumber(tempNum), false);
                }
                break;
              }
              case 79: // 'O'
                tempStr = inspectWith(inspectOptions, args[++a]);
                break;
              case 111: // 'o'
                tempStr = inspectWith(inspectOptions, args[++a], {
                  __proto__: null,
                  showHidden: true,
                  showProxy: true,
                  depth: 4,
                });
                break;
              case 105: { // 'i'
                const tempInteger = args[++a];
                if (typeof tempInteger === 'bigint') {
                  tempStr = formatBigInt(tempInteger, false);
                } else if (typeof tempInteger === 'symbol') {
                  tempStr = 'NaN';
                } else {
                  tempStr = formatNumber(parseWith(NumberParseInt, tempInteger), false);
                }
                break;
              }
              case 102: { // 'f'
                const tempFloat = args[++a];
                if (typeof tempFloat === 'symbol') {
                  tempStr = 'NaN';
                } else {
                  tempStr = formatNumber(parseWith(NumberParseFloat, tempFloat), false);
                }
                break;
              }
              case 99: // 'c'
                a += 1;
                tempStr = '';
                break;
              case 37: // '%'
                str += StringPrototypeSlice(first, lastPos, i);
                lastPos = i + 1;
                continue;
              default: // Any other character is not a correct placeholder
                continue;
            }
            if (lastPos !== i - 1) {
              str += StringPrototypeSlice(first, lastPos, i - 1);
            }
            str += tempStr;
            lastPos = i + 1;
          } else if (nextChar === 37) {
            str += StringPrototypeSlice(first, lastPos, i);
            lastPos = i + 1;
          }
        }
      }
      if (lastPos !== 0) {
        a++;
        join = ' ';
        if (lastPos < first.length) {
          str += StringPrototypeSlice(first, lastPos);
        }
      }
    }

    while (a < args.length) {
      const value = args[a];
      str += join;
      str += typeof value !== 'string' ? inspectWith(inspectOptions, value) : value;
      join = ' ';
      a++;
    }
    return str;
  }

  /** hasBuiltInToString reads `toString` through [[Get]], as Node does; a throw counts as built-in. */
  function safeHasBuiltInToString(value) {
    try {
      return hasBuiltInToString(value);
    } catch {
      return true;
    }
  }

  /** `Number(value)`: a guest valueOf runs, as in Node; a throw gives NaN. */
  function toNumber(value) {
    try {
      return NumberCtor(value);
    } catch {
      return NaN;
    }
  }

  /** `parseInt(value)` / `parseFloat(value)`: a guest toString runs, as in Node; a throw gives NaN. */
  function parseWith(parse, value) {
    try {
      return parse(value);
    } catch {
      return NaN;
    }
  }

  /**
   * What Node prints for an uncaught throw of `e` (the caller adds `Uncaught ` for non-errors):
   * inspect(e), whose error branch writes V8's `Name: message` header over a QuickJS stack.
   */
  function formatErrorExport(error) {
    try {
      return inspect(error);
    } catch {
      return '[object Error]';
    }
  }

  return { __proto__: null, inspect, format, formatError: formatErrorExport };
})
