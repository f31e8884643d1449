import { randomUUID } from 'node:crypto';
import type { Environment, ResetOptions } from 'envbox';
import type { BlackjackAction, BlackjackObservation, BlackjackState } from './models.js';

/** The options of blackjack (see src/index.ts: each is a flag of `envbox serve`). */
export interface BlackjackOptions {
  /** The secret is drawn from 1 to this. */
  max: number;
  /** Guesses per episode. */
  guesses: number;
}

/**
 * Guess the number: the secret is drawn from 1 to `max` (from `reset({ seed })` when given, so
 * an episode can be replayed); each guess is answered higher or lower. Reward 1 for the right
 * guess, 0 otherwise; the episode ends when it is found or the guesses run out. The server keeps
 * one instance per session and never calls it concurrently.
 */
export class BlackjackEnvironment implements Environment<BlackjackAction, BlackjackObservation, BlackjackState> {
  readonly #options: BlackjackOptions;
  #episodeId: string = randomUUID();
  #secret = 0;
  #low = 1;
  #high = 1;
  #stepCount = 0;
  #guessesLeft = 0;
  #solved = false;

  constructor(options: BlackjackOptions) {
    this.#options = options;
  }

  reset(options: ResetOptions): BlackjackObservation {
    this.#episodeId = options.episode_id ?? randomUUID();
    const random = options.seed === undefined || options.seed === null ? Math.random : seededRandom(options.seed);
    this.#secret = 1 + Math.floor(random() * this.#options.max);
    this.#low = 1;
    this.#high = this.#options.max;
    this.#stepCount = 0;
    this.#guessesLeft = this.#options.guesses;
    this.#solved = false;
    return this.#observe('start', 0, false);
  }

  step(action: BlackjackAction): BlackjackObservation {
    if (this.#solved || this.#guessesLeft === 0) return this.#observe(this.#solved ? 'correct' : 'out of guesses', 0, true);
    this.#stepCount += 1;
    this.#guessesLeft -= 1;
    if (action.guess === this.#secret) {
      this.#solved = true;
      return this.#observe('correct', 1, true);
    }
    if (action.guess < this.#secret) this.#low = Math.max(this.#low, action.guess + 1);
    else this.#high = Math.min(this.#high, action.guess - 1);
    const hint = this.#guessesLeft === 0 ? 'out of guesses' : action.guess < this.#secret ? 'higher' : 'lower';
    return this.#observe(hint, 0, this.#guessesLeft === 0);
  }

  state(): BlackjackState {
    return { episode_id: this.#episodeId, step_count: this.#stepCount, guesses_left: this.#guessesLeft, solved: this.#solved };
  }

  close(): void {}

  #observe(hint: BlackjackObservation['hint'], reward: number, done: boolean): BlackjackObservation {
    return { hint, low: this.#low, high: this.#high, guesses_left: this.#guessesLeft, done, reward, metadata: {} };
  }
}

/** A small seeded generator (mulberry32): the same seed, the same episode. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
