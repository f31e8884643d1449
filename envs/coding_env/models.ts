import { z } from 'zod';
import { Action, LANGUAGE_NAMES, Observation, ResetRequest, State } from '../../runtime/index.js';

/** The language of an episode: `python` or `javascript`. */
export const Language = z.enum(LANGUAGE_NAMES);
export type Language = z.infer<typeof Language>;

/** The reset request of coding_env: the base one plus the episode's language. */
export const CodeResetRequest = ResetRequest.extend({
  /** The episode's language; the server's `--default-language` when absent. */
  language: Language.nullish(),
});
export type CodeResetRequest = z.infer<typeof CodeResetRequest>;

/** The action of coding_env: code to run in the episode's sandbox, in the episode's language. */
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
  /** The trailing expression's value (Python: `repr`; JavaScript: as Node's `util.inspect` shows it), or null. */
  result: z.string().nullable(),
});
export type CodeObservation = z.infer<typeof CodeObservation>;

/** The state of coding_env. */
export const CodeState = State.extend({
  /** Exit code of the last step, null before the first. */
  last_exit_code: z.number().int().nullable(),
  /** The language of the episode (of the next one, before the first reset). */
  language: Language,
});
export type CodeState = z.infer<typeof CodeState>;
