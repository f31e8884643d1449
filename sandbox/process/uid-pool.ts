import { SandboxUnavailableError } from '../../protocol/index.js';

/** First uid handed to sandboxes when the server runs as root. @default 61000 */
export const SANDBOX_UID_BASE = 61_000;
/** How many distinct sandbox uids exist. @default 4096 */
export const SANDBOX_UID_COUNT = 4096;

/** Options of a {@link UidPool}. */
export interface UidPoolOptions {
  /** The first uid handed out. @default {@link SANDBOX_UID_BASE} */
  base?: number;
  /** How many uids, from `base` on. @default {@link SANDBOX_UID_COUNT} */
  count?: number;
}

/**
 * Hands out a distinct non-root uid per live sandbox, so RLIMIT_NPROC (counted per uid) caps one
 * episode's processes without starving the others, and no two episodes share file ownership.
 */
export class UidPool {
  readonly #inUse = new Set<number>();
  readonly #base: number;
  readonly #count: number;
  #next = 0;

  constructor(options: UidPoolOptions = {}) {
    this.#base = options.base ?? SANDBOX_UID_BASE;
    this.#count = options.count ?? SANDBOX_UID_COUNT;
  }

  /**
   * A uid no live sandbox holds.
   * @throws {SandboxUnavailableError} when every uid is held by a live sandbox
   */
  acquire(): number {
    for (let tried = 0; tried < this.#count; tried += 1) {
      const uid = this.#base + ((this.#next + tried) % this.#count);
      if (!this.#inUse.has(uid)) {
        this.#inUse.add(uid);
        this.#next = (uid - this.#base + 1) % this.#count;
        return uid;
      }
    }
    throw new SandboxUnavailableError(
      `Cannot start a sandbox: all ${this.#count} sandbox uids (${this.#base} to ${this.#base + this.#count - 1}) are held by live sandboxes; close idle sessions or retry once some have ended.`,
    );
  }

  /** Give `uid` back once its processes are gone. */
  release(uid: number): void {
    this.#inUse.delete(uid);
  }
}
