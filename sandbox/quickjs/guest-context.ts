/// <reference path="./webassembly.d.ts" />
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  HostRefId,
  JSContextPointer,
  JSRuntimePointer,
  JSValuePointer,
  QuickJSContext,
  QuickJSHandle,
  QuickJSRuntime,
  VmFunctionImplementation,
} from 'quickjs-emscripten-core';
import { EXIT_ERROR, EXIT_KILLED, EXIT_OK, EXIT_TIMEOUT } from '../sandbox.js';
import { EpisodeImage, locateRandomState, nonZeroChunks, type ImagePointers } from './episode-image.js';
import { EpisodeMemoryBudget, WorkerMemoryAccount } from './memory-budget.js';
import { instantiateModule, type EpisodeModule } from './module-instance.js';
import type { StepReport, WorkerConfig } from './protocol.js';
import { trackAsyncFunctions } from './track-async.js';
import { WASM_PAGE_BYTES } from './wasm-layout.js';
/** QuickJS's `JS_EVAL_FLAG_ASYNC`: a global script whose completion is a promise of `{value}`. */
const JS_EVAL_FLAG_ASYNC = 1 << 7;
/**
 * What an episode is charged for the part of its memory below the heap, besides the part of
 * emscripten's 5 MiB shadow stack that QuickJS's stack guard (`maxStackSizeBytes`) lets it touch:
 * the static data (~88 KB) and slack. The rest of that stack is never written, so never resident.
 */
const STATIC_DATA_CHARGE_BYTES = 256 * 1024;
/**
 * Free room the episode's memory must have for Node's formatter to be loaded: QuickJS crashes
 * (a wasm trap) when the parser runs out of memory, so under pressure plain forms are printed.
 */
const FORMATTER_HEADROOM_BYTES = 8 * 1024 * 1024;
/** Room under QuickJS's memory cap that surely lets a step be parsed and run, after a failed step. */
const USABLE_HEADROOM_BYTES = 1024 * 1024;
/** Time given to install the prelude in a new context. */
const SETUP_BUDGET_MS = 5_000;
/** Time given, past the step's deadline, to format its result or its error (guest code may run). */
export const FORMAT_BUDGET_MS = 200;

/** Thrown by {@link GuestContext.create} when the episode memory budget cannot give a new episode its memory. */
export class MemoryBudgetRefusal extends Error {
  override readonly name = 'MemoryBudgetRefusal';
}

/**
 * An episode's WebAssembly.Memory whose every growth is charged to the episode memory budget
 * first: emscripten grows memory through the memory object's `grow` (and handles its failure as
 * malloc returning NULL), so a refused growth is an out-of-memory error inside the guest.
 */
class MeteredMemory {
  readonly memory: WebAssembly.Memory;
  readonly #account: WorkerMemoryAccount;
  /** Pages charged to the budget for this memory now. */
  #charged = 0;
  /** Set when a growth was refused; read and cleared once per step. */
  refused = false;

  /**
   * @param initialPages the memory's size at start: the build's minimum, or an episode image's size
   * @throws {MemoryBudgetRefusal} when the budget cannot take the memory's initial size
   */
  constructor(config: WorkerConfig, account: WorkerMemoryAccount, initialPages: number) {
    const { heapBase } = config.layout;
    const maximum = Math.max(initialPages, Math.floor(config.memoryLimitBytes / WASM_PAGE_BYTES));
    // Pages below the heap's are charged as the stack guard plus STATIC_DATA_CHARGE_BYTES; heap
    // pages one for one. Without a known layout every page counts.
    const belowHeapCharge = Math.ceil((config.maxStackSizeBytes + STATIC_DATA_CHARGE_BYTES) / WASM_PAGE_BYTES);
    const unchargedPages = heapBase > 0 ? Math.floor(heapBase / WASM_PAGE_BYTES) - belowHeapCharge : 0;
    const initialCharge = initialPages - Math.max(0, unchargedPages);
    if (!account.charge(initialCharge)) throw new MemoryBudgetRefusal('the episode memory budget is spent');
    this.#account = account;
    this.#charged = initialCharge;
    const memory = new WebAssembly.Memory({ initial: initialPages, maximum });
    const grow = memory.grow.bind(memory);
    Object.defineProperty(memory, 'grow', {
      value: (deltaPages: number): number => {
        if (!account.charge(deltaPages)) {
          this.refused = true;
          throw new RangeError('envbox: the episode memory budget is spent');
        }
        try {
          const previous = grow(deltaPages);
          this.#charged += deltaPages;
          return previous;
        } catch (error) {
          // Past this episode's own maximum: its cap, not the budget.
          account.release(deltaPages);
          throw error;
        }
      },
    });
    this.memory = memory;
  }

