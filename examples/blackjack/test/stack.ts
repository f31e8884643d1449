import type { Card, Rank } from '../src/index.js';

/**
 * A stacked shoe from ranks in dealing order (`'10 7 9 K 5'`), suits cycled so the cards look real:
 * the player's first card, the dealer's shown card, the player's second, the dealer's hole card,
 * then the hits and the dealer's draws.
 */
export function stack(ranks: string): Card[] {
  const suits = ['S', 'H', 'D', 'C'] as const;
  return ranks
    .trim()
    .split(/\s+/)
    .map((rank, i): Card => `${rank as Rank}${suits[i % suits.length]!}`);
}
