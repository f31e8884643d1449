import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cardPoints, handValue, isNatural } from '../src/index.js';
import { stack } from './stack.js';

test('cards count at face value, J Q K 10, an ace 1 before the best total is taken', () => {
  assert.deepEqual(stack('A 2 9 10 J Q K').map(cardPoints), [1, 2, 9, 10, 10, 10, 10]);
});

test('a soft hand: an ace counts 11 while that stays within 21, and the hand says so', () => {
  assert.deepEqual(handValue(stack('A 6')), { sum: 17, usableAce: true });
  assert.deepEqual(handValue(stack('A A')), { sum: 12, usableAce: true });
  assert.deepEqual(handValue(stack('A A 9')), { sum: 21, usableAce: true });
  assert.deepEqual(handValue(stack('A 6 10')), { sum: 17, usableAce: false }, 'soft 17 plus a ten is hard 17');
  assert.deepEqual(handValue(stack('A A 10 10')), { sum: 22, usableAce: false });
  assert.deepEqual(handValue(stack('10 K 5')), { sum: 25, usableAce: false });
});

test('a natural is 21 with the first two cards only', () => {
  assert.equal(isNatural(stack('A K')), true);
  assert.equal(isNatural(stack('10 A')), true);
  assert.equal(isNatural(stack('7 4 K')), false, 'three cards to 21');
  assert.equal(isNatural(stack('A 9')), false);
});