  /** Give the whole charge back (the memory is dropped with the episode); the pages given back. Idempotent. */
  release(): number {
    const released = this.#charged;
    this.#account.release(released);
    this.#charged = 0;
    return released;
  }
}

/** Node's exit code when the main module's top-level await never settles. */
const EXIT_UNSETTLED = 13;

/** Node's formatter, in a realm of its own beside the guest's (loaded on first use). */
interface Formatter {
  inspect: QuickJSHandle;
  format: QuickJSHandle;
  formatError: QuickJSHandle;
}

/** Internals the prelude returns; the guest never sees these handles. */
interface PreludeInternals {
  formatResult: QuickJSHandle;
  formatUncaught: QuickJSHandle;
  nextDue: QuickJSHandle;
  runDueTimer: QuickJSHandle;
  clearTimers: QuickJSHandle;
  takeUnhandledRejections: QuickJSHandle;
}

const PRELUDE_INTERNALS = ['formatResult', 'formatUncaught', 'nextDue', 'runDueTimer', 'clearTimers', 'takeUnhandledRejections'] as const satisfies readonly (keyof PreludeInternals)[];
const FORMATTER_FUNCTIONS = ['inspect', 'format', 'formatError'] as const satisfies readonly (keyof Formatter)[];

/** The host functions QuickJS functions of an episode call: the prelude's bridge, and the formatter realm's one hook. */
type HostFunctionName = 'write' | 'exit' | 'promiseState' | 'inspect' | 'format' | 'formatError' | 'formatterPromiseState';
const BRIDGE_FUNCTIONS = ['write', 'exit', 'promiseState', 'inspect', 'format', 'formatError'] as const satisfies readonly HostFunctionName[];
const HOST_FUNCTION_NAMES: ReadonlySet<string> = new Set<HostFunctionName>([...BRIDGE_FUNCTIONS, 'formatterPromiseState']);
/** The first id quickjs-emscripten's HostRefMap hands out (then counting up, in a runtime that freed none). */
const FIRST_HOST_REF_ID = -(2 ** 31);

/**
 * Whether the episode image includes Node's formatter, loaded in the formatter realm: every episode
 * then starts with it (no ~10 ms load on its first `console.log` of an object), for ~80 more
 * chunks of 4 KiB to copy per new episode.
 */
const IMAGE_WITH_FORMATTER = true;

/** Output of one step, capped per stream in UTF-8 bytes. */
class StepOutput {
  stdout = '';
  stderr = '';
  truncated = false;
  #bytes = [0, 0];
  readonly #capBytes: number;

  constructor(capBytes: number) {
    this.#capBytes = capBytes;
  }

  write(fd: 1 | 2, text: string): void {
    const index = fd - 1;
    const room = this.#capBytes - this.#bytes[index]!;
    if (room <= 0) {
      this.truncated ||= text.length > 0;
      return;
    }
    let piece = text;
    let bytes = Buffer.byteLength(piece);
    if (bytes > room) {
      // Cut on a character boundary (never half a surrogate pair or a broken UTF-8 sequence).
      piece = Buffer.from(piece).subarray(0, room).toString().replace(/\uFFFD$/, '');
      bytes = Buffer.byteLength(piece);
      this.truncated = true;
    }
    this.#bytes[index]! += bytes;
    if (fd === 1) this.stdout += piece;
    else this.stderr += piece;
  }
}

