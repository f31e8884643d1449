import { SandboxUnavailableError } from '../protocol/index.js';
import type { Sandbox, SandboxFactory } from './sandbox.js';

/** Sandboxes started at once while refilling (spawning is CPU-bound). @default 2 */
export const DEFAULT_POOL_CONCURRENCY = 2;
/** First wait before refilling again after a failed background start; doubles up to the maximum. @default 250 ms */
export const POOL_RETRY_MIN_MS = 250;
/** @default 30 s */
export const POOL_RETRY_MAX_MS = 30_000;

/** The window over which {@link WarmPool.handedOutPerSecond} is measured. */
export const RATE_WINDOW_S = 10;

/** Options of a {@link WarmPool}. */
export interface WarmPoolOptions {
  /** How many ready sandboxes to keep; 0 disables the pool (every acquire starts one). */
  size: number;
  /** How many sandboxes may be starting at once. @default the factory's `startConcurrency`, else {@link DEFAULT_POOL_CONCURRENCY} */
  concurrency?: number;
  /** Told about a failed background start (the next acquire retries). */
  onError?: (error: unknown) => void;
}

/**
 * Keeps up to `size` sandboxes started ahead, so that reset never waits for a spawn. Refills in
 * the background after each acquire; never holds more than `size` ready plus the starting ones.
 */
export class WarmPool {
  readonly #factory: SandboxFactory;
  readonly #size: number;
  readonly #concurrency: number;
  readonly #onError: (error: unknown) => void;
  readonly #ready: Sandbox[] = [];
  readonly #waiters: { resolve: (sandbox: Sandbox) => void; reject: (error: unknown) => void }[] = [];
  readonly #fullWaiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  readonly #controller = new AbortController();
  #starting = 0;
  #started = 0;
  #closed = false;
  #closing: Promise<void> | undefined;
  #retryMs = POOL_RETRY_MIN_MS;
  #retry: NodeJS.Timeout | undefined;
  /** Sandboxes handed out in each of the last seconds (by whole second of the monotonic clock). */
  readonly #handedOut = new Map<number, number>();

  constructor(factory: SandboxFactory, options: WarmPoolOptions) {
    this.#factory = factory;
    this.#size = options.size;
    this.#concurrency = Math.max(1, options.concurrency ?? factory.startConcurrency ?? DEFAULT_POOL_CONCURRENCY);
    this.#onError = options.onError ?? (() => undefined);
    this.#fill();
  }

  /**
   * Sandboxes ready to hand out now. Reading it drops the ready sandboxes that died while waiting
   * (a JavaScript worker terminated under them, a killed process) and starts their replacements, so
   * `/health` and `/metrics` never count a dead sandbox as ready.
   */
  get readyCount(): number {
    this.#dropDead();
    return this.#ready.length;
  }

  /** Sandboxes being started now. */
  get startingCount(): number {
    return this.#starting;
  }

  /** Sandboxes this pool has started successfully, ever (for metrics). */
  get startedCount(): number {
    return this.#started;
  }

  /** The most sandboxes kept ready. */
  get size(): number {
    return this.#size;
  }

  /** Sandboxes handed out per second (each a new episode), over the last {@link RATE_WINDOW_S} seconds. */
  get handedOutPerSecond(): number {
    const now = Math.floor(performance.now() / 1000);
    let count = 0;
    for (const [second, handed] of this.#handedOut) {
      if (second <= now - RATE_WINDOW_S) this.#handedOut.delete(second);
      else count += handed;
    }
    return Math.round((count / RATE_WINDOW_S) * 10) / 10;
  }

  #countHandOut(): void {
    const second = Math.floor(performance.now() / 1000);
    this.#handedOut.set(second, (this.#handedOut.get(second) ?? 0) + 1);
    if (this.#handedOut.size > RATE_WINDOW_S + 1) void this.handedOutPerSecond;
  }

  /**
   * A started sandbox: a ready one at once, else the next to finish starting.
   * @throws {SandboxUnavailableError} when the pool is closed, before or while waiting
   * @throws whatever starting a sandbox threw, when the pool had none ready
   */
  acquire(): Promise<Sandbox> {
    if (this.#closed) return Promise.reject(closedError());
    while (this.#ready.length > 0) {
      const sandbox = this.#ready.shift()!;
      if (sandbox.alive) {
        this.#fill();
        this.#countHandOut();
        return Promise.resolve(sandbox);
      }
      void sandbox.close();
    }
    const waiting = new Promise<Sandbox>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    this.#fill();
    return waiting.then((sandbox) => {
      this.#countHandOut();
      return sandbox;
    });
  }

  /**
   * Resolve once every slot holds a ready sandbox (at once if they do, or the pool is closed);
   * for tests, benchmarks and warm starts.
   * @throws whatever a background start threw meanwhile
   */
  whenFull(): Promise<void> {
    this.#dropDead();
    if (this.#closed || this.#ready.length >= this.#size) return Promise.resolve();
    const full = new Promise<void>((resolve, reject) => this.#fullWaiters.push({ resolve, reject }));
    this.#fill();
    return full;
  }

  /** Stop refilling and close every ready sandbox. Idempotent: every call resolves once they are closed. */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#controller.abort();
    const error = closedError();
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    for (const full of this.#fullWaiters.splice(0)) full.resolve();
    this.#closing = Promise.all(this.#ready.splice(0).map((sandbox) => sandbox.close())).then(() => undefined);
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Close and forget the ready sandboxes that are no longer alive, then refill. */
  #dropDead(): void {
    if (this.#ready.every((sandbox) => sandbox.alive)) return;
    for (let i = this.#ready.length - 1; i >= 0; i -= 1) {
      const sandbox = this.#ready[i]!;
      if (sandbox.alive) continue;
      this.#ready.splice(i, 1);
      void sandbox.close();
    }
    this.#fill();
  }

  #fill(): void {
    while (!this.#closed && this.#starting < this.#concurrency && this.#ready.length + this.#starting < this.#size + this.#waiters.length) {
      this.#starting += 1;
      this.#factory.create({ signal: this.#controller.signal }).then(
        (sandbox) => {
          this.#starting -= 1;
          this.#started += 1;
          this.#retryMs = POOL_RETRY_MIN_MS;
          if (this.#closed) void sandbox.close();
          else {
            const waiter = this.#waiters.shift();
            if (waiter === undefined) this.#ready.push(sandbox);
            else waiter.resolve(sandbox);
            if (this.#ready.length >= this.#size) for (const full of this.#fullWaiters.splice(0)) full.resolve();
          }
          this.#fill();
        },
        (error: unknown) => {
          this.#starting -= 1;
          // A broken start fails the waiting acquire (if any) rather than retrying forever.
          const waiter = this.#waiters.shift();
          if (waiter === undefined) this.#onError(error);
          else waiter.reject(error);
          for (const full of this.#fullWaiters.splice(0)) full.reject(error);
          // Refill again later, backing off while starts keep failing.
          if (!this.#closed && this.#retry === undefined) {
            this.#retry = setTimeout(() => {
              this.#retry = undefined;
              this.#fill();
            }, this.#retryMs);
            this.#retry.unref();
            this.#retryMs = Math.min(this.#retryMs * 2, POOL_RETRY_MAX_MS);
          }
        },
      );
    }
  }
}

/** What an acquire from a closed pool gets: no sandbox can be had here any more (503). */
function closedError(): SandboxUnavailableError {
  return new SandboxUnavailableError('the sandbox pool is closed (its environment is shutting down); no new episode can start here.');
}
