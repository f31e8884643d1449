import { Worker } from 'node:worker_threads';
import { SandboxUnavailableError } from '../../protocol/index.js';
import { lostReport } from './lost-report.js';
import type { EpisodeMemoryBudget } from './memory-budget.js';
import type { HostMessage, StepReport, WorkerConfig, WorkerMessage } from './protocol.js';

/** From source (tests) the worker is TypeScript; built, it is JavaScript beside this file. */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

/** How long a loaded, idle worker may take to start an episode before it counts as broken. @default 15 s */
export const OPEN_TIMEOUT_MS = 15_000;
/**
 * How long a new worker thread may take to load before it counts as broken: a guard against a
 * worker that never loads, not a measure of speed. Loading takes ~50 ms compiled, seconds from
 * TypeScript source in tests, and over 30 s of wall time on two cores shared with a loaded suite,
 * where a shorter guard terminated every worker before it loaded, again and again. @default 120 s
 */
const STARTUP_TIMEOUT_MS = 120_000;

/** Options of a {@link QuickJsWorker}. */
export interface QuickJsWorkerOptions {
  /** How long past a step's deadline its worker may go without answering before it is terminated. */
  graceMs: number;
  /** V8 stack of the worker thread: deep guest recursion also uses it (QuickJS's wasm frames). */
  stackSizeMb: number;
  /** How long an idle worker may take to start an episode before it counts as broken. */
  openTimeoutMs: number;
  /** Told once, when the worker died or was terminated. */
  onDeath: (worker: QuickJsWorker) => void;
  /** The episode memory budget the worker's episodes are charged to. */
  budget: EpisodeMemoryBudget;
  /** Seconds a client refused by the budget is told to wait. */
  budgetRetryAfterS: number;
}

interface PendingOpen {
  kind: 'open';
  resolve: () => void;
  reject: (error: Error) => void;
  /** Armed once the worker has loaded. */
  timer: NodeJS.Timeout | undefined;
}

interface PendingRun {
  kind: 'run';
  episode: number;
  deadline: number;
  resolve: (report: StepReport) => void;
}

/**
 * The server's side of one QuickJS worker thread: sends it episodes' steps, and terminates it when
 * a step holds the thread past its deadline plus a grace (QuickJS's interrupt handler is not
 * polled inside some native operations, such as a catastrophic regex or `Array(1e8).join()`). A
 * terminated worker takes every episode it hosted with it: each is told its state was lost.
 */
export class QuickJsWorker {
  readonly #worker: Worker;
  readonly #busy = new Int32Array(new SharedArrayBuffer(4));
  readonly #options: QuickJsWorkerOptions;
  readonly #pending = new Map<number, PendingOpen | PendingRun>();
  /** The episodes this worker hosts (open, opening, or lost with it). */
  readonly episodes = new Set<number>();
  #nextRequest = 1;
  #death: string | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #ready = false;
  #image: { byteLength: number; reseeds: boolean } | { failure: string } | undefined;
  readonly #startup: NodeJS.Timeout;