/**
 * One JavaScript episode inside a worker thread: its own QuickJS module instance (from the shared
 * compiled module) with its own capped WebAssembly.Memory, one runtime and one context. Steps are
 * global scripts evaluated with the async flag, so declarations persist and top-level await works.
 * Only strings and numbers leave the guest: the prelude formats values inside it.
 */
export class GuestContext {
  readonly #config: WorkerConfig;
  readonly #metered: MeteredMemory;
  readonly #account: WorkerMemoryAccount;
  readonly #runtime: QuickJSRuntime;
  readonly #context: QuickJSContext;
  #internals: PreludeInternals | undefined;
  /**
   * The realm Node's formatter is evaluated in. Made with the episode (~0.3 ms): QuickJS's
   * JS_NewContext does not survive running out of memory, and the formatter is often first
   * needed right then, to print the out-of-memory error.
   */
  readonly #formatterContext: QuickJSContext;
  #formatter: Formatter | undefined;
  #deadline = 0;
  #exitCode: number | undefined;
  #output: StepOutput;
  #steps = 0;
  #alive = true;
  /** Why the context was destroyed, once it was. */
  #death: string | undefined;
  /** The host functions registered in this runtime, in order (read when this episode becomes an image). */
  readonly #registered: { name: HostFunctionName; fn: VmFunctionImplementation<QuickJSHandle> }[] = [];

  /** Where the runtime and both contexts are in the episode's memory. */
  readonly #pointers: { runtime: number; context: number; formatterContext: number };

  /** @param adopted the runtime and contexts already in memory (an episode restored from an image); new ones otherwise */
  private constructor(
    config: WorkerConfig,
    metered: MeteredMemory,
    account: WorkerMemoryAccount,
    module: EpisodeModule,
    adopted?: { runtime: number; context: number; formatterContext: number },
  ) {
    this.#config = config;
    this.#metered = metered;
    this.#account = account;
    const runtimePointer = adopted?.runtime ?? module.newRuntimePointer();
    const runtime = module.adoptRuntime(runtimePointer);
    this.#runtime = runtime;
    this.#output = new StepOutput(config.maxOutputBytes);
    runtime.setMemoryLimit(config.runtimeMemoryLimitBytes);
    runtime.setMaxStackSize(config.maxStackSizeBytes);
    runtime.setInterruptHandler(() => this.#exitCode !== undefined || Date.now() > this.#deadline);
    this.#pointers = {
      runtime: runtimePointer,
      context: adopted?.context ?? module.newContextPointer(runtimePointer),
      formatterContext: adopted?.formatterContext ?? module.newContextPointer(runtimePointer),
    };
    this.#context = runtime.newContext({ contextPointer: this.#pointers.context as JSContextPointer });
    this.#formatterContext = runtime.newContext({ contextPointer: this.#pointers.formatterContext as JSContextPointer });
  }

  /**
   * A new episode: restored from `image` when given (its own memory and instance, the image's
   * bytes copied in), else set up from scratch (new runtime and contexts, the prelude evaluated).
   * @throws {MemoryBudgetRefusal} when the episode memory budget cannot give it its memory
   * @throws when the module cannot be instantiated, the prelude fails or the image does not fit
   *   this build (a broken appliance, not a guest error)
   */
  static async create(config: WorkerConfig, account: WorkerMemoryAccount, image?: EpisodeImage): Promise<GuestContext> {
    const metered = new MeteredMemory(config, account, image?.memoryPages ?? config.layout.initialPages);
    let guest: GuestContext;
    try {
      const module = await instantiateModule(config.wasmModule, metered.memory);
      if (image === undefined) {
        guest = new GuestContext(config, metered, account, module);
      } else {
        image.restore(metered.memory);
        guest = new GuestContext(config, metered, account, module, image.pointers);
      }
    } catch (error) {
      metered.release();
      throw metered.refused ? new MemoryBudgetRefusal('the episode memory budget is spent', { cause: error }) : error;
    }
    try {
      if (image === undefined) guest.#install();
      else guest.#adopt(image.pointers);
    } catch (error) {
      guest.dispose();
      throw metered.refused ? new MemoryBudgetRefusal('the episode memory budget is spent', { cause: error }) : error;
    }
    return guest;
  }

