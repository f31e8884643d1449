import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BlackjackEnvironment, BlackjackObservation, BlackjackState, playRound, seededRandom, shuffledShoe, type BlackjackObservation as Observation, type Move } from '../src/index.js';

const signal = new AbortController().signal;
const step = (env: BlackjackEnvironment, action: Move): Observation => env.step({ action, metadata: {} });

/** Play a hand with `policy` until done; every observation, the reset's first. */
function playOut(env: BlackjackEnvironment, seed: number | undefined, policy: (observation: Observation) => Move): Observation[] {
  const observations = [env.reset(seed === undefined ? { signal } : { seed, signal })];
  while (!observations.at(-1)!.done) observations.push(step(env, policy(observations.at(-1)!)));
  return observations;
}
const hitBelow17 = (observation: Observation): Move => (observation.player_sum < 17 ? 'hit' : 'stick');

test('the same seed, the same episode: the same cards, the same observations', () => {
  for (const seed of [0, 1, 42, 2 ** 32 - 1]) {
    assert.deepEqual(playOut(new BlackjackEnvironment({ decks: 1 }), seed, hitBelow17), playOut(new BlackjackEnvironment({ decks: 1 }), seed, hitBelow17));
  }
  const firstCards = new Set(Array.from({ length: 20 }, (_, seed) => new BlackjackEnvironment({ decks: 1 }).reset({ seed, signal }).player_cards.join(' ')));
  assert.ok(firstCards.size > 10, 'different seeds deal different hands');
});

test('without a seed, one is drawn and kept in the state: reset({ seed: state.seed }) replays the episode', () => {
  const env = new BlackjackEnvironment({ decks: 2 });
  const played = playOut(env, undefined, hitBelow17);
  const state = env.state();
  assert.equal(typeof state.seed, 'number');
  assert.deepEqual(playOut(new BlackjackEnvironment({ decks: 2 }), state.seed!, hitBelow17), played);
});

test('the state says what replays the episode: seed, decks and actions through playRound', () => {
  const env = new BlackjackEnvironment({ decks: 3 });
  const observations = playOut(env, 9, hitBelow17);
  const state = BlackjackState.parse(env.state());
  const replay = playRound(shuffledShoe(state.decks, seededRandom(state.seed!)), state.actions);
  assert.deepEqual(replay.player, observations.at(-1)!.player_cards);
  assert.deepEqual(replay.dealer, observations.at(-1)!.dealer_cards);
  assert.equal(replay.outcome, state.outcome);
  assert.equal(state.step_count, state.actions.length);
  assert.equal(state.cards_dealt, replay.next);
  assert.equal(state.done, true);
});

test('rewards: null at reset, 0 while the hand goes on, +1/0/-1 as the outcome on the step that ends it', () => {
  const outcomes = new Set<string>();
  for (let seed = 0; seed < 300; seed += 1) {
    const observations = playOut(new BlackjackEnvironment({ decks: 1 }), seed, hitBelow17);
    assert.equal(observations[0]!.reward, null);
    for (const observation of observations.slice(1, -1)) assert.equal(observation.reward, 0);
    const last = observations.at(-1)!;
    assert.equal(last.reward, { win: 1, push: 0, loss: -1 }[last.outcome!]);
    outcomes.add(last.outcome!);
    for (const observation of observations) BlackjackObservation.parse(observation);
  }
  assert.deepEqual([...outcomes].sort(), ['loss', 'push', 'win'], '300 hands see every outcome');
});

test("while playing the dealer shows one card; once done, the whole hand and its sum", () => {
  const env = new BlackjackEnvironment({ decks: 1 });
  const first = env.reset({ seed: 5, signal });
  assert.equal(first.done, false);
  assert.equal(first.dealer_cards.length, 1);
  assert.deepEqual(first.legal_actions, ['hit', 'stick']);
  assert.equal(first.outcome, null);
  assert.match(first.message, /^You hold \S+ \S+ \((soft )?\d+(, a natural)?\); the dealer shows \S+\. Hit or stick\?$/);
  const last = step(env, 'stick');
  assert.equal(last.done, true);
  assert.ok(last.dealer_cards.length >= 2);
  assert.equal(last.dealer_cards[0], first.dealer_cards[0]);
  assert.ok(last.dealer_sum >= 17);
  assert.deepEqual(last.legal_actions, []);
  assert.match(last.message, /^You stick on .+; the dealer holds .+: .+\. (You win \(\+1\)|Push \(0\)|You lose \(-1\))\.$/);
});

test('a step after the end is an observation, not an error: done, reward 0, call reset(); a step call but no move', () => {
  const env = new BlackjackEnvironment({ decks: 1 });
  env.reset({ seed: 3, signal });
  const last = step(env, 'stick');
  const before = env.state();
  const after = step(env, 'hit');
  assert.deepEqual({ ...after, message: '' }, { ...last, reward: 0, message: '' });
  assert.match(after.message, /^The hand is over \((You win \(\+1\)|Push \(0\)|You lose \(-1\))\); call reset\(\) to deal a new one\. hit was ignored\.$/);
  assert.deepEqual(env.state(), { ...before, step_count: 2 }, 'step_count counts calls (as envbox validate expects); actions and cards do not change');
});

test('a step before any reset says to reset', () => {
  const env = new BlackjackEnvironment({ decks: 1 });
  assert.deepEqual(step(env, 'hit'), {
    player_cards: [],
    player_sum: 0,
    usable_ace: false,
    dealer_cards: [],
    dealer_sum: 0,
    legal_actions: [],
    outcome: null,
    message: 'No hand has been dealt yet; call reset() to deal one.',
    done: true,
    reward: 0,
    metadata: {},
  });
  assert.deepEqual(env.state(), { episode_id: null, step_count: 1, seed: null, decks: 1, actions: [], cards_dealt: 0, done: true, outcome: null });
});

test('reset starts over: a new episode id (or the one given), no actions', () => {
  const env = new BlackjackEnvironment({ decks: 1 });
  playOut(env, 1, () => 'hit');
  env.reset({ seed: 2, episode_id: 'episode-7', signal });
  assert.deepEqual(env.state(), { episode_id: 'episode-7', step_count: 0, seed: 2, decks: 1, actions: [], cards_dealt: 4, done: false, outcome: null });
});
