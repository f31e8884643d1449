import { DECK, type Card } from './models.js';

/** A source of uniform numbers in [0, 1), as `Math.random`. */
export type Random = () => number;

/** Seeds are drawn below this when a reset gives none (mulberry32 keeps 32 bits of a seed). */
export const SEED_LIMIT = 2 ** 32;

/** A small seeded generator (mulberry32): the same seed, the same numbers, the same shoe. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed from `Math.random`, for a reset that gives none: recorded in the state, so that episode replays too. */
export function drawSeed(): number {
  return Math.floor(Math.random() * SEED_LIMIT);
}

/**
 * A fresh shoe of `decks` full decks (52 cards each), shuffled with `random` (Fisher-Yates): the
 * first card is the first dealt.
 */
export function shuffledShoe(decks: number, random: Random): Card[] {
  const shoe = Array.from({ length: decks }, () => DECK).flat();
  for (let i = shoe.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [shoe[i], shoe[j]] = [shoe[j]!, shoe[i]!];
  }
  return shoe;
}