  /**
   * The image new episodes start from: an episode set up from scratch (and, with
   * {@link IMAGE_WITH_FORMATTER}, its formatter loaded), copied before it runs anything else, then
   * dropped. Its memory is the worker's own, like the worker's code, not an episode's: it is not
   * charged to the episode memory budget (it is held for a few milliseconds, and the image itself
   * is a few hundred KiB per worker).
   * @throws when any step fails: the worker then sets episodes up from scratch
   */
  static async makeImage(config: WorkerConfig): Promise<EpisodeImage> {
    const budget = new EpisodeMemoryBudget(Number.MAX_SAFE_INTEGER);
    const account = new WorkerMemoryAccount(budget.cells, budget.acquireCell());
    const metered = new MeteredMemory(config, account, config.layout.initialPages);
    const module = await instantiateModule(config.wasmModule, metered.memory);
    const instantiationChunks = nonZeroChunks(metered.memory);
    const template = new GuestContext(config, metered, account, module);
    try {
      template.#install();
      if (IMAGE_WITH_FORMATTER) template.#formatter = template.#loadFormatter();
      if (template.#runtime.hasPendingJob()) throw new Error('the set-up episode has pending jobs');
      const pointers = template.#imagePointers();
      return EpisodeImage.capture(metered.memory, instantiationChunks, pointers, () =>
        locateRandomState(metered.memory, pointers.context, () => {
          template.#deadline = Date.now() + SETUP_BUDGET_MS;
          template.#context.unwrapResult(template.#context.evalCode('Math.random()', 'envbox-seed.js')).dispose();
        }),
      );
    } finally {
      template.dispose();
    }
  }

  /** Where this episode's objects are in its memory, and its host functions' ids. */
  #imagePointers(): ImagePointers {
    const handles: Record<string, number> = {};
    for (const name of PRELUDE_INTERNALS) handles[name] = this.#internals![name].value;
    if (this.#formatter !== undefined) {
      for (const name of FORMATTER_FUNCTIONS) handles[`formatter.${name}`] = this.#formatter[name].value;
    }
    const hostFunctions = this.#registered.map(({ name, fn }, index) => {
      const id = FIRST_HOST_REF_ID + index;
      if (this.#runtime.hostRefs.get(id as HostRefId) !== fn) throw new Error(`host function ${name} is not host ref ${id}`);
      return { name, id };
    });
    return { ...this.#pointers, handles, hostFunctions };
  }

