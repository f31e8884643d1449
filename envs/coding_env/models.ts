import { z } from 'zod';
import { Action, Observation, ResetRequest, State } from '../../protocol/index.js';

/**
 * Languages coding_env runs: Python (the Python backend) and JavaScript (QuickJS). Each must have a
 * backend in sandbox/'s language table (`LANGUAGE_BACKENDS`): the definition starts them with
 * `createLanguageBackends(LANGUAGE_NAMES)`, which does not compile for a name the table lacks.
 */
export const LANGUAGE_NAMES = ['python', 'javascript'] as const;
/** The language of an episode whose reset names none. */
export const DEFAULT_LANGUAGE = 'python';

/** The language of an episode: `python` or `javascript`. */
export const Language = z.enum(LANGUAGE_NAMES);
export type Language = z.infer<typeof Language>;

/** The reset request of coding_env: the base one plus the episode's language. */
export const CodeResetRequest = ResetRequest.extend({
  /** The episode's language; the server's `--default-language` when absent. */
  language: Language.nullish(),
});
export type CodeResetRequest = z.infer<typeof CodeResetRequest>;

/**
 * The action of coding_env: code to run in the episode's sandbox, in the episode's language. Its
 * `examples` reach `/schema`, where `envbox validate` takes the action it steps with (in an
 * episode's default language, Python).
 */
export const CodeAction = Action.extend({
  code: z.string(),
}).meta({ examples: [{ code: 'print(1)' }] });
export type CodeAction = z.infer<typeof CodeAction>;

/**
 * What envbox adds to an observation of coding_env, beyond OpenEnv's `stdout`, `stderr` and
 * `exit_code`: it travels in `metadata`, because OpenEnv's clients reject any field their
 * `CodeObservation` model does not declare. Transforms add their notes here too
 * (`reward_terms`, `syntax_error`, `safety_violation`).
 */
export const CodeMetadata = z.looseObject({
  /** The trailing expression's value (Python: `repr`; JavaScript: as Node's `util.inspect` shows it), or null. */
  result: z.string().nullable(),
  /** The episode's language. */
  language: Language,
  /** Time the code ran, in ms (steps only). */
  duration_ms: z.number().nonnegative().optional(),
  /** Whether stdout or stderr was cut at the output cap (steps only). */
  truncated: z.boolean().optional(),
  /** Whether the sandbox was destroyed: variables gone, the next step gets a fresh one (steps only). */
  state_lost: z.boolean().optional(),
  /** Each transform's reward term, by transform name (steps only). */
  reward_terms: z.record(z.string(), z.number()).optional(),
});
export type CodeMetadata = z.infer<typeof CodeMetadata>;

/**
 * What a step of code produced: exactly the fields of OpenEnv's `CodeObservation` (`stdout`,
 * `stderr`, `exit_code`, and the base `done`, `reward`, `metadata`); envbox's own fields are in
 * {@link CodeMetadata}.
 */
export const CodeObservation = Observation.extend({
  stdout: z.string(),
  stderr: z.string(),
  /** 0 ok, 1 error, n for sys.exit(n), 124 timeout (state kept), 137 sandbox killed (state lost). */
  exit_code: z.number().int(),
  metadata: CodeMetadata,
});
export type CodeObservation = z.infer<typeof CodeObservation>;

/** The state of coding_env. */
export const CodeState = State.extend({
  /** Exit code of the last step; 0 before the first, as OpenEnv's `CodeState` has it. */
  last_exit_code: z.number().int(),
  /** The language of the episode (of the next one, before the first reset). */
  language: Language,
});
export type CodeState = z.infer<typeof CodeState>;
