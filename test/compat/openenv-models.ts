import { z } from 'zod';

/*
 * OpenEnv's wire models, written out field by field from OpenEnv's own declarations and NOT derived
 * from envbox's schemas: if envbox adds a field to an observation, these models must reject it,
 * as OpenEnv's clients do. Sources (huggingface/OpenEnv):
 * - src/openenv/core/env_server/types.py: `Observation` (pydantic, `extra="forbid"`: done, reward,
 *   metadata), `State` (`extra="allow"`: episode_id, step_count >= 0), the WebSocket responses
 *   `WSObservationResponse`, `WSStateResponse`, `WSErrorResponse` (`extra="forbid"`: type, data).
 * - envs/coding_env/models.py: `CodeObservation` (stdout, stderr, exit_code), `CodeState`
 *   (last_exit_code: int = 0). envs/coding_env/client.py: `CodeObservation(**payload["observation"])`
 *   and `CodeState(last_exit_code=payload.get("last_exit_code", 0), ...)`.
 * - echo_env's `EchoObservation` (echoed_message, message_length: int = 0), October 2025 onwards.
 * - The October 2025 client (src/core/http_env_client.py, dataclasses): `CodeObservation(**obs)`,
 *   a TypeError on any key the dataclass does not declare; the same field set.
 * pydantic's `int` refuses null and floats with a fraction; `str` refuses null; so do these.
 */

/** OpenEnv's `Observation` base, strict: an undeclared field fails, as `extra="forbid"` does. */
function observationModel<S extends z.ZodRawShape>(fields: S) {
  return z.strictObject({
    done: z.boolean().default(false),
    reward: z.union([z.boolean(), z.number()]).nullable().default(null),
    metadata: z.record(z.string(), z.unknown()).default({}),
    ...fields,
  });
}

/** OpenEnv's coding_env `CodeObservation`. */
export const OpenEnvCodeObservation = observationModel({
  stdout: z.string().default(''),
  stderr: z.string().default(''),
  exit_code: z.number().int().default(0),
});

/** OpenEnv's echo_env `EchoObservation`. */
export const OpenEnvEchoObservation = observationModel({
  echoed_message: z.string(),
  message_length: z.number().int().default(0),
});

/** OpenEnv's `State`: extra fields allowed. */
export const OpenEnvState = z.looseObject({
  episode_id: z.string().nullable().default(null),
  step_count: z.number().int().nonnegative().default(0),
});

/** OpenEnv's coding_env `CodeState`. */
export const OpenEnvCodeState = OpenEnvState.extend({
  last_exit_code: z.number().int().default(0),
});

/**
 * What OpenEnv's clients read of a reset or step reply (`_parse_result`): the observation, `reward`
 * and `done`; other keys of the envelope are not read (envbox's `metadata` beside it).
 */
export const OpenEnvStepReply = z.looseObject({
  observation: z.record(z.string(), z.unknown()),
  reward: z.union([z.boolean(), z.number()]).nullable().optional(),
  done: z.boolean().optional(),
});

/** Any message an OpenEnv WebSocket server sends on `/ws`, strict as OpenEnv declares them. */
export const OpenEnvWsResponse = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('observation'), data: z.record(z.string(), z.unknown()) }),
  z.strictObject({ type: z.literal('state'), data: z.record(z.string(), z.unknown()) }),
  // The client reads data.message and data.code of an error.
  z.strictObject({ type: z.literal('error'), data: z.looseObject({ message: z.string(), code: z.string() }) }),
]);
export type OpenEnvWsResponse = z.infer<typeof OpenEnvWsResponse>;

/** One environment's OpenEnv models. */
export interface OpenEnvModels {
  observation: z.ZodType<Record<string, unknown>>;
  state: z.ZodType<Record<string, unknown>>;
}

/** coding_env's, as OpenEnv declares them. */
export const CODING_ENV_MODELS: OpenEnvModels = { observation: OpenEnvCodeObservation, state: OpenEnvCodeState };
/** echo_env's, as OpenEnv declares them. */
export const ECHO_ENV_MODELS: OpenEnvModels = { observation: OpenEnvEchoObservation, state: OpenEnvState };
