/// <reference path="./webassembly.d.ts" />
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { transform } from 'esbuild';
import { SandboxUnavailableError } from '../../protocol/index.js';
import { DEFAULT_MAX_OUTPUT_BYTES, type BackendHealth, type Sandbox, type SandboxBackend } from '../sandbox.js';
import { defaultEpisodeMemoryBudget, EpisodeMemoryBudget } from './memory-budget.js';
import type { WorkerConfig } from './protocol.js';
import { QuickJsSandbox } from './quickjs-sandbox.js';
import { budgetRefusal, OPEN_TIMEOUT_MS, QuickJsWorker } from './quickjs-worker.js';
import { patchInitialMemory, type WasmLayout } from './wasm-layout.js';

/** Cap of each episode's WebAssembly.Memory. @default 256 MiB */
export const DEFAULT_JS_MEMORY_LIMIT_BYTES = 256 * 1024 * 1024;
/** QuickJS's stack guard (the wasm shadow stack). @default 512 KiB */
export const DEFAULT_JS_MAX_STACK_SIZE_BYTES = 512 * 1024;
/** The V8 stack of each worker thread, large enough that QuickJS's own guard trips first. @default 16 MiB */
export const DEFAULT_JS_WORKER_STACK_MB = 16;
/**
 * The most episodes one worker thread hosts: the blast radius of terminating a stalled worker.
 * Small enough that one stall costs few episodes their state; large enough that 1,000 idle
 * episodes need only ~63 threads (~5 MB each). @default 16
 */
export const DEFAULT_JS_EPISODES_PER_WORKER = 16;
/** How long past its deadline a step may hold its worker before the worker is terminated. @default 1000 ms */
export const DEFAULT_JS_GRACE_MS = 1_000;
/**
 * The least of the episode memory budget a new episode must find free: what an idle episode is
 * charged (~2 MiB measured: its runtime, two contexts, the prelude and the formatter, as its
 * episode image holds them) and room for its first steps. @default 4 MiB
 */
export const EPISODE_MINIMUM_BYTES = 4 * 1024 * 1024;
/** What a client refused by the episode memory budget is told to wait (`Retry-After`). @default 1 s */
export const MEMORY_BUDGET_RETRY_AFTER_S = 1;
/** The smallest episode memory budget that can be set: a few episodes' minimum. @default 16 MiB */
export const MIN_EPISODE_MEMORY_BUDGET_BYTES = 16 * 1024 * 1024;

/** Options of the JavaScript backend. */
export interface JavaScriptBackendOptions {
  /** @default {@link DEFAULT_JS_MEMORY_LIMIT_BYTES} */
  memoryLimitBytes?: number;
  /** @default {@link DEFAULT_JS_MAX_STACK_SIZE_BYTES} */
  maxStackSizeBytes?: number;
  /** Per step and stream. @default 1 MiB */
  maxOutputBytes?: number;
  /** @default {@link DEFAULT_JS_EPISODES_PER_WORKER} */
  episodesPerWorker?: number;
  /** Worker threads started before any is shared. @default the CPU count */
  spreadWorkers?: number;
  /** @default {@link DEFAULT_JS_GRACE_MS} */
  graceMs?: number;
  /** @default {@link DEFAULT_JS_WORKER_STACK_MB} */
  workerStackSizeMb?: number;
  /** How long an idle worker may take to start an episode before it is terminated. @default {@link OPEN_TIMEOUT_MS} */
  openTimeoutMs?: number;
  /**
   * What all JavaScript episodes' memories may hold together (they live in the server's process).
   * @default derived from the memory limit by {@link defaultEpisodeMemoryBudget}
   */
  memoryBudgetBytes?: number;
}

/**
 * The JavaScript backend: a {@link SandboxBackend} over a set of worker threads. Its `health()` is
 * `{ backend, isolation, workers, episodes, episodes_per_worker, terminated_workers }`; closing it
 * terminates every worker, and so every episode.
 */
