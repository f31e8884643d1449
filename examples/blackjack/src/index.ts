import { readFileSync } from 'node:fs';
import type { EnvDefinition, EnvFactory } from 'envbox';
import { BlackjackEnvironment } from './environment.js';
import { BlackjackAction, BlackjackObservation, BlackjackState } from './models.js';
import { BlackjackOptions } from './options.js';

export * from './models.js';
export { BlackjackEnvironment } from './environment.js';
export { BlackjackOptions, DEFAULT_DECKS, MAX_DECKS } from './options.js';
export { cardPoints, handValue, isNatural, rankOf, type HandValue } from './hand.js';
export { deal, DEALER_STANDS_ON, hit, play, playRound, REWARDS, settle, stick, type Round } from './rules.js';
export { drawSeed, seededRandom, shuffledShoe, SEED_LIMIT, type Random } from './shoe.js';

/** blackjack as `envbox serve --env <this package>` loads it: its options, and how to make its definition. */
const environment: EnvFactory<typeof BlackjackOptions> = {
  options: BlackjackOptions,
  create(options): EnvDefinition<BlackjackAction, BlackjackObservation, BlackjackState> {
    return {
      name: 'blackjack',
      description: 'Blackjack, one hand per episode: hit or stick against a dealer who stands on 17; reward +1, 0 or -1.',
      version: '0.1.0',
      readme: readFileSync(new URL('../../README.md', import.meta.url), 'utf8'),
      action: BlackjackAction,
      observation: BlackjackObservation,
      state: BlackjackState,
      create: () => new BlackjackEnvironment(options),
    };
  },
};
export default environment;
