import { z } from 'zod';
import { Action, Observation, State } from 'envbox';

/** Card ranks, ace first; `10`, `J`, `Q` and `K` count 10, an ace 1 or 11. */
export const RANKS = ['A', '2', '3', '4', '5', '6', '7', '8', '9', '10', 'J', 'Q', 'K'] as const;
export type Rank = (typeof RANKS)[number];

/** Card suits: clubs, diamonds, hearts, spades (they never change a hand's value). */
export const SUITS = ['C', 'D', 'H', 'S'] as const;
export type Suit = (typeof SUITS)[number];

/** One card, rank then suit: `AS` (ace of spades), `10H`, `KD`. */
export type Card = `${Rank}${Suit}`;

/** The 52 cards of one deck, suit by suit, in rank order: `AC`, `2C`, ..., `KS`. */
export const DECK: readonly Card[] = SUITS.flatMap((suit) => RANKS.map((rank): Card => `${rank}${suit}`));

/** A card on the wire: one of the 52 of {@link DECK}. */
export const CardSchema = z.enum(DECK as [Card, ...Card[]]).describe('a card, rank then suit: AS, 10H, KD');

/** The two moves of the player. */
export const Move = z.enum(['hit', 'stick']);
export type Move = z.infer<typeof Move>;

/** How a finished hand went for the player: `win` (+1), `push` (0) or `loss` (-1). */
export const Outcome = z.enum(['win', 'push', 'loss']);
export type Outcome = z.infer<typeof Outcome>;

/**
 * What the agent does: `hit` (take a card) or `stick` (stand; the dealer plays and the hand ends).
 * Strict (an unknown field is a 422); the `examples` reach `/schema`, where `envbox validate` finds
 * an action to step with.
 */
export const BlackjackAction = Action.extend({
  action: Move.describe('hit: take a card; stick: stand, the dealer plays and the hand ends'),
}).meta({ examples: [{ action: 'hit' }, { action: 'stick' }] });
export type BlackjackAction = z.infer<typeof BlackjackAction>;

/**
 * What the agent sees after each call. While the hand is played, the dealer shows one card
 * (`dealer_cards` holds it alone and `dealer_sum` is its value); once `done`, the dealer's whole
 * hand and its sum. `reward` is null after reset, 0 while playing, +1, 0 or -1 on the call that
 * ends the hand, and 0 on a step after the end.
 */
export const BlackjackObservation = Observation.extend({
  player_cards: z.array(CardSchema).describe("the player's cards, in the order dealt"),
  player_sum: z.number().int().nonnegative().describe("the player's best total: an ace counts 11 unless that busts"),
  usable_ace: z.boolean().describe('whether the player holds an ace counted as 11 (a soft hand)'),
  dealer_cards: z.array(CardSchema).describe("the dealer's shown card while the hand is played; the whole hand once done"),
  dealer_sum: z.number().int().nonnegative().describe('the best total of dealer_cards'),
  legal_actions: z.array(Move).describe('hit and stick while the hand is played; none once done'),
  outcome: Outcome.nullable().describe('win, push or loss once done; null while the hand is played'),
  message: z.string().describe('what happened, in words'),
});
export type BlackjackObservation = z.infer<typeof BlackjackObservation>;

/**
 * Where the episode stands (`episode_id` and `step_count` come from the protocol; `step_count`
 * counts every step call since the reset, one after the end included), and what replays
 * it: `reset({ seed })` on a server with the same `decks` deals the same shoe, and `actions`
 * replayed on it give the same hand.
 */
export const BlackjackState = State.extend({
  seed: z.number().int().nonnegative().nullable().describe('the seed of the shoe: the reset\'s, or one drawn from Math.random when none was given; null before the first reset'),
  decks: z.number().int().positive().describe('decks in the shoe'),
  actions: z.array(Move).describe('the moves taken this episode, in order'),
  cards_dealt: z.number().int().nonnegative().describe('cards taken from the shoe this episode'),
  done: z.boolean(),
  outcome: Outcome.nullable(),
});
export type BlackjackState = z.infer<typeof BlackjackState>;
