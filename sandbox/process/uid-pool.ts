/** First uid handed to sandboxes when the server runs as root. @default 61000 */
export const SANDBOX_UID_BASE = 61_000;
/** How many distinct sandbox uids exist. @default 4096 */
export const SANDBOX_UID_COUNT = 4096;

/**
 * Hands out a distinct non-root uid per live sandbox, so RLIMIT_NPROC (counted per uid) caps one
 * episode's processes without starving the others, and no two episodes share file ownership.
 */
export class UidPool {
  readonly #inUse = new Set<number>();
  #next = 0;

  /** A uid no live sandbox holds. @throws {Error} when all are taken */
  acquire(): number {
    for (let tried = 0; tried < SANDBOX_UID_COUNT; tried += 1) {
      const uid = SANDBOX_UID_BASE + ((this.#next + tried) % SANDBOX_UID_COUNT);
      if (!this.#inUse.has(uid)) {
        this.#inUse.add(uid);
        this.#next = (uid - SANDBOX_UID_BASE + 1) % SANDBOX_UID_COUNT;
        return uid;
      }
    }
    throw new Error(`all ${SANDBOX_UID_COUNT} sandbox uids are in use`);
  }

  /** Give `uid` back once its processes are gone. */
  release(uid: number): void {
    this.#inUse.delete(uid);
  }
}
