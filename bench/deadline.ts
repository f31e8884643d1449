/**
 * A per-call time limit: `signal` aborts with a `TimeoutError` after `timeoutMs`, or with the
 * reason of `parent` when that aborts first. `close()` it in `finally`.
 *
 * Not `AbortSignal.any([..., AbortSignal.timeout(ms)])`: Node 20's timeout signal is held only
 * weakly by its timer, so once a collection runs it is gone and the limit never fires
 * (https://github.com/nodejs/node/issues/57736). A plain `setTimeout` keeps its controller alive.
 */
export class Deadline {
  /** Aborts when the time is up or `parent` aborts. */
  readonly signal: AbortSignal;
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout;

  /**
   * @param timeoutMs how long from now
   * @param parent a caller's signal to follow as well
   */
  constructor(timeoutMs: number, parent?: AbortSignal) {
    this.#timer = setTimeout(() => this.#controller.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
    this.signal = parent === undefined ? this.#controller.signal : AbortSignal.any([this.#controller.signal, parent]);
  }

  /** Whether the signal aborted because the time was up (not because of `parent` or `close()`). */
  get timedOut(): boolean {
    const reason: unknown = this.signal.reason;
    return reason instanceof DOMException && reason.name === 'TimeoutError';
  }

  /** Stop the timer and abort whatever still listens. Idempotent. */
  close(): void {
    clearTimeout(this.#timer);
    this.#controller.abort();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
