import { SandboxUnavailableError } from '../protocol/index.js';
import type { Sandbox } from './sandbox.js';

/**
 * The sandboxes a backend started and that are still alive, so that closing the backend closes
 * them, and the refusal of new starts once it is closed. A sandbox handed out belongs to whoever
 * took it (a pool, a session); the backend only makes sure none outlives it.
 */
export class LiveSandboxes<S extends Sandbox = Sandbox> {
  readonly #label: string;
  readonly #live = new Set<S>();
  #closing: Promise<void> | undefined;

  /** @param label what the sandboxes are called in errors, e.g. `Python sandbox` */
  constructor(label: string) {
    this.#label = label;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Start a sandbox with `start` and keep it until it dies or the backend closes.
   * @throws {SandboxUnavailableError} when the backend is closed, before or while it starts
   */
  async start(start: () => Promise<S>): Promise<S> {
    this.#refuseIfClosed();
    const sandbox = await start();
    if (this.closed) {
      await sandbox.close();
      this.#refuseIfClosed();
    }
    // Forget the ones that died meanwhile, so the set holds about the live sandboxes only.
    for (const held of this.#live) if (!held.alive) this.#live.delete(held);
    this.#live.add(sandbox);
    return sandbox;
  }

  /** The sandboxes held now (some may have died since they were started). */
  values(): IterableIterator<S> {
    return this.#live.values();
  }

  /** Refuse further starts and close every sandbox still held. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= Promise.all([...this.#live].map((sandbox) => sandbox.close())).then(() => this.#live.clear());
    return this.#closing;
  }

  #refuseIfClosed(): void {
    if (this.closed) throw new SandboxUnavailableError(`Cannot start a ${this.#label}: its backend is closed (the server is shutting down).`);
  }
}
