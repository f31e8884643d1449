import { randomUUID } from 'node:crypto';
import type { Environment, ResetOptions } from 'envbox';
import { handValue, isNatural } from './hand.js';
import type { BlackjackOptions } from './options.js';
import type { BlackjackAction, BlackjackObservation, BlackjackState, Card, Move, Outcome } from './models.js';
import { deal, play, REWARDS, type Round } from './rules.js';
import { drawSeed, seededRandom, shuffledShoe } from './shoe.js';

/**
 * Blackjack, one hand per episode: each reset shuffles a fresh shoe of `decks` decks (from
 * `reset({ seed })` when given, else from a seed drawn from Math.random and kept in the state, so
 * every episode can be replayed) and deals two cards each; the player hits or sticks; the dealer
 * draws to 17 and stands on every 17 (see src/rules.ts). Reward +1, 0 or -1 on the step that ends
 * the hand, 0 before it. A step after the end (or before any reset) is not an error: it answers
 * an observation with `done: true`, reward 0 and a message saying to reset; it counts in
 * `step_count` (every step call does) but is no move (`actions` in the state lists the moves).
 * The server keeps one instance per session and never calls it concurrently.
 */
export class BlackjackEnvironment implements Environment<BlackjackAction, BlackjackObservation, BlackjackState> {
  readonly #options: BlackjackOptions;
  #episodeId: string | null = null;
  #seed: number | null = null;
  #round: Round | null = null;
  #actions: Move[] = [];
  #stepCount = 0;

  constructor(options: BlackjackOptions) {
    this.#options = options;
  }

  reset(options: ResetOptions): BlackjackObservation {
    this.#episodeId = options.episode_id ?? randomUUID();
    this.#seed = options.seed ?? drawSeed();
    this.#round = deal(shuffledShoe(this.#options.decks, seededRandom(this.#seed)));
    this.#actions = [];
    this.#stepCount = 0;
    return this.#observe(this.#round, null, `${this.#hands(this.#round)} Hit or stick?`);
  }

  step(action: BlackjackAction): BlackjackObservation {
    // Every step call counts, an ignored one too: OpenEnv's step_count (and envbox validate) count calls.
    this.#stepCount += 1;
    const before = this.#round;
    if (before === null) return noHand('No hand has been dealt yet; call reset() to deal one.');
    if (before.outcome !== null) {
      return this.#observe(before, 0, `The hand is over (${describeOutcome(before.outcome)}); call reset() to deal a new one. ${action.action} was ignored.`);
    }
    const round = play(before, action.action);
    this.#round = round;
    this.#actions.push(action.action);
    if (round.outcome === null) return this.#observe(round, 0, `You drew ${round.player.at(-1)}. ${this.#hands(round)} Hit or stick?`);
    const how =
      action.action === 'hit'
        ? `You drew ${round.player.at(-1)}: ${total(round.player)}.`
        : `You stick on ${total(round.player)}; the dealer holds ${round.dealer.join(' ')}: ${total(round.dealer)}.`;
    return this.#observe(round, REWARDS[round.outcome], `${how} ${describeOutcome(round.outcome)}.`);
  }

  state(): BlackjackState {
    const round = this.#round;
    return {
      episode_id: this.#episodeId,
      step_count: this.#stepCount,
      seed: this.#seed,
      decks: this.#options.decks,
      actions: [...this.#actions],
      cards_dealt: round?.next ?? 0,
      done: round === null || round.outcome !== null,
      outcome: round?.outcome ?? null,
    };
  }

  close(): void {}

  #observe(round: Round, reward: number | null, message: string): BlackjackObservation {
    const player = handValue(round.player);
    // The hole card stays hidden until the hand is over.
    const dealerCards: Card[] = round.outcome === null ? [round.dealer[0]!] : [...round.dealer];
    const done = round.outcome !== null;
    return {
      player_cards: [...round.player],
      player_sum: player.sum,
      usable_ace: player.usableAce,
      dealer_cards: dealerCards,
      dealer_sum: handValue(dealerCards).sum,
      legal_actions: done ? [] : ['hit', 'stick'],
      outcome: round.outcome,
      message,
      done,
      reward,
      metadata: {},
    };
  }

  #hands(round: Round): string {
    return `You hold ${round.player.join(' ')} (${total(round.player)}); the dealer shows ${round.dealer[0]}.`;
  }
}

/** What a step before the first reset answers: no cards, done, reward 0, and `message`. */
function noHand(message: string): BlackjackObservation {
  return { player_cards: [], player_sum: 0, usable_ace: false, dealer_cards: [], dealer_sum: 0, legal_actions: [], outcome: null, message, done: true, reward: 0, metadata: {} };
}

/** A hand's total in words: `19`, `soft 17`, `21, a natural`, `24, bust`. */
function total(cards: readonly Card[]): string {
  const { sum, usableAce } = handValue(cards);
  if (sum > 21) return `${sum}, bust`;
  if (isNatural(cards)) return '21, a natural';
  return `${usableAce ? 'soft ' : ''}${sum}`;
}

function describeOutcome(outcome: Outcome): string {
  return outcome === 'win' ? 'You win (+1)' : outcome === 'push' ? 'Push (0)' : 'You lose (-1)';
}
