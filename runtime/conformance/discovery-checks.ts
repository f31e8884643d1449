import { HealthResponse, MetadataResponse } from '../../protocol/index.js';
import { fail, type CheckContext, type ConformanceCheck } from './check-context.js';
import { describeReply } from './http-probe.js';
import { compileSchema, type SchemaCheck } from './json-schema-check.js';
import { sampleAction } from './sample-action.js';

/** The routes whose presence in `/openapi.json` decides OpenEnv's mode. */
const MODE_PATHS = ['/reset', '/step', '/state'] as const;

/** A health reply that says healthy, or a failure naming what it said. */
async function expectHealthy(context: CheckContext): Promise<HealthResponse> {
  const reply = await context.http.request('GET', '/health');
  const parsed = HealthResponse.safeParse(reply.json);
  if (reply.status !== 200 || !parsed.success || parsed.data.status !== 'healthy') fail(`GET /health answered ${describeReply(reply)}; expected 200 {"status": "healthy"}`);
  return parsed.data;
}

function sessionsOf(health: HealthResponse): string {
  const active = (health as Record<string, unknown>).active_sessions;
  const max = (health as Record<string, unknown>).max_sessions;
  return typeof active === 'number' ? `, ${active}${typeof max === 'number' ? ` of ${max}` : ''} sessions active` : '';
}

