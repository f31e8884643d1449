import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deal, handValue, hit, playRound, REWARDS, stick, type Round } from '../src/index.js';
import { stack } from './stack.js';

/** The ranks of `cards`, space-separated, for readable assertions. */
const ranks = (cards: readonly string[]): string => cards.map((card) => card.slice(0, -1)).join(' ');

/** A round's hands and outcome in ranks: `{ player: '10 9', dealer: '10 6 2', outcome: 'win' }`. */
const show = (round: Round): { player: string; dealer: string; outcome: Round['outcome'] } => ({ player: ranks(round.player), dealer: ranks(round.dealer), outcome: round.outcome });

test('the deal: player, dealer (shown), player, dealer (hole); the player moves first', () => {
  const round = deal(stack('10 7 9 K 5'));
  assert.deepEqual(show(round), { player: '10 9', dealer: '7 K', outcome: null });
  assert.equal(round.next, 4);
});

test('the dealer draws below 17: 16 takes a card', () => {
  assert.deepEqual(show(playRound(stack('10 10 9 6 2'), ['stick'])), { player: '10 9', dealer: '10 6 2', outcome: 'win' }, '19 beats 18');
  assert.deepEqual(show(playRound(stack('10 10 9 6 A'), ['stick'])), { player: '10 9', dealer: '10 6 A', outcome: 'win' }, 'the ace counts 1: 17, and 19 beats it');
  assert.deepEqual(show(playRound(stack('10 2 7 3 4 3 5'), ['stick'])), { player: '10 7', dealer: '2 3 4 3 5', outcome: 'push' }, 'draws until 17: 2 3 4 3 5; 17 against 17 pushes');
});

test('the dealer stands on every 17, soft 17 included', () => {
  const soft = playRound(stack('10 A 8 6 5'), ['stick']);
  assert.deepEqual(show(soft), { player: '10 8', dealer: 'A 6', outcome: 'win' }, 'stands on soft 17; 18 wins');
  assert.equal(soft.next, 4, 'no card drawn');
  assert.deepEqual(show(playRound(stack('10 10 7 7 5'), ['stick'])), { player: '10 7', dealer: '10 7', outcome: 'push' }, 'stands on hard 17');
  assert.deepEqual(show(playRound(stack('10 A 6 5 A'), ['stick'])), { player: '10 6', dealer: 'A 5 A', outcome: 'loss' }, 'hits soft 16 to soft 17 and stands');
});

test('the dealer busts: the player wins', () => {
  assert.deepEqual(show(playRound(stack('10 10 2 6 K'), ['stick'])), { player: '10 2', dealer: '10 6 K', outcome: 'win' });
});

test('the player busts: lost at once, the dealer does not play', () => {
  const round = playRound(stack('10 6 6 10 K 5'), ['hit']);
  assert.deepEqual(show(round), { player: '10 6 K', dealer: '6 10', outcome: 'loss' });
  assert.equal(round.next, 5);
  assert.deepEqual(show(playRound(stack('10 6 2 10 9 5'), ['hit'])), { player: '10 2 9', dealer: '6 10', outcome: null }, '21 is not bust');
});

test('a bust loses even when the dealer would have bust too', () => {
  assert.deepEqual(show(playRound(stack('10 10 6 6 K K'), ['hit'])), { player: '10 6 K', dealer: '10 6', outcome: 'loss' });
});

test('pushes: equal totals', () => {
  assert.deepEqual(show(playRound(stack('10 10 8 8'), ['stick'])), { player: '10 8', dealer: '10 8', outcome: 'push' });
  assert.deepEqual(show(playRound(stack('10 10 5 9 4'), ['hit', 'stick'])), { player: '10 5 4', dealer: '10 9', outcome: 'push' }, '19 of three cards against 19 of two');
});

test('naturals: a natural beats any other 21 and pays +1; two naturals push', () => {
  assert.deepEqual(show(playRound(stack('A 7 K 4 K'), ['stick'])), { player: 'A K', dealer: '7 4 K', outcome: 'win' }, "a natural beats the dealer's 21 of three cards");
  assert.deepEqual(show(playRound(stack('A 10 Q 9'), ['stick'])), { player: 'A Q', dealer: '10 9', outcome: 'win' });
  assert.deepEqual(show(playRound(stack('A A K K'), ['stick'])), { player: 'A K', dealer: 'A K', outcome: 'push' });
  assert.deepEqual(show(playRound(stack('7 A 4 K K'), ['hit', 'stick'])), { player: '7 4 K', dealer: 'A K', outcome: 'loss' }, "the dealer's natural beats the player's 21 of three cards");
  assert.equal(REWARDS.win, 1, 'a natural pays +1 like any win (not 3:2)');
});

test('soft hands: a hit cannot bust a soft total, the ace drops to 1', () => {
  const dealt = deal(stack('A 10 6 7 10 4'));
  assert.deepEqual(handValue(dealt.player), { sum: 17, usableAce: true }, 'A 6 is soft 17');
  const hard = hit(dealt);
  assert.deepEqual([ranks(hard.player), handValue(hard.player), hard.outcome], ['A 6 10', { sum: 17, usableAce: false }, null], 'a ten makes it hard 17, not bust');
  const twentyOne = hit(hard);
  assert.deepEqual(handValue(twentyOne.player), { sum: 21, usableAce: false });
  assert.deepEqual(show(stick(twentyOne)), { player: 'A 6 10 4', dealer: '10 7', outcome: 'win' });
});

test('rewards: +1 win, 0 push, -1 loss', () => {
  assert.deepEqual(REWARDS, { win: 1, push: 0, loss: -1 });
});

test('misuse is an error that says why', () => {
  assert.throws(() => playRound(stack('10 10 6 6 K K'), ['hit', 'stick']), { message: 'cannot stick: the hand is over (loss); deal a new one' });
  assert.throws(() => deal(stack('10 10 6')), { name: 'RangeError', message: 'the shoe ran out: card 4 was needed and it holds 3; stack a longer shoe' });
  assert.throws(() => playRound(stack('10 10 2 6'), ['stick']), RangeError);
});