export interface JavaScriptBackend extends SandboxBackend {
  readonly backend: 'quickjs';
  /** Worker threads alive now. */
  readonly workerCount: number;
  /** Episodes open now, over all workers. */
  readonly episodeCount: number;
  /** The most episodes one worker hosts. */
  readonly episodesPerWorker: number;
  /** Workers terminated so far because a step stalled one. */
  readonly terminatedWorkers: number;
  /** The episode memory budget and its use. */
  readonly memoryBudget: EpisodeMemoryBudget;
  /**
   * Why a loaded worker sets its episodes up from scratch instead of restoring them from its
   * episode image (see episode-image.ts), or undefined when every loaded worker has its image.
   */
  readonly imageFailure: string | undefined;
}

let compiled: Promise<{ module: WebAssembly.Module; layout: WasmLayout }> | undefined;

/**
 * The QuickJS release-sync wasm, its memory's declared minimum lowered to where the heap starts
 * (so the budget sees every heap page arrive), compiled once per process and shared by every worker.
 */
function compiledModule(): Promise<{ module: WebAssembly.Module; layout: WasmLayout }> {
  const path = createRequire(import.meta.url).resolve('@jitl/quickjs-wasmfile-release-sync/wasm');
  compiled ??= readFile(path).then(async (bytes) => {
    const layout = patchInitialMemory(bytes);
    return { module: await WebAssembly.compile(bytes), layout };
  });
  return compiled;
}

let sources: Promise<{ prelude: string; formatter: string }> | undefined;

/** The name the minifier's input binds a guest script's function to; stripped from its output. */
const BINDING = 'var __envbox_source=';
/** Tries to open a new episode when the workers it was placed on die while it opens. */
const OPEN_ATTEMPTS = 3;

/**
 * A guest script (one function expression), minified once per process: QuickJS parses a
 * context's source anew each time (its bytecode cannot be shared between instances), and the
 * formatter's 100 KB take ~3x longer to parse than their minified form. Falls back to the
 * original if the minifier fails.
 */
async function minified(source: string): Promise<string> {
  try {
    const { code } = await transform(`${BINDING.replace('=', ' = ')}${source};`, { minify: true, target: 'es2022' });
    const body = code.trim();
    if (body.startsWith(BINDING) && body.endsWith(';')) return body.slice(BINDING.length, -1);
  } catch {
    // The original works too, only slower to load.
  }
  return source;
}

/** The guest prelude and Node's formatter, each a script evaluating to one function. */
function guestSources(): Promise<{ prelude: string; formatter: string }> {
  sources ??= Promise.all([
    readFile(new URL('./prelude.js', import.meta.url), 'utf8'),
    readFile(new URL('./guest-inspect.js', import.meta.url), 'utf8'),
  ]).then(async ([prelude, formatter]) => ({
    prelude: await minified(prelude.trim().replace(/;$/, '')),
    formatter: await minified(formatter.trim().replace(/;$/, '')),
  }));
  return sources;
}

/**
 * Start the JavaScript (QuickJS) backend. Episodes are placed on the least-loaded worker thread;
 * a new thread starts while there are fewer than `spreadWorkers` or all are full.
 */