/** `/health`, `/metadata`, `/schema`, `/openapi.json`, the mode, `/mcp`, and the sample action: what the server says about itself. */
export const DISCOVERY_CHECKS: readonly ConformanceCheck[] = [
  {
    name: 'health_endpoint',
    description: 'GET /health answers 200 {"status": "healthy"}',
    needs: [],
    async run(context) {
      const health = await expectHealthy(context);
      const active = (health as Record<string, unknown>).active_sessions;
      if (typeof active === 'number') context.activeSessionsBefore = active;
      return `healthy${sessionsOf(health)}`;
    },
  },
  {
    name: 'metadata_endpoint',
    description: 'GET /metadata answers 200 with a name and a description',
    needs: ['health_endpoint'],
    async run(context) {
      const reply = await context.http.request('GET', '/metadata');
      const parsed = MetadataResponse.pick({ name: true, description: true }).safeParse(reply.json);
      if (reply.status !== 200 || !parsed.success) fail(`GET /metadata answered ${describeReply(reply)}; expected 200 {"name": string, "description": string, ...}`);
      const version = (reply.json as Record<string, unknown>).version;
      context.env = { name: parsed.data.name, version: typeof version === 'string' ? version : null };
      return `${parsed.data.name}${typeof version === 'string' ? ` ${version}` : ''}: ${parsed.data.description}`;
    },
  },
  {
    name: 'schema_endpoint',
    description: 'GET /schema answers JSON Schemas of action, observation and state that compile',
    needs: ['health_endpoint'],
    async run(context) {
      const reply = await context.http.request('GET', '/schema');
      if (reply.status !== 200 || typeof reply.json !== 'object' || reply.json === null) fail(`GET /schema answered ${describeReply(reply)}; expected 200 {"action", "observation", "state"}`);
      const body = reply.json as Record<string, unknown>;
      const compiled: Partial<Record<'action' | 'observation' | 'state' | 'reset', SchemaCheck>> = {};
      const problems: string[] = [];
      for (const key of ['action', 'observation', 'state', 'reset'] as const) {
        // reset is envbox's addition: checked when present, OpenEnv's servers do not send it.
        if (key === 'reset' && body.reset === undefined) continue;
        const check = body[key] === undefined ? 'missing' : compileSchema(body[key]);
        if (typeof check === 'string') problems.push(`${key}: ${check}`);
        else compiled[key] = check;
      }
      if (problems.length > 0) fail(`GET /schema: ${problems.join('; ')}`);
      context.schemas = { action: compiled.action!, observation: compiled.observation!, state: compiled.state!, actionSchema: body.action };
      return `${Object.keys(compiled).join(', ')} compile (JSON Schema ${String((body.action as Record<string, unknown>).$schema ?? '2020-12, by default')})`;
    },
  },
  {
    name: 'openapi_version_available',
    description: 'GET /openapi.json answers an OpenAPI document with info.version and paths',
    needs: ['health_endpoint'],
    async run(context) {
      const reply = await context.http.request('GET', '/openapi.json');
      const document = reply.json as { info?: { version?: unknown }; paths?: unknown } | undefined;
      if (reply.status !== 200 || typeof document?.info?.version !== 'string') fail(`GET /openapi.json answered ${describeReply(reply)}; expected 200 with info.version, a string`);
      if (typeof document.paths !== 'object' || document.paths === null || Object.keys(document.paths).length === 0) fail('GET /openapi.json has no paths; OpenEnv reads the mode from them');
      const paths = document.paths as Record<string, unknown>;
      const present = MODE_PATHS.filter((path) => Object.hasOwn(paths, path));
      // OpenEnv's rule: /reset in the paths means simulation, which needs /step and /state too; without it, production, which must have neither.
      context.mode = present.includes('/reset') ? 'simulation' : 'production';
      context.openapiPaths = Object.keys(paths);
      const version = document.info.version;
      return `info.version ${version} (profile ${version.startsWith('1.') ? 'openenv-http/1.x' : 'openenv-http/unknown'}), ${Object.keys(paths).length} paths`;
    },
  },
  {
    name: 'mode_endpoint_consistency',
    description: "the OpenAPI paths match OpenEnv's mode: /reset, /step and /state all (simulation) or none (production)",
    needs: ['openapi_version_available'],
    async run(context) {
      const paths = context.openapiPaths ?? [];
      const present = MODE_PATHS.filter((path) => paths.includes(path));
      const expected = context.mode === 'simulation' ? MODE_PATHS.length : 0;
      if (present.length !== expected) fail(`${context.mode} mode expects ${context.mode === 'simulation' ? 'all' : 'none'} of ${MODE_PATHS.join(', ')} in the OpenAPI paths; found ${present.join(', ') || 'none'}`);
      return `${context.mode}: ${context.mode === 'simulation' ? MODE_PATHS.join(', ') : 'no /reset, /step, /state'} in the OpenAPI paths`;
    },
  },
  {
    name: 'mcp_endpoint',
    description: 'POST /mcp {} answers 200 with a JSON-RPC 2.0 payload',
    needs: ['health_endpoint'],
    async run(context) {
      const reply = await context.http.request('POST', '/mcp', {});
      const jsonrpc = (reply.json as { jsonrpc?: unknown } | undefined)?.jsonrpc;
      if (reply.status !== 200 || jsonrpc !== '2.0') fail(`POST /mcp {} answered ${describeReply(reply)}; expected 200 with "jsonrpc": "2.0"`);
      return 'answers JSON-RPC 2.0';
    },
  },
  {
    name: 'sample_action',
    description: "an action to step with: --action, else the action schema's examples, else derived from it; valid against /schema",
    needs: ['health_endpoint'],
    async run(context) {
      if (context.schemas === undefined && context.givenAction === undefined) fail('no action to step with: /schema failed and none was given (--action)');
      const sample = sampleAction(context.schemas?.actionSchema, context.givenAction);
      if (sample === undefined) {
        fail("cannot make an action from /schema's action schema; give it examples (zod: MyAction.meta({ examples: [{...}] })) or pass --action '<json>'");
      }
      const problem = context.schemas?.action.check(sample.action);
      if (problem != null) fail(`the sample action ${JSON.stringify(sample.action)} (${sample.source}) does not match /schema's action schema: ${problem}`);
      context.sample = sample;
      return `${JSON.stringify(sample.action)} (${sample.source})`;
    },
  },
];
