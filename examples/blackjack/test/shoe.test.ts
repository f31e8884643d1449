import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DECK, seededRandom, shuffledShoe } from '../src/index.js';

test('the same seed, the same shoe; another seed, another shoe', () => {
  assert.deepEqual(shuffledShoe(1, seededRandom(42)), shuffledShoe(1, seededRandom(42)));
  assert.notDeepEqual(shuffledShoe(1, seededRandom(42)), shuffledShoe(1, seededRandom(43)));
});

test('a shoe of n decks holds every card n times, shuffled', () => {
  for (const decks of [1, 2, 6]) {
    const shoe = shuffledShoe(decks, seededRandom(decks));
    assert.equal(shoe.length, 52 * decks);
    const counts = new Map<string, number>();
    for (const card of shoe) counts.set(card, (counts.get(card) ?? 0) + 1);
    assert.deepEqual([...counts.keys()].sort(), [...DECK].sort());
    assert.ok([...counts.values()].every((count) => count === decks), `each card ${decks} times`);
    assert.notDeepEqual(shoe.slice(0, 52), DECK, 'not in deck order');
  }
});

test('the generator gives numbers in [0, 1)', () => {
  const random = seededRandom(7);
  const numbers = Array.from({ length: 10_000 }, random);
  assert.ok(numbers.every((x) => x >= 0 && x < 1));
  const mean = numbers.reduce((a, b) => a + b, 0) / numbers.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
});