  /**
   * Take over the objects of an image restored into this episode's memory: register this
   * episode's host functions under the ids the image's QuickJS functions call, and hold the
   * image's handles.
   * @throws when the image does not match (a different build or quickjs-emscripten)
   */
  #adopt(pointers: ImagePointers): void {
    for (const { name, id } of pointers.hostFunctions) {
      if (!HOST_FUNCTION_NAMES.has(name)) throw new Error(`the episode image calls an unknown host function ${name}`);
      const fn = this.#hostFunction(name as HostFunctionName);
      const given = this.#runtime.hostRefs.put(fn);
      if (given !== id) throw new Error(`the episode image's host function ${name} is host ref ${id}; its restored runtime gave ${given}`);
      this.#registered.push({ name: name as HostFunctionName, fn });
    }
    const runtime = pointers.runtime as JSRuntimePointer;
    const handle = (context: QuickJSContext, name: string): QuickJSHandle => {
      const pointer = pointers.handles[name];
      if (pointer === undefined) throw new Error(`the episode image has no handle ${name}`);
      return context.getMemory(runtime).heapValueHandle(pointer as JSValuePointer);
    };
    const internals: Partial<PreludeInternals> = {};
    for (const name of PRELUDE_INTERNALS) internals[name] = handle(this.#context, name);
    this.#internals = internals as PreludeInternals;
    if (pointers.handles['formatter.inspect'] !== undefined) {
      const formatter: Partial<Formatter> = {};
      for (const name of FORMATTER_FUNCTIONS) formatter[name] = handle(this.#formatterContext, `formatter.${name}`);
      this.#formatter = formatter as Formatter;
    }
  }

  /** False once the context was destroyed (out of memory, a trap) or disposed. */
  get alive(): boolean {
    return this.#alive;
  }

  #install(): void {
    const ctx = this.#context;
    this.#deadline = Date.now() + SETUP_BUDGET_MS;
    const bridge = ctx.newObject();
    for (const name of BRIDGE_FUNCTIONS) {
      const handle = this.#newHostFunction(ctx, name, name);
      ctx.setProp(bridge, name, handle);
      handle.dispose();
    }
    try {
      const install = ctx.unwrapResult(ctx.evalCode(this.#config.preludeSource, 'envbox-prelude.js'));
      const internals = ctx.unwrapResult(ctx.callFunction(install, ctx.undefined, bridge));
      install.dispose();
      const take = (name: keyof PreludeInternals): QuickJSHandle => ctx.getProp(internals, name);
      this.#internals = {
        formatResult: take('formatResult'),
        formatUncaught: take('formatUncaught'),
        nextDue: take('nextDue'),
        runDueTimer: take('runDueTimer'),
        clearTimers: take('clearTimers'),
        takeUnhandledRejections: take('takeUnhandledRejections'),
      };
      internals.dispose();
    } finally {
      bridge.dispose();
    }
  }

  /**
   * The implementation of a host function, bound to this episode. An episode restored from an
   * image registers these again under the ids its image's QuickJS functions call (see #adopt).
   */
  #hostFunction(name: HostFunctionName): VmFunctionImplementation<QuickJSHandle> {
    const ctx = this.#context;
    switch (name) {
      case 'write':
        return (fd, text) => {
          // Only the prelude holds this function; still, take nothing but a number and a string.
          if (this.#exitCode !== undefined || ctx.typeof(fd) !== 'number' || ctx.typeof(text) !== 'string') return;
          const n = ctx.getNumber(fd);
          if (n === 1 || n === 2) this.#output.write(n, ctx.getString(text));
        };
      case 'exit':
        return (code) => {
          if (this.#exitCode !== undefined) return;
          this.#exitCode = ctx.typeof(code) === 'number' ? ctx.getNumber(code) & 0xff : EXIT_ERROR;
        };
      case 'promiseState':
        return (promise) => this.#promiseState(ctx, promise);
      case 'inspect':
      case 'format':
      case 'formatError':
        return (...args) => {
          const text = this.#callFormatter(name, args);
          return text === undefined ? ctx.undefined : ctx.newString(text);
        };
      case 'formatterPromiseState':
        return (promise) => this.#promiseState(this.#formatterContext, promise);
    }
  }

  /** A QuickJS function of `context` calling host function `name`, registered in order. */
  #newHostFunction(context: QuickJSContext, name: HostFunctionName, shownName: string): QuickJSHandle {
    const fn = this.#hostFunction(name);
    const handle = context.newFunction(shownName, fn);
    this.#registered.push({ name, fn });
    return handle;
  }

  /** `[state, value]` of a promise, as a new array of `ctx`: reads the engine's own slots, so no getter or `then` of the guest runs. */
  #promiseState(ctx: QuickJSContext, promise: QuickJSHandle): QuickJSHandle {
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
  }