export async function createQuickJsBackend(options: JavaScriptBackendOptions = {}): Promise<JavaScriptBackend> {
  const memoryLimitBytes = options.memoryLimitBytes ?? DEFAULT_JS_MEMORY_LIMIT_BYTES;
  const { module, layout } = await compiledModule();
  const budget = new EpisodeMemoryBudget(options.memoryBudgetBytes ?? defaultEpisodeMemoryBudget());
  const config: WorkerConfig = {
    wasmModule: module,
    layout: { initialPages: layout.initialPages, heapBase: layout.heapBase },
    budgetCells: budget.cells,
    preludeSource: (await guestSources()).prelude,
    formatterSource: (await guestSources()).formatter,
    memoryLimitBytes,
    // QuickJS's own accounting trips a little before the memory's hard cap, which it does not
    // count exactly (the release build's allocator overhead, the shadow stack).
    runtimeMemoryLimitBytes: Math.floor(memoryLimitBytes * 0.9),
    maxStackSizeBytes: options.maxStackSizeBytes ?? DEFAULT_JS_MAX_STACK_SIZE_BYTES,
    maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
  };
  const episodesPerWorker = options.episodesPerWorker ?? DEFAULT_JS_EPISODES_PER_WORKER;
  const spread = options.spreadWorkers ?? availableParallelism();
  const workerOptions = {
    graceMs: options.graceMs ?? DEFAULT_JS_GRACE_MS,
    stackSizeMb: options.workerStackSizeMb ?? DEFAULT_JS_WORKER_STACK_MB,
    openTimeoutMs: options.openTimeoutMs ?? OPEN_TIMEOUT_MS,
    onDeath: (worker: QuickJsWorker) => {
      // A worker release() retired (no episodes left) is already out of the set: not a termination.
      if (workers.delete(worker) && !closed) terminated += 1;
    },
    budget,
    budgetRetryAfterS: MEMORY_BUDGET_RETRY_AFTER_S,
  };
  const workers = new Set<QuickJsWorker>();
  let nextEpisode = 1;
  let terminated = 0;
  let closed = false;
  let closing: Promise<void> | undefined;

  function place(): QuickJsWorker {
    let best: QuickJsWorker | undefined;
    for (const worker of workers) {
      if (best === undefined || worker.episodes.size < best.episodes.size) best = worker;
    }
    if (best !== undefined && best.episodes.size < episodesPerWorker && (best.episodes.size === 0 || workers.size >= spread)) return best;
    let worker: QuickJsWorker;
    try {
      worker = new QuickJsWorker(config, workerOptions);
    } catch (error) {
      throw new SandboxUnavailableError(`Cannot start a JavaScript sandbox: ${error instanceof Error ? error.message : String(error)}.`, { cause: error });
    }
    workers.add(worker);
    return worker;
  }

  /** Stop a worker left without episodes, when others remain to take new ones. */
  function release(worker: QuickJsWorker): void {
    if (worker.episodes.size === 0 && workers.size > spread) {
      workers.delete(worker);
      void worker.terminate('it hosted no episode any more');
    }
  }

  const close = (): Promise<void> => {
    closed = true;
    closing ??= Promise.all([...workers].map((worker) => worker.terminate('the backend closed'))).then(() => workers.clear());
    return closing;
  };

  const backend: JavaScriptBackend = {
    backend: 'quickjs',
    isolation: 'wasm',
    get workerCount() {
      return workers.size;
    },
    get episodeCount() {
      let count = 0;
      for (const worker of workers) count += worker.episodes.size;
      return count;
    },
    episodesPerWorker,
    get terminatedWorkers() {
      return terminated;
    },
    memoryBudget: budget,
    get imageFailure() {
      for (const worker of workers) {
        const image = worker.image;
        if (image !== undefined && 'failure' in image) return image.failure;
      }
      return undefined;
    },
    async create({ signal } = {}): Promise<Sandbox> {
      if (closed) throw new SandboxUnavailableError('Cannot start a JavaScript sandbox: its backend is closed (the server is shutting down).');
      signal?.throwIfAborted();
      // Refused here without a worker's round trip (and without starting a worker) when the budget
      // is surely short; the worker's own charge is the exact check.
      if (!budget.hasRoomFor(EPISODE_MINIMUM_BYTES)) throw budgetRefusal(budget, MEMORY_BUDGET_RETRY_AFTER_S);
      let worker: QuickJsWorker;
      let episode: number;
      // A new episode has no state yet, so one whose worker died while it opened (terminated for a
      // neighbour's stall) is opened again elsewhere instead of failing the reset.
      for (let attempt = 1; ; attempt += 1) {
        worker = place();
        episode = nextEpisode++;
        try {
          await worker.open(episode);
          break;
        } catch (error) {
          worker.close(episode);
          release(worker);
          if (closed || worker.alive || attempt >= OPEN_ATTEMPTS) throw error;
          signal?.throwIfAborted();
        }
      }
      const sandbox = new QuickJsSandbox(worker, episode, () => release(worker));
      if (signal?.aborted) {
        await sandbox.close();
        signal.throwIfAborted();
      }
      return sandbox;
    },
    health: (): BackendHealth => ({
      backend: backend.backend,
      isolation: backend.isolation,
      workers: backend.workerCount,
      episodes: backend.episodeCount,
      episodes_per_worker: episodesPerWorker,
      terminated_workers: terminated,
      memory_budget_bytes: budget.budgetBytes,
      memory_used_bytes: budget.usedBytes,
      memory_refused_episodes: budget.refusedEpisodes,
      memory_refused_growths: budget.refusedGrowths,
    }),
    close,
    [Symbol.asyncDispose]: close,
  };
  return backend;
}
