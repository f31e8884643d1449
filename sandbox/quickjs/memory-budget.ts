import { constrainedMemory } from 'node:process';
import { totalmem } from 'node:os';
import { WASM_PAGE_BYTES } from './wasm-layout.js';

/**
 * The memory JavaScript episodes may hold together, and its accounting across worker threads.
 *
 * JavaScript episodes live in the server's own process (QuickJS instances in worker threads), so
 * their memory is the server's: without a bound on their sum, a crowd of episodes each within its
 * own cap makes the kernel's OOM killer end the server. Every byte an episode's wasm memory gains
 * arrives through `memory.grow` (see wasm-layout.ts), where it is charged here first; a growth past
 * the budget fails inside the guest (out of memory, state kept), and a new episode that cannot be
 * given its minimum is refused (`SANDBOX_UNAVAILABLE`, retry later).
 *
 * The accounting is one SharedArrayBuffer of 32-bit cells, in wasm pages: the budget, two refusal
 * counters, and one cell per worker thread holding what that worker's episodes are charged. Only a
 * worker writes its own cell; a charge adds to the cell first and then checks the sum of all cells,
 * taking its addition back when the sum is over, so concurrent charges can be refused together but
 * never both granted past the budget. When a worker thread exits (retired, or terminated with
 * everything it held), the server zeroes its cell: a cell is always exactly what its worker holds.
 */

const BUDGET = 0;
const REFUSED_GROWTHS = 1;
const REFUSED_EPISODES = 2;
/** One past the highest cell in use: charges sum cells [FIRST_CELL, this). */
const CELLS_IN_USE = 3;
const FIRST_CELL = 4;
/** Worker threads one budget can account for (16 episodes each). */
export const MAX_BUDGET_WORKERS = 8_192;

/** What the server itself needs beside its JavaScript episodes, at least. @default 256 MiB */
export const SERVER_RESERVE_MIN_BYTES = 256 * 1024 * 1024;
/** ... and at least this share of the memory limit. @default 1/4 */
export const SERVER_RESERVE_SHARE = 0.25;
/** A smaller budget is never derived (a tiny container still runs a few episodes). @default 64 MiB */
export const MIN_DERIVED_BUDGET_BYTES = 64 * 1024 * 1024;

/** Where the appliance's memory limit came from. */
export type MemoryLimitSource = 'cgroup' | 'machine';

/**
 * The memory the server's process may use: the cgroup's limit (v1 or v2, as libuv reads it for
 * `process.constrainedMemory()`) where there is one below the machine's memory, the machine's
 * memory otherwise.
 */
export function memoryLimit(): { bytes: number; source: MemoryLimitSource } {
  const machine = totalmem();
  const constrained = constrainedMemory?.() ?? 0;
  return constrained > 0 && constrained < machine ? { bytes: constrained, source: 'cgroup' } : { bytes: machine, source: 'machine' };
}

/**
 * The default episode memory budget: the memory limit less what the server needs for itself
 * (the larger of {@link SERVER_RESERVE_MIN_BYTES} and {@link SERVER_RESERVE_SHARE} of the limit),
 * but never below {@link MIN_DERIVED_BUDGET_BYTES}.
 */
export function defaultEpisodeMemoryBudget(limitBytes = memoryLimit().bytes): number {
  const reserve = Math.max(SERVER_RESERVE_MIN_BYTES, limitBytes * SERVER_RESERVE_SHARE);
  return Math.max(MIN_DERIVED_BUDGET_BYTES, Math.floor(limitBytes - reserve));
}

/** The server's side: the budget, worker cells, and the figures `/health` and `/metrics` report. */
export class EpisodeMemoryBudget {
  /** The shared cells, given to every worker. */
  readonly cells: Int32Array;
  readonly #freeCells: number[] = [];

  /** @param budgetBytes rounded down to whole wasm pages */
  constructor(budgetBytes: number) {
    this.cells = new Int32Array(new SharedArrayBuffer((FIRST_CELL + MAX_BUDGET_WORKERS) * 4));
    Atomics.store(this.cells, BUDGET, Math.min(2 ** 31 - 1, Math.floor(budgetBytes / WASM_PAGE_BYTES)));
    Atomics.store(this.cells, CELLS_IN_USE, FIRST_CELL);
  }