  /**
   * Node's formatter on guest values: evaluated on first use in a second context of this
   * episode's runtime, where the guest cannot tamper with the built-ins it uses (values cross
   * between contexts of one runtime as they are). Returns what to print; never throws.
   */
  #callFormatter(name: 'inspect' | 'format' | 'formatError', args: QuickJSHandle[]): string | undefined {
    try {
      if (
        this.#formatter === undefined &&
        (this.#metered.memory.buffer.byteLength > this.#config.memoryLimitBytes - FORMATTER_HEADROOM_BYTES || this.#account.availableBytes < FORMATTER_HEADROOM_BYTES)
      ) {
        return undefined;
      }
      const formatter = (this.#formatter ??= this.#loadFormatter());
      const context = this.#formatterContext;
      const result = context.callFunction(formatter[name], context.undefined, ...args);
      if (result.error) {
        // The interrupt (the step's deadline), or out of memory: the prelude prints a plain form.
        result.error.dispose();
        return undefined;
      }
      const text = context.typeof(result.value) === 'string' ? context.getString(result.value) : undefined;
      result.value.dispose();
      return text;
    } catch {
      return undefined;
    }
  }

  /** @throws when the formatter cannot be evaluated (e.g. the episode's memory is full); tried again on the next use */
  #loadFormatter(): Formatter {
    const context = this.#formatterContext;
    const hooks = context.newObject();
    const promiseState = this.#newHostFunction(context, 'formatterPromiseState', 'promiseState');
    context.setProp(hooks, 'promiseState', promiseState);
    promiseState.dispose();
    const create = context.unwrapResult(context.evalCode(this.#config.formatterSource, 'envbox-inspect.js'));
    const api = context.unwrapResult(context.callFunction(create, context.undefined, hooks));
    create.dispose();
    hooks.dispose();
    const formatter = { inspect: context.getProp(api, 'inspect'), format: context.getProp(api, 'format'), formatError: context.getProp(api, 'formatError') };
    api.dispose();
    return formatter;
  }

  /**
   * Run one step. Guest failures are results; a context that cannot go on is destroyed and the
   * report says `stateLost`.
   */
  async run(code: string, timeoutMs: number, onBusy: (busy: boolean) => void): Promise<StepReport> {
    if (!this.#alive) return this.#lostReport();
    this.#steps += 1;
    this.#deadline = Date.now() + timeoutMs;
    this.#exitCode = undefined;
    this.#output = new StepOutput(this.#config.maxOutputBytes);
    const ctx = this.#context;
    let uncaught: string | undefined;
    let timedOut = false;
    let resultText: string | null = null;
    let unsettled = false;
    try {
      onBusy(true);
      const evaluated = ctx.evalCode(trackAsyncFunctions(code), `step-${this.#steps}.js`, JS_EVAL_FLAG_ASYNC);
      let promise: QuickJSHandle | undefined;
      if (evaluated.error) {
        uncaught = this.#failure(evaluated.error);
      } else {
        promise = evaluated.value;
      }
      // Run jobs and due timers until nothing is left, the step exits, or its deadline passes.
      while (uncaught === undefined && this.#exitCode === undefined) {
        const jobs = this.#drainJobs();
        if (jobs !== undefined) {
          uncaught = jobs;
          break;
        }
        if (Date.now() > this.#deadline) break;
        const due = this.#call(this.#internals!.nextDue);
        if (typeof due !== 'number') {
          uncaught = typeof due === 'string' ? undefined : due.uncaught;
          break;
        }
        if (due < 0) break;
        const wait = Math.min(due, this.#deadline + 1) - Date.now();
        if (wait > 0) {
          // Yield the worker to other episodes while this one waits for its timer.
          onBusy(false);
          await sleep(wait);
          onBusy(true);
          continue;
        }
        const ran = this.#callVoid(this.#internals!.runDueTimer);
        if (ran !== undefined) {
          uncaught = ran;
          this.#callVoid(this.#internals!.clearTimers);
        }
      }
      timedOut = this.#exitCode === undefined && Date.now() > this.#deadline;
      if (this.#exitCode !== undefined) {
        // Like a process that exits: queued jobs and timers die with the step. The interrupt
        // handler still answers "stop", so each remaining job ends at its first check.
        this.#callVoid(this.#internals!.clearTimers);
        while (this.#runtime.hasPendingJob()) {
          const result = this.#runtime.executePendingJobs(1);
          result.error?.dispose();
        }
      }
      // Formatting runs guest code (getters of a thrown object, a Proxy's traps): give it a small
      // budget of its own.
      const formatDeadline = Date.now() + FORMAT_BUDGET_MS;
      if (promise !== undefined) {
        if (uncaught === undefined && !timedOut && this.#exitCode === undefined) {
          const state = ctx.getPromiseState(promise);
          if (state.type === 'fulfilled') {
            const value = ctx.getProp(state.value, 'value');
            state.value.dispose();
            this.#deadline = formatDeadline;
            resultText = this.#formatResult(value);
            value.dispose();
          } else if (state.type === 'rejected') {
            this.#deadline = formatDeadline;
            uncaught = this.#failure(state.error);
          } else {
            unsettled = true;
          }
        }
        promise.dispose();
      }
      let rejections = '';
      if (this.#exitCode === undefined && !timedOut) {
        this.#deadline = formatDeadline;
        const taken = this.#call(this.#internals!.takeUnhandledRejections);
        rejections = typeof taken === 'string' ? taken : '';
      }
      if (uncaught !== undefined && this.#exitCode === undefined && !timedOut) this.#output.write(2, uncaught);
      if (rejections !== '') this.#output.write(2, rejections);
      if (unsettled && rejections === '') {
        this.#output.write(2, 'Warning: Detected unsettled top-level await: the step awaited a promise that nothing can settle (no job, no timer is left).\n');
      }
      if (timedOut) {
        this.#output.write(2, `TimeoutError: the step ran past its limit of ${timeoutMs / 1000} s and was interrupted; the state is kept.\n`);
      }
      const exitCode =
        this.#exitCode ?? (timedOut ? EXIT_TIMEOUT : uncaught !== undefined || rejections !== '' ? EXIT_ERROR : unsettled ? EXIT_UNSETTLED : EXIT_OK);
      if (exitCode === EXIT_ERROR && !this.#usable(this.#metered.refused)) {
        return this.#destroy('the step ran out of memory and its context cannot run any more', this.#output);
      }
      return { stdout: this.#output.stdout, stderr: this.#output.stderr, exitCode, result: resultText, truncated: this.#output.truncated, stateLost: false };
    } catch (error) {
      // A host exception out of the engine (a wasm trap, V8's own stack): this instance is not
      // trustworthy any more.
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      return this.#destroy(`its context crashed (${reason.length > 200 ? `${reason.slice(0, 200)}...` : reason})`, this.#output);
    } finally {
      onBusy(false);
      if (this.#metered.refused) {
        // Counted once per step (emscripten tries a few smaller growths for one allocation).
        this.#metered.refused = false;
        this.#account.countRefusedGrowth();
      }
    }
  }

  /** Run pending jobs one at a time; the formatted error of a job that failed uncatchably. */
  #drainJobs(): string | undefined {
    while (this.#runtime.hasPendingJob()) {
      if (this.#exitCode !== undefined || Date.now() > this.#deadline) return undefined;
      const result = this.#runtime.executePendingJobs(1);
      if (result.error) return this.#failure(result.error);
    }
    return undefined;
  }

  /** Call a prelude function that returns a string or a number. */
  #call(fn: QuickJSHandle): number | string | { uncaught: string } {
    const ctx = this.#context;
    const result = ctx.callFunction(fn, ctx.undefined);
    if (result.error) return { uncaught: this.#failure(result.error) };
    const kind = ctx.typeof(result.value);
    const value = kind === 'number' ? ctx.getNumber(result.value) : kind === 'string' ? ctx.getString(result.value) : '';
    result.value.dispose();
    return value;
  }

  /** Call a prelude function for its effect; the formatted error if it threw. */
  #callVoid(fn: QuickJSHandle): string | undefined {
    const ctx = this.#context;
    const result = ctx.callFunction(fn, ctx.undefined);
    if (result.error) return this.#failure(result.error);
    result.value.dispose();
    return undefined;
  }

  /** Format (and dispose) a thrown value, as Node prints an uncaught exception. */
  #failure(error: QuickJSHandle): string {
    const ctx = this.#context;
    if (this.#exitCode !== undefined) {
      error.dispose();
      return '';
    }
    if (Date.now() > this.#deadline) {
      // The interrupt: reported as a timeout by the caller.
      error.dispose();
      return '';
    }
    const formatted = ctx.callFunction(this.#internals!.formatUncaught, ctx.undefined, error);
    error.dispose();
    if (formatted.error) {
      formatted.error.dispose();
      return 'Uncaught exception (it could not be formatted)\n';
    }
    const text = ctx.typeof(formatted.value) === 'string' ? ctx.getString(formatted.value) : 'Uncaught exception\n';
    formatted.value.dispose();
    return text;
  }

  #formatResult(value: QuickJSHandle): string | null {
    const ctx = this.#context;
    const formatted = ctx.callFunction(this.#internals!.formatResult, ctx.undefined, value);
    if (formatted.error) {
      formatted.error.dispose();
      return null;
    }
    const text = ctx.typeof(formatted.value) === 'string' ? ctx.getString(formatted.value) : null;
    formatted.value.dispose();
    return text;
  }

  /**
   * Whether the context can still run code: after an out-of-memory error some cannot. Checked
   * after failed steps only (a few microseconds).
   */
  #usable(budgetRefused: boolean): boolean {
    // QuickJS's own cap (runtimeMemoryLimitBytes) trips below the memory's: a heap held at that cap
    // (a Map grown until it failed, still referenced) leaves the memory a few MiB short of its
    // maximum, yet no step can even be parsed. Only memory well below the QuickJS cap is sure room,
    // unless the budget refused a growth during the step: then the memory may be small and full.
    if (!budgetRefused && this.#metered.memory.buffer.byteLength < this.#config.runtimeMemoryLimitBytes - USABLE_HEADROOM_BYTES) return true;
    this.#deadline = Date.now() + FORMAT_BUDGET_MS;
    try {
      const probe = this.#context.evalCode('0', 'envbox-probe.js');
      if (probe.error) {
        probe.error.dispose();
        return false;
      }
      probe.value.dispose();
      return true;
    } catch {
      return false;
    }
  }

  #destroy(reason: string, output: StepOutput): StepReport {
    this.#death = reason;
    this.dispose();
    return {
      stdout: output.stdout,
      stderr: `${output.stderr}envbox: ${reason}; its state is lost and the next step starts in a fresh sandbox.\n`,
      exitCode: EXIT_KILLED,
      result: null,
      truncated: output.truncated,
      stateLost: true,
    };
  }

  #lostReport(): StepReport {
    return this.#destroy(this.#death ?? 'the sandbox is gone', new StepOutput(0));
  }

  /**
   * Drop the episode: its memory, its module instance and every QuickJS object in them go with
   * it; the wasm pages its charge gave back to the budget (0 when already disposed). Idempotent;
   * never throws.
   */
  dispose(): number {
    if (!this.#alive) return 0;
    this.#alive = false;
    // Nothing is freed inside the memory: it is this episode's alone and unreachable once this
    // object is, so freeing QuickJS's objects one by one (JS_FreeContext twice, JS_FreeRuntime:
    // ~0.8 ms per episode, measured) would only tidy memory about to be dropped whole. Nothing
    // outside it refers to them: the host's handles, host functions and callbacks live in this
    // episode's module instance, dropped with it.
    return this.#metered.release();
  }
}
