import type { Language } from '../envs/coding_env/index.js';
import type { HostileTally } from './soak-recorder.js';
import { hostileKinds } from './soak-workload.js';

/** The hostile kinds of every language, as `<language>.<kind>` (the keys of the soak's hostile tallies). */
export function allHostileKeys(): string[] {
  return (['python', 'javascript'] as const).flatMap((language) => hostileKinds(language).map((kind) => `${language}.${kind}`));
}

/**
 * Which hostile kinds a soak has run, which are in flight, and which a session should send next once
 * the traffic's duration (or step budget) is spent, so that every kind runs at least once whatever
 * the machine's speed: a brief soak on a slow machine otherwise ends before some session's turn for
 * a kind comes up (each session cycles through the kinds at one hostile step per interval).
 *
 * A kind counts as run once it got an observation (its tally has an attempt), whatever the outcome;
 * a wrong outcome is reported apart. Every hostile step of the traffic is bracketed by {@link begin}
 * and {@link end}, and a claimed kind is on its way from {@link claim} to its {@link end}, so that a
 * kind already on its way is never handed out (two JavaScript stalls at once would each terminate a
 * worker thread under the other).
 */
export class HostileCoverage {
  readonly #tallies: Readonly<Record<string, HostileTally>>;
  readonly #attemptsPerKind: number;
  readonly #live: () => boolean;
  /** Hostile steps on their way, by key. */
  readonly #inFlight = new Map<string, number>();
  /** Claims made after the traffic, by key. */
  readonly #claims = new Map<string, number>();

  /**
   * @param tallies the recorder's hostile tallies (read, never written)
   * @param attemptsPerKind how many times a kind that never ran may be claimed after the traffic; 0 turns claiming off
   * @param live whether the run may still send anything (false once the server is gone)
   */
  constructor(tallies: Readonly<Record<string, HostileTally>>, attemptsPerKind: number, live: () => boolean) {
    this.#tallies = tallies;
    this.#attemptsPerKind = attemptsPerKind;
    this.#live = live;
  }

  /** A hostile step of `kind` is being sent. */
  begin(language: Language, kind: string): void {
    const key = `${language}.${kind}`;
    this.#inFlight.set(key, (this.#inFlight.get(key) ?? 0) + 1);
  }

  /** The hostile step of `kind` begun (or claimed) earlier has its observation, failed, or will not be sent. */
  end(language: Language, kind: string): void {
    const key = `${language}.${kind}`;
    const left = (this.#inFlight.get(key) ?? 0) - 1;
    if (left > 0) this.#inFlight.set(key, left);
    else this.#inFlight.delete(key);
  }

  /**
   * The first kind of `language` (in the sessions' cycle order) that never ran, is not on its way
   * and was claimed fewer than `attemptsPerKind` times; undefined when there is none (or the run is
   * over), and the session can stop. Each call that returns a kind uses up one of its attempts, and
   * the kind is on its way until the caller's {@link end}.
   */
  claim(language: Language): string | undefined {
    if (!this.#live()) return undefined;
    for (const kind of hostileKinds(language)) {
      const key = `${language}.${kind}`;
      if ((this.#tallies[key]?.attempts ?? 0) > 0 || this.#inFlight.has(key)) continue;
      const claims = this.#claims.get(key) ?? 0;
      if (claims >= this.#attemptsPerKind) continue;
      this.#claims.set(key, claims + 1);
      this.begin(language, kind);
      return kind;
    }
    return undefined;
  }

  /** The `<language>.<kind>` keys that never got an observation, in cycle order. */
  missing(): string[] {
    return allHostileKeys().filter((key) => (this.#tallies[key]?.attempts ?? 0) === 0);
  }
}
