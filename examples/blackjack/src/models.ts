import { z } from 'zod';
import { Action, Observation, State } from 'envbox';

/**
 * What the agent does: guess a number. Actions are strict (an unknown field is a 422), and the
 * `examples` reach `/schema`, where `envbox validate` finds an action to step with.
 */
export const BlackjackAction = Action.extend({
  guess: z.number().int().describe('the number guessed'),
}).meta({ examples: [{ guess: 50 }] });
export type BlackjackAction = z.infer<typeof BlackjackAction>;

/** What the agent sees after each call: a hint about its last guess, and the guesses left. */
export const BlackjackObservation = Observation.extend({
  hint: z.enum(['start', 'higher', 'lower', 'correct', 'out of guesses']),
  low: z.number().int(),
  high: z.number().int(),
  guesses_left: z.number().int().nonnegative(),
});
export type BlackjackObservation = z.infer<typeof BlackjackObservation>;

/** Where the episode stands (`episode_id` and `step_count` come from the protocol). */
export const BlackjackState = State.extend({
  guesses_left: z.number().int().nonnegative(),
  solved: z.boolean(),
});
export type BlackjackState = z.infer<typeof BlackjackState>;
