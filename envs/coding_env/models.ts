import { z } from 'zod';
import { Action, Observation, State } from '../../runtime/index.js';

/** The action of coding_env: code to run in the episode's sandbox. */
export const CodeAction = Action.extend({
  code: z.string(),
});
export type CodeAction = z.infer<typeof CodeAction>;

/**
 * What a step of code produced. `metadata` carries `duration_ms`, `truncated`, `state_lost` (the
 * sandbox was destroyed: variables gone, the next step gets a fresh one) and the transforms' notes.
 */
export const CodeObservation = Observation.extend({
  stdout: z.string(),
  stderr: z.string(),
  /** 0 ok, 1 error, n for sys.exit(n), 124 timeout (state kept), 137 sandbox killed (state lost). */
  exit_code: z.number().int(),
  /** `repr` of a trailing expression, or null. */
  result: z.string().nullable(),
});
export type CodeObservation = z.infer<typeof CodeObservation>;

/** The state of coding_env. */
export const CodeState = State.extend({
  /** Exit code of the last step, null before the first. */
  last_exit_code: z.number().int().nullable(),
});
export type CodeState = z.infer<typeof CodeState>;
