import { z } from 'zod';
import { Action, Observation, State } from '../../protocol/index.js';

/**
 * The action of echo_env: a message to echo back. Its `examples` reach `/schema`, where
 * `envbox validate` takes the action it steps with.
 */
export const EchoAction = Action.extend({
  message: z.string(),
}).meta({ examples: [{ message: 'hi' }] });
export type EchoAction = z.infer<typeof EchoAction>;

/** The observation of echo_env: the message echoed and its length in UTF-16 code units. */
export const EchoObservation = Observation.extend({
  echoed_message: z.string(),
  message_length: z.number().int().nonnegative(),
});
export type EchoObservation = z.infer<typeof EchoObservation>;

/** The state of echo_env: only the base fields. */
export const EchoState = State;
export type EchoState = z.infer<typeof EchoState>;