  /** @throws {RangeError} when the budget accounts for no more workers */
  constructor(config: WorkerConfig, options: QuickJsWorkerOptions) {
    this.#options = options;
    const budgetCell = options.budget.acquireCell();
    this.#worker = new Worker(WORKER_URL, {
      workerData: { ...config, busy: this.#busy, budgetCell },
      resourceLimits: { stackSizeMb: options.stackSizeMb },
      // The worker never needs the server's environment; guest code cannot reach it either way.
      env: {},
      stdout: false,
      stderr: false,
    });
    this.#worker.unref();
    this.#worker.on('message', (message: WorkerMessage) => this.#receive(message));
    this.#worker.on('error', (error) => this.#die(`its worker thread failed (${error.message})`));
    this.#worker.on('exit', (code) => {
      this.#die(`its worker thread exited (code ${code})`);
      // The thread is gone, and every episode's memory with it: nothing it held is charged any more.
      options.budget.releaseCell(budgetCell);
    });
    this.#startup = setTimeout(() => void this.terminate(`its worker thread did not load within ${STARTUP_TIMEOUT_MS} ms`), STARTUP_TIMEOUT_MS);
    this.#startup.unref();
  }

  /** False once the worker died or was terminated. */
  get alive(): boolean {
    return this.#death === undefined;
  }

  /**
   * The image this worker's episodes start from (its size in bytes, and whether restored
   * episodes get a `Math.random` seed of their own), or why it could not be made; undefined
   * until the worker has loaded.
   */
  get image(): { byteLength: number; reseeds: boolean } | { failure: string } | undefined {
    return this.#image;
  }

  /** Why the worker is gone, once it is. */
  get death(): string | undefined {
    return this.#death;
  }

  /**
   * Start episode `episode` in this worker.
   * @throws {SandboxUnavailableError} when the worker cannot start it
   */
  open(episode: number): Promise<void> {
    if (this.#death !== undefined) return Promise.reject(new SandboxUnavailableError(`cannot start a JavaScript sandbox: ${this.#death}`));
    this.episodes.add(episode);
    const request = this.#nextRequest++;
    return new Promise<void>((resolve, reject) => {
      const pending: PendingOpen = { kind: 'open', resolve, reject, timer: this.#ready ? this.#openTimer(request) : undefined };
      this.#pending.set(request, pending);
      this.#post({ type: 'open', request, episode });
    });
  }

  /**
   * Terminate the worker if the open `request` is still unanswered after `openTimeoutMs` while no
   * step is in flight. Steps of other episodes queued ahead of it are bounded by the watchdog, so
   * waiting behind them (each up to its own deadline) does not count: the timer starts anew.
   */
  #openTimer(request: number): NodeJS.Timeout {
    const timeoutMs = this.#options.openTimeoutMs;
    return setTimeout(() => {
      const pending = this.#pending.get(request);
      if (pending?.kind !== 'open') return;
      const stepsInFlight = [...this.#pending.values()].some((other) => other.kind === 'run');
      if (stepsInFlight) pending.timer = this.#openTimer(request);
      else void this.terminate(`it took over ${timeoutMs} ms to start an episode`);
    }, timeoutMs);
  }

  /** Run a step of `episode`; never rejects: a dead worker answers 137. */
  run(episode: number, code: string, timeoutMs: number): Promise<StepReport> {
    if (this.#death !== undefined) return Promise.resolve(lostReport(this.#death));
    const request = this.#nextRequest++;
    return new Promise<StepReport>((resolve) => {
      this.#pending.set(request, { kind: 'run', episode, deadline: Date.now() + timeoutMs, resolve });
      this.#post({ type: 'run', request, episode, code, timeoutMs });
      this.#armWatchdog();
    });
  }

  /** Free episode `episode`'s context. */
  close(episode: number): void {
    if (!this.episodes.delete(episode) || this.#death !== undefined) return;
    this.#post({ type: 'close', episode });
  }

  /** Terminate the thread; every episode it hosted is lost. Idempotent. */
  terminate(reason: string): Promise<void> {
    this.#die(reason);
    return this.#worker.terminate().then(() => undefined);
  }

  #post(message: HostMessage): void {
    this.#worker.postMessage(message);
  }

  #receive(message: WorkerMessage): void {
    if (message.type === 'ready') {
      clearTimeout(this.#startup);
      this.#ready = true;
      this.#image = message.image;
      for (const [request, pending] of this.#pending) {
        if (pending.kind === 'open') pending.timer ??= this.#openTimer(request);
      }
      return;
    }
    if (message.type === 'image-failed') {
      this.#image = { failure: message.failure };
      return;
    }
    const pending = this.#pending.get(message.request);
    if (pending === undefined) return;
    this.#pending.delete(message.request);
    if (pending.kind === 'open') {
      clearTimeout(pending.timer);
      if (message.type === 'opened') pending.resolve();
      else if (message.type === 'open-failed' && message.budget) pending.reject(budgetRefusal(this.#options.budget, this.#options.budgetRetryAfterS));
      else pending.reject(new SandboxUnavailableError(`cannot start a JavaScript sandbox: ${message.type === 'open-failed' ? message.message : 'unexpected reply'}`));
      return;
    }
    if (message.type === 'ran') pending.resolve(message.report);
    this.#armWatchdog();
  }

  /**
   * Check the thread at the earliest deadline (plus grace) of the steps in flight. The worker
   * publishes which episode's guest code holds the thread; only that one can stall it.
   */
  #armWatchdog(): void {
    clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
    let earliest = Infinity;
    for (const pending of this.#pending.values()) {
      if (pending.kind === 'run') earliest = Math.min(earliest, pending.deadline);
    }
    if (earliest === Infinity || this.#death !== undefined) return;
    const delay = Math.max(0, earliest + this.#options.graceMs - Date.now());
    this.#watchdog = setTimeout(() => this.#check(), delay);
    this.#watchdog.unref();
  }

  #check(): void {
    const now = Date.now();
    const holder = Atomics.load(this.#busy, 0);
    const grace = this.#options.graceMs;
    let overdue: PendingRun | undefined;
    let holderRun: PendingRun | undefined;
    for (const pending of this.#pending.values()) {
      if (pending.kind !== 'run') continue;
      if (pending.episode === holder) holderRun = pending;
      if (now > pending.deadline + grace && (overdue === undefined || pending.deadline < overdue.deadline)) overdue = pending;
    }
    if (holderRun !== undefined && now > holderRun.deadline + grace) {
      void this.terminate(`a step of a JavaScript episode on the same worker thread held it ${now - holderRun.deadline} ms past its deadline (native operations such as a catastrophic regex cannot be interrupted)`);
      return;
    }
    // The thread is idle (or runs an episode still within its own deadline): a step that is overdue
    // while nothing holds the thread for twice the grace means the worker itself is wedged.
    if (holder === 0 && overdue !== undefined && now > overdue.deadline + 2 * grace) {
      void this.terminate('its worker thread stopped answering');
      return;
    }
    clearTimeout(this.#watchdog);
    const next = holderRun !== undefined ? holderRun.deadline + grace : overdue !== undefined ? overdue.deadline + 2 * grace : now + grace;
    this.#watchdog = setTimeout(() => this.#check(), Math.max(1, next - now + 1));
    this.#watchdog.unref();
  }

  #die(reason: string): void {
    if (this.#death !== undefined) return;
    this.#death = reason;
    clearTimeout(this.#watchdog);
    clearTimeout(this.#startup);
    for (const pending of this.#pending.values()) {
      if (pending.kind === 'open') {
        clearTimeout(pending.timer);
        pending.reject(new SandboxUnavailableError(`cannot start a JavaScript sandbox: ${reason}`));
      } else {
        pending.resolve(lostReport(reason));
      }
    }
    this.#pending.clear();
    this.#options.onDeath(this);
  }
}

/** The error of a new episode the episode memory budget cannot take; counts the refusal. */
export function budgetRefusal(budget: EpisodeMemoryBudget, retryAfterS: number): SandboxUnavailableError {
  budget.refuseEpisode();
  const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
  return new SandboxUnavailableError(
    `Cannot start a JavaScript sandbox: the memory JavaScript episodes hold (${mib(budget.usedBytes)}) leaves too little of their budget (${mib(budget.budgetBytes)}) for a new one. Retry after ${retryAfterS} s, once episodes have closed.`,
    { retryAfterS, details: { episode_memory_budget_bytes: budget.budgetBytes, episode_memory_used_bytes: budget.usedBytes } },
  );
}
