import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { AnyEnvDefinition } from '../protocol/index.js';
import { CapacityExceededError, SessionNotFoundError } from '../protocol/index.js';
import type { Logger } from './logger.js';
import { Session, type CloseReason, type SessionKind } from './session.js';

/** Id of the session that plain HTTP requests without `X-Session-Id` act on. */
export const DEFAULT_SESSION_ID = 'default';

/** Seconds a client is told to wait (`Retry-After`) when the server is at capacity. @default 1 */
export const CAPACITY_RETRY_AFTER_S = 1;

/** How many recently closed session ids are remembered, to say why an id is unknown. */
const CLOSED_IDS_REMEMBERED = 4096;

/** Settings of a {@link SessionManager}. */
export interface SessionManagerOptions {
  maxSessions: number;
  sessionIdleMs: number;
  logger: Logger;
}

/** Events of a {@link SessionManager}. */
export interface SessionManagerEvents {
  /** A session was opened. */
  'session-opened': [session: Session];
  /** A session was closed (its environment may still be closing). */
  'session-closed': [session: Session, reason: CloseReason];
}

/**
 * Owns every session: one environment instance each, at most `maxSessions` at once (sessions
 * being created count), closed after `sessionIdleMs` without calls. Sessions are independent.
 */
export class SessionManager extends EventEmitter<SessionManagerEvents> {
  readonly #definition: AnyEnvDefinition;
  readonly #options: SessionManagerOptions;
  readonly #sessions = new Map<string, Session>();
  readonly #closedIds = new Map<string, CloseReason>();
  #reserved = 0;
  #defaultSession: Promise<Session> | undefined;
  #reaper: NodeJS.Timeout | undefined;
  #shutdown = false;
  #closingAll: Promise<void> | undefined;

  constructor(definition: AnyEnvDefinition, options: SessionManagerOptions) {
    super();
    this.#definition = definition;
    this.#options = options;
    // Check often enough that a session lives at most ~1.25x its idle limit; never busier than 10 ms.
    const periodMs = Math.min(Math.max(options.sessionIdleMs / 4, 10), 5_000);
    this.#reaper = setInterval(() => this.reapIdle(), periodMs);
    this.#reaper.unref();
  }

  /** Sessions open now. */
  get size(): number {
    return this.#sessions.size;
  }

  /** The most sessions open at once. */
  get maxSessions(): number {
    return this.#options.maxSessions;
  }

  /**
   * Open a new session with its own environment instance.
   * @throws {CapacityExceededError} when `maxSessions` are open or being opened
   */
  async create(kind: Exclude<SessionKind, 'default'>): Promise<Session> {
    return this.#open(randomUUID(), kind);
  }

  /**
   * The session with this id.
   * @throws {SessionNotFoundError} when no open session has it
   */
  get(id: string): Session {
    const session = this.#sessions.get(id);
    if (session !== undefined) return session;
    const shown = id.length > 80 ? `${id.slice(0, 80)}…` : id;
    const reason = this.#closedIds.get(id);
    const why =
      reason === 'idle'
        ? ` (idle for ${this.#options.sessionIdleMs} ms and closed)`
        : reason === undefined
          ? ''
          : ` (closed: ${reason})`;
    throw new SessionNotFoundError(
      `Session ${JSON.stringify(shown)} not found${why}; create one with POST /sessions, or omit X-Session-Id to use the default session.`,
      { details: { session_id: shown } },
    );
  }

  /**
   * The default session of plain HTTP requests, opened on first use (and again after it was
   * closed, e.g. for idleness).
   * @throws {CapacityExceededError} when it must be opened and the server is full
   */
  async defaultSession(): Promise<Session> {
    const open = this.#sessions.get(DEFAULT_SESSION_ID);
    if (open !== undefined) return open;
    if (this.#defaultSession === undefined) {
      this.#defaultSession = this.#open(DEFAULT_SESSION_ID, 'default').finally(() => {
        this.#defaultSession = undefined;
      });
    }
    return this.#defaultSession;
  }

  /**
   * Close the session with this id (unknown ids are ignored): it leaves the manager at once and
   * its environment closes once the running call has settled (that call's signal is aborted).
   * @returns a promise of the environment's close; callers need not wait for it
   */
  close(id: string, reason: CloseReason): Promise<void> {
    const session = this.#sessions.get(id);
    if (session === undefined) return Promise.resolve();
    return this.#close(session, reason);
  }

  /** Close every session idle longer than `sessionIdleMs`; returns how many were closed. */
  reapIdle(nowMs = Date.now()): number {
    let reaped = 0;
    for (const session of this.#sessions.values()) {
      if (session.idleMs(nowMs) >= this.#options.sessionIdleMs) {
        reaped += 1;
        void this.#close(session, 'idle');
      }
    }
    return reaped;
  }

  /**
   * Stop the reaper, refuse new sessions and close every open one (reason `shutdown`). Idempotent:
   * every call gets the first one's promise, which resolves once every environment is closed.
   */
  closeAll(): Promise<void> {
    this.#closingAll ??= (async () => {
      this.#shutdown = true;
      clearInterval(this.#reaper);
      this.#reaper = undefined;
      await Promise.all([...this.#sessions.values()].map((session) => this.#close(session, 'shutdown')));
    })();
    return this.#closingAll;
  }

  /** {@link SessionManager.closeAll}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.closeAll();
  }

  async #open(id: string, kind: SessionKind): Promise<Session> {
    if (this.#shutdown || this.#sessions.size + this.#reserved >= this.#options.maxSessions) {
      throw new CapacityExceededError(
        this.#shutdown
          ? 'The server is shutting down and opens no new sessions.'
          : `Server at capacity: ${this.#sessions.size}/${this.#options.maxSessions} sessions open; close one (DELETE /sessions/<id>) or retry after ${CAPACITY_RETRY_AFTER_S} s.`,
        {
          retryAfterS: CAPACITY_RETRY_AFTER_S,
          details: { active_sessions: this.#sessions.size, max_sessions: this.#options.maxSessions },
        },
      );
    }
    this.#reserved += 1;
    let session: Session;
    try {
      session = new Session(id, kind, await this.#definition.create());
    } finally {
      this.#reserved -= 1;
    }
    if (this.#shutdown) {
      // closeAll() ran while the environment was being created: it must not outlive the server.
      await session.close('shutdown');
      throw new CapacityExceededError('The server is shutting down and opens no new sessions.');
    }
    this.#sessions.set(id, session);
    this.#closedIds.delete(id);
    this.#options.logger.debug('session opened', { session_id: id, kind, active: this.#sessions.size });
    this.emit('session-opened', session);
    return session;
  }

  async #close(session: Session, reason: CloseReason): Promise<void> {
    if (this.#sessions.get(session.id) === session) {
      this.#sessions.delete(session.id);
      this.#closedIds.set(session.id, reason);
      if (this.#closedIds.size > CLOSED_IDS_REMEMBERED) {
        this.#closedIds.delete(this.#closedIds.keys().next().value as string);
      }
      this.#options.logger.debug('session closed', { session_id: session.id, reason, active: this.#sessions.size });
      this.emit('session-closed', session, reason);
    }
    try {
      await session.close(reason);
    } catch (error) {
      this.#options.logger.error('environment close failed', { session_id: session.id, error });
    }
  }
}
