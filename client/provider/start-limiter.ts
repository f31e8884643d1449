/**
 * A bound on how many starts run at once: `run(task)` waits for a free slot (in call order), runs
 * `task`, and frees the slot however `task` settles. Providers use it so that starting many
 * appliances at once does not overload the engines (FIELD_NOTES: six appliances starting at once
 * on two cores took 18–50 s, against 3–4 s for one).
 */
export class StartLimiter {
  /** How many tasks may run at once. */
  readonly limit: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  /** @throws {RangeError} when `limit` is not a positive integer */
  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`Invalid maxConcurrentStarts: expected a positive integer, received ${String(limit)}.`);
    this.limit = limit;
  }

  /** Tasks running now. */
  get running(): number {
    return this.#running;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Run `task` once a slot is free; settles as `task` does. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#running += 1;
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter, so `running` never overshoots.
      const next = this.#waiting.shift();
      if (next === undefined) this.#running -= 1;
      else next();
    }
  }
}
