/**
 * At most `limit` calls of {@link ConcurrencyLimit.run} at once; the others wait their turn, first
 * come first served.
 */
export class ConcurrencyLimit {
  readonly limit: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  /** @param limit at least 1 */
  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be an integer of at least 1, received ${limit}`);
    this.limit = limit;
  }

  /** Calls running now. */
  get running(): number {
    return this.#running;
  }

  /** Run `work` once a slot is free; the slot is freed however it settles. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#running >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#running += 1;
    try {
      return await work();
    } finally {
      // The slot passes straight to the next waiter, so `running` never dips and lets a newcomer jump the queue.
      const next = this.#waiting.shift();
      if (next === undefined) this.#running -= 1;
      else next();
    }
  }
}
