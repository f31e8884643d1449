import { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from 'zod-openapi';
import { VERSION } from '../version.js';
import type { AppConfig } from './config.js';
import type { AnyEnvDefinition } from '../protocol/index.js';
import { METRICS_PATH } from './metrics.js';
import { CreateSessionResponse, ErrorResponse, HealthResponse, Metadata, MetadataResponse } from '../protocol/index.js';
import type { EnvProtocol } from './protocol.js';
import { EVALUATE_PATH, SplitRequest, TaskRangeRequest, TaskRequest } from './task-routes.js';
import { WEB_ASSETS } from './web-interface.js';

/** Where the OpenAPI document is served. */
export const OPENAPI_PATH = '/openapi.json';

/**
 * The version of the OpenEnv HTTP API envbox serves, as `info.version`. OpenEnv's own servers say
 * `1.0.0`, and `openenv validate` reads a `1.x` version as its `openenv-http/1.x` profile; envbox's
 * and the environment's versions are `x-envbox-version` and `x-env-version` beside it.
 */
export const OPENENV_HTTP_API_VERSION = '1.0.0';

const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });
const error = (description: string) => json(ErrorResponse, description);
const sessionHeader = z.object({
  'x-session-id': z.string().optional().meta({ description: 'The session to act on (from POST /sessions); the default session when absent.' }),
});

/**
 * The OpenAPI 3.1 document of the server that serves `definition`, generated from the very zod
 * schemas that validate its requests and shape its replies: every route the server answers, and
 * only those (`/web` only with `config.web`). Reset, step and state over plain HTTP make it a
 * "simulation" server in OpenEnv's terms, which is what `openenv validate` checks these paths for.
 */
