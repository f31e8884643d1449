import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { envOption, type EnvDefinition, type EnvFactory } from 'envbox';
import { BlackjackEnvironment } from './environment.js';
import { BlackjackAction, BlackjackObservation, BlackjackState } from './models.js';

export * from './models.js';
export { BlackjackEnvironment } from './environment.js';

/**
 * The options of blackjack: each becomes a flag and an ENVBOX_* variable of `envbox serve --env .`
 * (`max` is `--max` and `ENVBOX_MAX`), listed by `envbox serve --env . --help`.
 */
export const BlackjackOptions = z.object({
  max: envOption(z.coerce.number().int().min(1).max(1_000_000).default(100), { help: 'the secret is drawn from 1 to this (default 100)', expected: 'an integer from 1 to 1000000' }),
  guesses: envOption(z.coerce.number().int().min(1).max(1000).default(7), { help: 'guesses per episode (default 7)', expected: 'an integer from 1 to 1000' }),
});

/** blackjack as `envbox serve --env <this package>` loads it: its options, and how to make its definition. */
const environment: EnvFactory<typeof BlackjackOptions> = {
  options: BlackjackOptions,
  create(options): EnvDefinition<BlackjackAction, BlackjackObservation, BlackjackState> {
    return {
      name: 'blackjack',
      description: 'Guess the number: each guess is answered higher or lower; reward 1 for the right one.',
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
