import { z } from 'zod';
import { Action, ErrorResponse, Observation, ResetRequest, State } from '../../protocol/index.js';

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

/**
 * The reset request of coding_env: the base one plus the episode's language and, on a server with
 * a task set, the task: `{split, index}`, `{task_id}`, or a `seed` that picks one reproducibly.
 */
export const CodeResetRequest = ResetRequest.extend({
  /** The episode's language; the server's `--default-language` when absent (a task's own language otherwise). */
  language: Language.nullish(),
  /** The split of the episode's task (with `index`). */
  split: z.string().nullish(),
  /** The index of the episode's task in `split`. */
  index: z.number().int().nullish(),
  /** The episode's task, by id. */
  task_id: z.string().nullish(),
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
 * The action of coding_env on a server with a task set (`--tasks`): {@link CodeAction}, or a
 * submission, `{submit: true, code?}`, which ends the episode: the judge runs the task's tests
 * against what the episode ran (its steps that exited 0, then `code`), each in fresh sandboxes,
 * and the reward is what they say.
 */
export const TaskCodeAction = Action.extend({
  /** Code to run; optional only when `submit` is true. */
  code: z.string().optional(),
  /** Submit and end the episode. */
  submit: z.boolean().optional(),
})
  .refine((action) => action.code !== undefined || action.submit === true, { message: 'give code, or submit: true', path: ['code'] })
  .meta({ examples: [{ code: 'print(1)' }, { code: 'def add(a, b):\n    return a + b', submit: true }] });
export type TaskCodeAction = z.infer<typeof TaskCodeAction>;

/** The judge's verdict on one submission: the reward, how many tests passed, and per test its name, whether it passed and why not (its source with `--reveal-tests`). */
export const JudgeResult = z.object({
  reward: z.number(),
  passed: z.number().int(),
  total: z.number().int(),
  tests: z.array(z.object({ name: z.string(), passed: z.boolean(), reason: z.string().nullable(), source: z.string().optional() })),
});
export type JudgeResult = z.infer<typeof JudgeResult>;

/** `POST /evaluate`'s answer: per item, in the items' order, its verdict or why it could not be judged. */
export const EvaluateResponse = z.object({
  results: z.array(z.union([JudgeResult, z.object({ error: ErrorResponse.shape.error })])),
});
export type EvaluateResponse = z.infer<typeof EvaluateResponse>;

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
  /** The episode's task id (episodes started on a task). */
  task_id: z.string().optional(),
  /** The task's prompt (the first observation of an episode started on a task). */
  prompt: z.string().optional(),
  /** The judge's verdict (a submit): reward, tests passed, and per test its name, whether it passed and why not. */
  judge: JudgeResult.optional(),
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
  /** The episode's task (null before the first reset), on a server with a task set only. */
  task_id: z.string().nullable().optional(),
});
export type CodeState = z.infer<typeof CodeState>;
