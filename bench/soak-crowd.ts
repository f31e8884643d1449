import type { Language } from '../envs/coding_env/index.js';

/** What one crowd was: how many sessions of each language filled memory at once. */
export interface CrowdRecord {
  python: number;
  javascript: number;
}

/** One session's place in a crowd. */
export interface CrowdTicket {
  /** Resolves once the crowd has gathered: every member sends its fill step now. */
  readonly gathered: Promise<void>;
  /**
   * This member's fill step is answered (or failed: call it whatever happened); resolves once every
   * member's is, so that all of them hold their memory at the same time before any releases it.
   */
  filled(): Promise<void>;
}

/**
 * The soak's memory crowd: several sessions filling memory at once (JavaScript episodes to their
 * cap, or to the episode memory budget where that comes first; Python episodes holding a few
 * hundred MB), all holding it until the last is done, then releasing it.
 *
 * A session whose hostile turn is `memory_crowd` calls it ({@link call}, at most one crowd every
 * `intervalMs`); from then on, other sessions join it at their next step ({@link wants}) until it
 * has `perLanguage` members of each language or `gatherMs` have passed since the call. Then every
 * member sends its fill step at once ({@link CrowdTicket.gathered}), waits for the others
 * ({@link CrowdTicket.filled}) and releases. One crowd at a time: a call while one is gathering or
 * filling joins it instead.
 */
export class MemoryCrowd {
  readonly #perLanguage: number;
  readonly #gatherMs: number;
  readonly #intervalMs: number;
  #lastCallMs = -Infinity;
  /** The crowd being gathered, if any. */
  #gathering: Gathering | undefined;
  /** Every crowd that gathered, in order. */
  readonly crowds: CrowdRecord[] = [];

  /**
   * @param perLanguage most members of each language
   * @param gatherMs how long a called crowd waits for members before it fills with those it has
   * @param intervalMs least time between two calls
   */
  constructor(perLanguage: number, gatherMs: number, intervalMs: number) {
    this.#perLanguage = perLanguage;
    this.#gatherMs = gatherMs;
    this.#intervalMs = intervalMs;
  }

  /**
   * Whether a session of `language` whose hostile turn is `memory_crowd` may call a crowd now (the
   * interval since the last call has passed), or join the one gathering. False: skip the turn.
   */
  mayCall(language: Language, nowMs = performance.now()): boolean {
    if (this.#gathering !== undefined) return this.#hasRoom(language);
    return nowMs - this.#lastCallMs >= this.#intervalMs;
  }

  /** Whether a crowd is gathering with room for a session of `language` (it should join at its next step). */
  wants(language: Language): boolean {
    return this.#gathering !== undefined && this.#hasRoom(language);
  }

  /**
   * Join the crowd gathering, or call a new one (regardless of the interval: claims after the
   * traffic must run even when a crowd ran recently), as a member of `language`. With `wait` false
   * (after the traffic, when nobody else joins) the crowd fills at once with the members it has.
   */
  join(language: Language, wait = true, nowMs = performance.now()): CrowdTicket {
    let gathering = this.#gathering;
    if (gathering === undefined || !this.#hasRoom(language)) {
      // A full crowd is gathered at once, so there is never one without room here but for a
      // language's cap; a session over it starts the next crowd.
      if (gathering !== undefined) this.#close(gathering);
      gathering = this.#open(nowMs);
    }
    gathering.members[language] += 1;
    const members = gathering;
    if (!wait || (members.members.python >= this.#perLanguage && members.members.javascript >= this.#perLanguage)) this.#close(members);
    return {
      gathered: members.gathered,
      filled: () => {
        members.filledCount += 1;
        if (members.filledCount >= members.members.python + members.members.javascript) members.allFilled.resolve();
        return members.allFilled.promise;
      },
    };
  }

  #hasRoom(language: Language): boolean {
    return this.#gathering !== undefined && this.#gathering.members[language] < this.#perLanguage;
  }

  #open(nowMs: number): Gathering {
    this.#lastCallMs = nowMs;
    let open!: () => void;
    const gathered = new Promise<void>((resolve) => (open = resolve));
    let resolveFilled!: () => void;
    const filledPromise = new Promise<void>((resolve) => (resolveFilled = resolve));
    const gathering: Gathering = {
      members: { python: 0, javascript: 0 },
      gathered,
      open,
      filledCount: 0,
      allFilled: { promise: filledPromise, resolve: resolveFilled },
      timer: setTimeout(() => this.#close(gathering), this.#gatherMs),
    };
    this.#gathering = gathering;
    return gathering;
  }

  /** Stop taking members and let those it has fill. */
  #close(gathering: Gathering): void {
    clearTimeout(gathering.timer);
    if (this.#gathering === gathering) this.#gathering = undefined;
    if (gathering.closed === true) return;
    gathering.closed = true;
    this.crowds.push({ ...gathering.members });
    gathering.open();
  }
}

interface Gathering {
  members: CrowdRecord;
  gathered: Promise<void>;
  open: () => void;
  closed?: boolean;
  filledCount: number;
  allFilled: { promise: Promise<void>; resolve: () => void };
  timer: NodeJS.Timeout;
}
