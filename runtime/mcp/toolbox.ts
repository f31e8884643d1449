import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { AnyEnvDefinition, AnyEnvTool, Observation, State, ToolContext, ToolResult } from '../../protocol/index.js';
import type { EnvProtocol } from '../protocol.js';
import type { Session } from '../session.js';
import { genericTools } from './generic-tools.js';
import { RPC_ERROR, RpcError } from './rpc-error.js';

/**
 * The MCP tools of one environment: its definition's `tools`, or the generic `reset`, `step` and
 * `state`. Lists them as MCP tool descriptions and calls them in a session, through the
 * environment's {@link EnvProtocol} (validation, step budget and metrics as on `/step`).
 */
export class McpToolbox {
  readonly #protocol: EnvProtocol;
  readonly #tools: ReadonlyMap<string, AnyEnvTool>;
  readonly #listed: readonly Tool[];

  constructor(definition: AnyEnvDefinition, protocol: EnvProtocol) {
    this.#protocol = protocol;
    const tools = definition.tools ?? genericTools(definition, protocol);
    this.#tools = new Map(tools.map((tool) => [tool.name, tool]));
    this.#listed = tools.map((tool) => ({ name: tool.name, description: tool.description, inputSchema: inputSchema(tool.input) }));
  }

  /** The tools as `tools/list` answers them (name, description, the input's JSON Schema). */
  list(): Tool[] {
    return [...this.#listed];
  }

  /**
   * Call tool `name` with `args` in `session`.
   * @throws {RpcError} -32602 for an unknown tool or arguments its schema refuses
   * @throws {EnvboxError} when the session or the appliance fails (see {@link toRpcError})
   */
  async call(session: Session, name: string, args: unknown): Promise<ToolResult> {
    const tool = this.#tools.get(name);
    if (tool === undefined) {
      throw new RpcError(RPC_ERROR.invalidParams, `Unknown tool ${JSON.stringify(name.slice(0, 100))}; tools: ${[...this.#tools.keys()].join(', ')}.`);
    }
    const parsed = (tool.input as z.ZodObject).safeParse(args ?? {});
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => ({ path: issue.path.map(String), message: issue.message, code: issue.code }));
      const first = issues[0]!;
      const where = first.path.length === 0 ? '' : ` at ${first.path.join('.')}`;
      throw new RpcError(RPC_ERROR.invalidParams, `Arguments of ${name} are invalid${where}: ${first.message}.`, { issues });
    }
    return tool.call(parsed.data, this.context(session));
  }

  /** The operations a tool may use in `session`. */
  context(session: Session): ToolContext<unknown, Observation, State> {
    const protocol = this.#protocol;
    return {
      reset: (request = {}) => protocol.resetObservation(session, request),
      step: (action, options = {}) => protocol.stepObservation(session, action, options.timeoutS),
      state: async () => (await protocol.state(session)) as State,
    };
  }
}

/** A tool's result as MCP's `tools/call` answers it: text content, structured content, `isError`. */
export function mcpToolResult(result: ToolResult): CallToolResult {
  return {
    content: [{ type: 'text', text: result.text }],
    ...(result.structured === undefined ? {} : { structuredContent: result.structured }),
    isError: result.isError ?? false,
  };
}

/**
 * A tool's result as OpenEnv's `/mcp` answers `tools/call` (FastMCP's `CallToolResult` as JSON:
 * `content`, `structured_content`, `meta`, `data`, `is_error`; OpenEnv's clients read `data`), plus
 * MCP's own `structuredContent` and `isError`, so that an MCP-typed reader accepts it too.
 */
export function openEnvToolResult(result: ToolResult): Record<string, unknown> {
  const structured = result.structured ?? null;
  const isError = result.isError ?? false;
  return {
    content: [{ type: 'text', text: result.text, annotations: null, meta: null }],
    structured_content: structured,
    meta: null,
    data: result.value === undefined ? structured : result.value,
    is_error: isError,
    ...(structured === null ? {} : { structuredContent: structured }),
    isError,
  };
}

/** The JSON Schema of a tool's input, as MCP lists it (an object schema, without `$schema`). */
function inputSchema(input: z.ZodObject): Tool['inputSchema'] {
  const { $schema: _ignored, ...schema } = z.toJSONSchema(input, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, type: 'object' } as Tool['inputSchema'];
}