  /** The budget, in bytes (whole wasm pages). */
  get budgetBytes(): number {
    return Atomics.load(this.cells, BUDGET) * WASM_PAGE_BYTES;
  }

  /** What episodes are charged now, in bytes. */
  get usedBytes(): number {
    return usedPages(this.cells) * WASM_PAGE_BYTES;
  }

  /** Steps of which a growth of the episode's memory was refused because the budget was spent. */
  get refusedGrowths(): number {
    return Atomics.load(this.cells, REFUSED_GROWTHS);
  }

  /** New episodes refused because the budget could not give them their minimum. */
  get refusedEpisodes(): number {
    return Atomics.load(this.cells, REFUSED_EPISODES);
  }

  /** Whether `bytes` more fit now. */
  hasRoomFor(bytes: number): boolean {
    return this.usedBytes + bytes <= this.budgetBytes;
  }

  /** Count a new episode refused. */
  refuseEpisode(): void {
    Atomics.add(this.cells, REFUSED_EPISODES, 1);
  }

  /**
   * A cell for a new worker thread.
   * @throws {RangeError} when {@link MAX_BUDGET_WORKERS} workers hold cells
   */
  acquireCell(): number {
    const reused = this.#freeCells.pop();
    if (reused !== undefined) return reused;
    const cell = Atomics.load(this.cells, CELLS_IN_USE);
    if (cell >= FIRST_CELL + MAX_BUDGET_WORKERS) throw new RangeError(`the episode memory budget accounts for at most ${MAX_BUDGET_WORKERS} worker threads`);
    Atomics.store(this.cells, CELLS_IN_USE, cell + 1);
    return cell;
  }

  /** Give back the cell of a worker thread that has exited: what it held is free. */
  releaseCell(cell: number): void {
    Atomics.store(this.cells, cell, 0);
    this.#freeCells.push(cell);
  }
}

function usedPages(cells: Int32Array): number {
  const end = Atomics.load(cells, CELLS_IN_USE);
  let used = 0;
  for (let cell = FIRST_CELL; cell < end; cell += 1) used += Atomics.load(cells, cell);
  return used;
}

/**
 * Released charges at least this large ask the worker to collect garbage soon: a dropped episode's
 * wasm memory stays resident until V8 collects its Memory object, and a worker's small JS heap
 * gives V8 little reason to, so without this the memory given back to the budget could still be
 * held when the next episode takes it (measured: +60 MiB over the budget after rounds of a crowd
 * filling and closing). @default 8 MiB
 */
export const COLLECT_AFTER_RELEASE_BYTES = 8 * 1024 * 1024;

/** A worker thread's side: charges and releases in its own cell. */
export class WorkerMemoryAccount {
  readonly #cells: Int32Array;
  readonly #cell: number;
  readonly #collect: (() => void) | undefined;
  #collectScheduled = false;

  /** @param collect a full garbage collection of the worker's heap, run soon after large releases */
  constructor(cells: Int32Array, cell: number, collect?: () => void) {
    this.#cells = cells;
    this.#cell = cell;
    this.#collect = collect;
  }

  /** Charge `pages` if the budget has them. */
  charge(pages: number): boolean {
    if (pages <= 0) return true;
    Atomics.add(this.#cells, this.#cell, pages);
    if (usedPages(this.#cells) <= Atomics.load(this.#cells, BUDGET)) return true;
    Atomics.sub(this.#cells, this.#cell, pages);
    return false;
  }

  /** Count a step whose growth the budget refused. */
  countRefusedGrowth(): void {
    Atomics.add(this.#cells, REFUSED_GROWTHS, 1);
  }

  /** Give back `pages` charged before. */
  release(pages: number): void {
    if (pages <= 0) return;
    Atomics.sub(this.#cells, this.#cell, pages);
    if (this.#collect !== undefined && pages * WASM_PAGE_BYTES >= COLLECT_AFTER_RELEASE_BYTES && !this.#collectScheduled) {
      // Once the releasing episode's references are dropped (the caller's turn ends first).
      this.#collectScheduled = true;
      setImmediate(() => {
        this.#collectScheduled = false;
        this.#collect!();
      });
    }
  }

  /** What the budget has left now, in bytes. */
  get availableBytes(): number {
    return Math.max(0, Atomics.load(this.#cells, BUDGET) - usedPages(this.#cells)) * WASM_PAGE_BYTES;
  }
}
