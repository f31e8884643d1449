import type { Card, Rank } from './models.js';

/** A hand's worth: its best total and whether an ace in it counts 11. */
export interface HandValue {
  /** The best total: every ace counts 1, and one counts 11 when that does not pass 21. */
  sum: number;
  /** Whether an ace counts 11 in {@link HandValue.sum} (a soft hand). */
  usableAce: boolean;
}

/** The rank of `card`: all of it but the suit letter. */
export function rankOf(card: Card): Rank {
  return card.slice(0, -1) as Rank;
}

/** What `card` counts, an ace as 1: 2 to 10 at face value, J, Q and K 10. */
export function cardPoints(card: Card): number {
  const rank = rankOf(card);
  if (rank === 'A') return 1;
  if (rank === 'J' || rank === 'Q' || rank === 'K') return 10;
  return Number(rank);
}

/** The best total of `cards` and whether an ace counts 11 in it. */
export function handValue(cards: readonly Card[]): HandValue {
  const hard = cards.reduce((total, card) => total + cardPoints(card), 0);
  const usableAce = cards.some((card) => rankOf(card) === 'A') && hard + 10 <= 21;
  return { sum: usableAce ? hard + 10 : hard, usableAce };
}

/** Whether `cards` is a natural: 21 with the first two cards (an ace and a ten-card). */
export function isNatural(cards: readonly Card[]): boolean {
  return cards.length === 2 && handValue(cards).sum === 21;
}