export function openApiDocument(definition: AnyEnvDefinition, protocol: EnvProtocol, config: AppConfig): Record<string, unknown> {
  // reward and done sit beside the observation on the wire, not in it (see serializeObservation).
  const observation = definition.observation instanceof z.ZodObject ? definition.observation.omit({ reward: true, done: true }) : definition.observation;
  const reply = z.object({
    observation,
    reward: z.number().nullable(),
    done: z.boolean(),
    metadata: Metadata.optional(),
  });
  const failures = {
    '400': error('INVALID_JSON: the body is not JSON'),
    '404': error('SESSION_NOT_FOUND: X-Session-Id names no open session'),
    '413': error('PAYLOAD_TOO_LARGE: the body is over --max-body-bytes'),
    '422': error('INVALID_REQUEST: the body fails the schema; details.issues names each problem'),
    '503': error('CAPACITY_EXCEEDED or SANDBOX_UNAVAILABLE: try again later (Retry-After)'),
  };
  const episodeCall = (summary: string, body: z.ZodType | undefined, answer: z.ZodType, tag = 'Environment Control'): ZodOpenApiOperationObject => ({
    summary,
    tags: [tag],
    requestParams: { header: sessionHeader },
    ...(body === undefined ? {} : { requestBody: { required: false, content: { 'application/json': { schema: body } } } }),
    responses: { '200': json(answer, 'OK'), ...failures },
  });

  // GET and DELETE /mcp act on an MCP session: JSON-RPC errors without or with an unknown Mcp-Session-Id.
  const mcpSessionFailures = {
    '400': { description: 'No Mcp-Session-Id header (JSON-RPC error -32000)' },
    '404': { description: 'Mcp-Session-Id names no open MCP session (JSON-RPC error -32001)' },
  };
  const paths: ZodOpenApiPathsObject = {
    '/reset': { post: episodeCall('Start a new episode in the session', protocol.resetRequest, reply) },
    '/step': { post: episodeCall('Act in the current episode', protocol.stepRequest, reply) },
    '/state': { get: episodeCall("The episode's state", undefined, definition.state, 'State Management') },
    '/health': {
      get: {
        summary: 'Liveness, session occupancy and environment facts (liveness only without a valid token)',
        tags: ['Health'],
        responses: { '200': json(HealthResponse, 'OK') },
      },
    },
    '/metadata': { get: { summary: 'What the environment is', tags: ['Environment Info'], responses: { '200': json(MetadataResponse, 'OK') } } },
    '/schema': {
      get: {
        summary: 'JSON Schemas of the action, observation, state and reset request',
        tags: ['Schema'],
        responses: {
          '200': json(z.object({ action: z.record(z.string(), z.unknown()), observation: z.record(z.string(), z.unknown()), state: z.record(z.string(), z.unknown()), reset: z.record(z.string(), z.unknown()) }), 'OK'),
        },
      },
    },
    '/sessions': {
      post: {
        summary: 'Open a session (an independent episode holder) for plain HTTP',
        tags: ['Sessions'],
        responses: { '201': json(CreateSessionResponse, 'Created'), '503': error('CAPACITY_EXCEEDED: --max-sessions are open') },
      },
    },
    '/sessions/{id}': {
      delete: {
        summary: 'Close a session',
        tags: ['Sessions'],
        requestParams: { path: z.object({ id: z.string() }) },
        responses: { '200': json(z.object({ session_id: z.string(), closed: z.literal(true) }), 'Closed'), '404': error('SESSION_NOT_FOUND') },
      },
    },
    '/ws': {
      get: {
        summary: 'WebSocket: one session per connection; {"type": "reset"|"step"|"state"|"close"|"mcp", "data"}',
        tags: ['WebSocket'],
        responses: { '101': { description: 'Switching Protocols' }, '426': error('UPGRADE_REQUIRED: not a WebSocket upgrade') },
      },
    },
    '/mcp': {
      post: {
        summary:
          'MCP: JSON-RPC 2.0. An initialize (or a request with Mcp-Session-Id) is MCP Streamable HTTP; any other request is OpenEnv\'s plain JSON-RPC (tools/list, tools/call, openenv/session/create|close). Also a WebSocket (WS /mcp).',
        tags: ['MCP'],
        requestBody: { required: true, content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } },
        responses: {
          '200': { description: 'A JSON-RPC response (application/json) or an SSE stream of them (text/event-stream)' },
          '401': error('UNAUTHORIZED: the bearer token is missing or wrong'),
          '404': { description: 'Mcp-Session-Id names no open MCP session (JSON-RPC error -32001)' },
          '503': { description: 'An initialize at capacity (JSON-RPC error -32000, Retry-After)' },
        },
      },
      get: { summary: "MCP Streamable HTTP: the session's SSE stream", tags: ['MCP'], responses: { '200': { description: 'text/event-stream' }, ...mcpSessionFailures } },
      delete: { summary: 'MCP Streamable HTTP: end the MCP session (and its envbox session)', tags: ['MCP'], responses: { '200': { description: 'Closed' }, ...mcpSessionFailures } },
    },
    [METRICS_PATH]: {
      get: {
        summary: 'Prometheus metrics',
        tags: ['Metrics'],
        responses: { '200': { description: 'OK', content: { 'text/plain': { schema: z.string() } } } },
      },
    },
    [OPENAPI_PATH]: {
      get: { summary: 'This document', tags: ['Schema'], responses: { '200': json(z.record(z.string(), z.unknown()), 'OK') } },
    },
  };
  if (definition.tasks !== undefined) {
    // OpenEnv's Task API, under the environment's own name (any case matches; another name is 404).
    const base = `/${definition.name}`;
    const spec = z.record(z.string(), z.unknown()).meta({ description: 'A task spec: id, index, split, language, prompt, entry_point, num_tests; never its tests or solution' });
    const taskFailures = { '400': error('INVALID_TASK: an unknown split, or an index out of range'), '422': error('INVALID_REQUEST: the body fails the schema') };
    const taskCall = (summary: string, body: z.ZodType, answer: z.ZodType): ZodOpenApiOperationObject => ({
      summary,
      tags: ['Task API'],
      requestBody: { required: true, content: { 'application/json': { schema: body } } },
      responses: { '200': json(answer, 'OK'), ...taskFailures },
    });
    paths['/list_environments'] = { get: { summary: 'The environments served here', tags: ['Task API'], responses: { '200': json(z.array(z.string()), 'OK') } } };
    paths[`${base}/splits`] = {
      get: { summary: 'The splits of the task set', tags: ['Task API'], responses: { '200': json(z.array(z.object({ name: z.string(), type: z.string() })), 'OK') } },
    };
    paths[`${base}/tasks`] = { post: taskCall("A split's tasks", SplitRequest, z.object({ tasks: z.array(spec), env_name: z.string() })) };
    paths[`${base}/num_tasks`] = { post: taskCall("How many tasks a split has", SplitRequest, z.object({ num_tasks: z.number().int() })) };
    paths[`${base}/task`] = { post: taskCall('One task, by split and index', TaskRequest, z.object({ task: spec })) };
    paths[`${base}/task_range`] = { post: taskCall('Tasks start to stop (Python slice semantics)', TaskRangeRequest, z.object({ tasks: z.array(spec) })) };
  }
  if (definition.evaluate !== undefined) {
    paths[EVALUATE_PATH] = {
      post: {
        summary: 'Judge a batch of submissions without episodes; one result per item, in order',
        tags: ['Task API'],
        requestBody: { required: true, content: { 'application/json': { schema: definition.evaluate.request } } },
        responses: { '200': json(z.object({ results: z.array(z.record(z.string(), z.unknown())) }), 'OK'), '422': error('INVALID_REQUEST: no items, or more than the server takes') },
      },
    };
  }
  if (config.web) {
    for (const [path, asset] of Object.entries(WEB_ASSETS)) {
      paths[path] = { get: { summary: 'The web interface', tags: ['Web'], responses: { '200': { description: 'OK', content: { [asset.type]: { schema: z.string() } } } } } };
    }
  }

  const document = createDocument({
    openapi: '3.1.0',
    info: {
      title: `envbox: ${definition.name}`,
      version: OPENENV_HTTP_API_VERSION,
      description: `${definition.description} Served by envbox ${VERSION} over the OpenEnv HTTP API.`,
    },
    paths,
    ...(config.token === undefined
      ? {}
      : { components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } }, security: [{ bearer: [] }] }),
  });
  return { ...document, info: { ...document.info, 'x-envbox-version': VERSION, 'x-env-version': definition.version } };
}
