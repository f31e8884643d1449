import { z } from 'zod';

/**
 * The base wire models of the OpenEnv protocol. Every environment extends these; the server
 * validates requests with them, `/schema` is generated from them, and the client parses
 * responses with the very same schemas.
 */

/** Free-form, JSON-serialisable metadata attached to actions and observations. */
export const Metadata = z.record(z.string(), z.unknown());
export type Metadata = z.infer<typeof Metadata>;

/**
 * Base action: only `metadata`. Unknown fields are rejected (OpenEnv's `extra="forbid"`), so a
 * typo in an action is a 422, not a silently ignored field. Extend with `Action.extend({...})`.
 */
export const Action = z.strictObject({
  metadata: Metadata.default({}),
});
export type Action = z.infer<typeof Action>;

/** Base observation: whether the episode is over, the reward of the last call, metadata. */
export const Observation = z.object({
  done: z.boolean().default(false),
  reward: z.number().nullable().default(null),
  metadata: Metadata.default({}),
});
export type Observation = z.infer<typeof Observation>;

/** Base state: the episode id (null before the first reset) and the steps taken in it. */
export const State = z.looseObject({
  episode_id: z.string().nullable(),
  step_count: z.number().int().nonnegative(),
});
export type State = z.infer<typeof State>;

/**
 * `POST /reset` body (and the WS `reset` message's `data`). Extra fields are allowed and passed
 * to the environment, as OpenEnv does; environments with their own reset options extend this.
 */
export const ResetRequest = z.looseObject({
  seed: z.number().int().nonnegative().nullish(),
  episode_id: z.string().max(255).nullish(),
});
export type ResetRequest = z.infer<typeof ResetRequest>;

/** `POST /step` body, before the action is checked against the environment's action schema. */
export const StepRequest = z.looseObject({
  action: z.record(z.string(), z.unknown()),
  timeout_s: z.number().positive().nullish(),
  request_id: z.string().max(255).nullish(),
});
export type StepRequest = z.infer<typeof StepRequest>;

/**
 * What `/reset` and `/step` answer: the observation without `reward`/`done`, which sit beside it.
 * `metadata` is both inside `observation` (where envbox and older OpenEnv clients read it) and
 * beside it (where current OpenEnv clients read it).
 */
export const StepResponse = z.object({
  observation: z.record(z.string(), z.unknown()),
  reward: z.number().nullable(),
  done: z.boolean(),
  metadata: Metadata.optional(),
});
export type StepResponse = z.infer<typeof StepResponse>;

/** Every error response: `{"error": {"code", "message", "details"?}}`. */
export const ErrorResponse = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.unknown().optional(),
  }),
});
export type ErrorResponse = z.infer<typeof ErrorResponse>;

/** `GET /health`: liveness and session occupancy, plus environment facts such as `isolation`. */
export const HealthResponse = z.looseObject({
  status: z.literal('healthy'),
  env: z.string(),
  version: z.string(),
  active_sessions: z.number().int().nonnegative(),
  max_sessions: z.number().int().positive(),
});
export type HealthResponse = z.infer<typeof HealthResponse>;

/**
 * `GET /metadata`: what the environment is. The README is under `readme` and, for OpenEnv
 * clients, under `readme_content` too.
 */
export const MetadataResponse = z.object({
  name: z.string(),
  description: z.string(),
  version: z.string(),
  readme: z.string().nullable(),
  readme_content: z.string().nullable(),
  author: z.string().nullable(),
  documentation_url: z.string().nullable(),
});
export type MetadataResponse = z.infer<typeof MetadataResponse>;

/** `POST /sessions` answer. */
export const CreateSessionResponse = z.object({ session_id: z.string() });
export type CreateSessionResponse = z.infer<typeof CreateSessionResponse>;

/** WebSocket `reset` message: `data` is the reset request (optional). */
export const WsResetMessage = z.object({ type: z.literal('reset'), data: z.unknown().optional() });
/**
 * WebSocket `step` message: `data` is the action itself (not `{"action": ...}`), as in OpenEnv.
 * `timeout_s` and `request_id` may sit beside it (an envbox extension).
 */
export const WsStepMessage = z.object({
  type: z.literal('step'),
  data: z.unknown(),
  timeout_s: z.number().positive().nullish(),
  request_id: z.string().max(255).nullish(),
});
/** WebSocket `state` message. */
export const WsStateMessage = z.object({ type: z.literal('state') });
/** WebSocket `close` message: the server closes the session and the socket, without a reply. */
export const WsCloseMessage = z.object({ type: z.literal('close') });
/**
 * WebSocket `mcp` message: `data` is a JSON-RPC request (`tools/list`, `tools/call`, ...) answered
 * in the connection's own session, as OpenEnv answers it: `{"type": "mcp", "data": <JSON-RPC response>}`.
 */
export const WsMcpMessage = z.object({ type: z.literal('mcp'), data: z.record(z.string(), z.unknown()) });
/** Any message a WebSocket client sends. */
export const WsClientMessage = z.discriminatedUnion('type', [WsResetMessage, WsStepMessage, WsStateMessage, WsCloseMessage, WsMcpMessage]);
export type WsClientMessage = z.infer<typeof WsClientMessage>;

/** Any message the server sends over WebSocket, one per client message (but `close`). */
export const WsServerMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('observation'), data: StepResponse }),
  z.object({ type: z.literal('state'), data: z.record(z.string(), z.unknown()) }),
  z.object({ type: z.literal('error'), data: ErrorResponse.shape.error }),
  z.object({ type: z.literal('mcp'), data: z.record(z.string(), z.unknown()) }),
]);
export type WsServerMessage = z.infer<typeof WsServerMessage>;
