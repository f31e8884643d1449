import { z } from 'zod';
import { envOption } from 'envbox';

/** Decks in the shoe unless `--decks` says otherwise. */
export const DEFAULT_DECKS = 1;
/** The most decks a shoe may hold (casinos use up to 8). */
export const MAX_DECKS = 8;

/**
 * The options of blackjack: each becomes a flag and an ENVBOX_* variable of `envbox serve --env .`
 * (`decks` is `--decks` and `ENVBOX_DECKS`), listed by `envbox serve --env . --help`.
 */
export const BlackjackOptions = z.object({
  decks: envOption(z.coerce.number().int().min(1).max(MAX_DECKS).default(DEFAULT_DECKS), {
    help: `full 52-card decks in the shoe, shuffled afresh at each reset (default ${DEFAULT_DECKS})`,
    expected: `an integer from 1 to ${MAX_DECKS}`,
  }),
});
export type BlackjackOptions = z.output<typeof BlackjackOptions>;
