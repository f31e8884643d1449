import { handValue, isNatural } from './hand.js';
import type { Card, Move, Outcome } from './models.js';

/** The dealer draws below this total and stands on it and above, soft 17 included. */
export const DEALER_STANDS_ON = 17;

/** The reward of each outcome: a win pays +1 (a natural too), a push 0, a loss -1. */
export const REWARDS: Readonly<Record<Outcome, number>> = { win: 1, push: 0, loss: -1 };

/**
 * One hand of blackjack, as the pure functions below leave it: the shoe it is dealt from (never
 * changed; `next` is the index of the next card), the player's and the dealer's cards, and the
 * outcome once it is over.
 */
export interface Round {
  readonly shoe: readonly Card[];
  /** Index in `shoe` of the next card to deal. */
  readonly next: number;
  readonly player: readonly Card[];
  readonly dealer: readonly Card[];
  /** Null while the player is to move. */
  readonly outcome: Outcome | null;
}

/**
 * Deal a hand from `shoe`, in casino order: the player's first card, the dealer's shown card, the
 * player's second card, the dealer's hole card. The player always moves next, even on a natural
 * (the dealer does not peek; naturals are settled when the hand ends).
 * @throws RangeError when `shoe` has fewer than 4 cards
 */
export function deal(shoe: readonly Card[]): Round {
  const [p1, d1, p2, d2] = [draw(shoe, 0), draw(shoe, 1), draw(shoe, 2), draw(shoe, 3)];
  return { shoe, next: 4, player: [p1, p2], dealer: [d1, d2], outcome: null };
}

/**
 * The player takes a card; past 21 the player is bust and loses at once (the dealer does not play).
 * @throws Error when the hand is over; RangeError when the shoe has run out
 */
export function hit(round: Round): Round {
  assertInPlay(round, 'hit');
  const player = [...round.player, draw(round.shoe, round.next)];
  return { ...round, next: round.next + 1, player, outcome: handValue(player).sum > 21 ? 'loss' : null };
}

/**
 * The player stands: the dealer draws until at least {@link DEALER_STANDS_ON} (standing on every
 * 17, soft or hard), then the hand is settled by {@link settle}.
 * @throws Error when the hand is over; RangeError when the shoe has run out
 */
export function stick(round: Round): Round {
  assertInPlay(round, 'stick');
  const dealer = [...round.dealer];
  let next = round.next;
  while (handValue(dealer).sum < DEALER_STANDS_ON) dealer.push(draw(round.shoe, next++));
  return { ...round, next, dealer, outcome: settle(round.player, dealer) };
}

/** Apply `move` to `round`: {@link hit} or {@link stick}. */
export function play(round: Round, move: Move): Round {
  return move === 'hit' ? hit(round) : stick(round);
}

/**
 * Deal from `shoe` and play `moves` in order: the whole game as one pure function, for tests and
 * replays (`playRound(shuffledShoe(decks, seededRandom(seed)), state.actions)` replays an episode).
 * @throws Error when a move comes after the hand is over; RangeError when the shoe runs out
 */
export function playRound(shoe: readonly Card[], moves: readonly Move[]): Round {
  return moves.reduce(play, deal(shoe));
}

/**
 * How a hand ends for the player, the dealer having played: a bust loses (the player's first), a
 * natural beats any other hand (a 21 of three cards or more included; two naturals push), else
 * the higher total wins and equal totals push.
 */
export function settle(player: readonly Card[], dealer: readonly Card[]): Outcome {
  const playerSum = handValue(player).sum;
  const dealerSum = handValue(dealer).sum;
  if (playerSum > 21) return 'loss';
  if (dealerSum > 21) return 'win';
  const playerNatural = isNatural(player);
  const dealerNatural = isNatural(dealer);
  if (playerNatural !== dealerNatural) return playerNatural ? 'win' : 'loss';
  return playerSum > dealerSum ? 'win' : playerSum < dealerSum ? 'loss' : 'push';
}

function draw(shoe: readonly Card[], index: number): Card {
  const card = shoe[index];
  if (card === undefined) throw new RangeError(`the shoe ran out: card ${index + 1} was needed and it holds ${shoe.length}; stack a longer shoe`);
  return card;
}

function assertInPlay(round: Round, move: Move): void {
  if (round.outcome !== null) throw new Error(`cannot ${move}: the hand is over (${round.outcome}); deal a new one`);
}
