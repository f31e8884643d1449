import { z } from 'zod';
import type { EnvService } from '../env-service.js';
import type { Session } from '../session.js';
import { openEnvToolResult, type McpToolbox } from './toolbox.js';
import { RPC_ERROR, RpcError, toRpcError } from './rpc-error.js';

/** A JSON-RPC 2.0 response as OpenEnv sends it: `id` always, then `result` or `error` (with `data`, null when none). */
export interface RpcResponse {
  jsonrpc: '2.0';
  id: string | number | null;
  result?: unknown;
  error?: { code: number; message: string; data: unknown };
}

/** Where a request is answered: a WebSocket's own session (`WS /mcp`, `/ws`), or none (`POST /mcp`). */
export interface RpcScope {
  session?: Session;
}

/** OpenEnv's JSON-RPC request: `jsonrpc` "2.0", `method`, `params` (an object, `{}` when absent), `id`; nothing else. */
const OpenEnvRequest = z.strictObject({
  jsonrpc: z.literal('2.0'),
  method: z.string(),
  params: z.record(z.string(), z.unknown()).default({}),
  id: z.union([z.string(), z.number().int(), z.null()]).optional(),
});

/**
 * OpenEnv's plain JSON-RPC use of MCP, as its server answers it on `POST /mcp`, `WS /mcp` and the
 * `{"type": "mcp"}` message of `/ws`: `tools/list` and `tools/call` without `initialize`,
 * `openenv/session/create` (answers `{"session_id"}`) and `openenv/session/close`; a call names
 * its session with `params.session_id`, runs in the WebSocket's own session, or, with neither, in a
 * session opened for that one call. Errors are JSON-RPC errors (-32700, -32600, -32601, -32602,
 * -32000), answered with HTTP 200 as OpenEnv does. The MCP protocol proper (initialize, the
 * `Mcp-Session-Id` header, SSE) is the SDK's, in {@link McpHttpRoute}; this covers only what the
 * SDK has no server for: OpenEnv's extension methods and result shape without a handshake.
 */
export class OpenEnvRpc {
  readonly #service: EnvService;
  readonly #toolbox: McpToolbox;

  constructor(service: EnvService, toolbox: McpToolbox) {
    this.#service = service;
    this.#toolbox = toolbox;
  }

  /** Answer one parsed JSON message. Never throws: every failure is a JSON-RPC error response. */
  async handle(message: unknown, scope: RpcScope = {}): Promise<RpcResponse> {
    const parsed = OpenEnvRequest.safeParse(message);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const where = issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`;
      return errorResponse(idOf(message), RPC_ERROR.invalidRequest, `Invalid request${where}: ${issue.message}; send {"jsonrpc": "2.0", "method": ..., "params": {...}, "id": ...}.`);
    }
    const { method, params } = parsed.data;
    const id = parsed.data.id ?? null;
    try {
      return { jsonrpc: '2.0', id, result: await this.#dispatch(method, params, scope) };
    } catch (thrown) {
      const error = toRpcError(thrown, this.#service, { path: '/mcp', method });
      return errorResponse(id, error.code, error.message, error.data);
    }
  }

  /** Answer a message that is not JSON. */
  parseError(detail: string): RpcResponse {
    return errorResponse(null, RPC_ERROR.parse, `Parse error: ${detail}`);
  }

  async #dispatch(method: string, params: Record<string, unknown>, scope: RpcScope): Promise<unknown> {
    const { sessions } = this.#service;
    switch (method) {
      case 'openenv/session/create':
        return { session_id: scope.session?.id ?? (await sessions.create('mcp')).id };
      case 'openenv/session/close': {
        const target = params.session_id;
        if (typeof target !== 'string' || target === '') throw new RpcError(RPC_ERROR.invalidParams, "Invalid params - 'session_id' is required");
        if (target === scope.session?.id) throw new RpcError(RPC_ERROR.invalidRequest, 'Cannot close active WebSocket-managed session via MCP method');
        this.#session(target);
        await sessions.close(target, 'client');
        return { session_id: target, closed: true };
      }
      case 'tools/list':
        if (scope.session === undefined && params.session_id !== undefined && params.session_id !== null) this.#session(params.session_id);
        return { tools: this.#toolbox.list() };
      case 'tools/call': {
        const name = params.name;
        if (typeof name !== 'string' || name === '') throw new RpcError(RPC_ERROR.invalidParams, "Missing 'name' in params");
        const args = params.arguments ?? {};
        const named = scope.session ?? (params.session_id == null || params.session_id === '' ? undefined : this.#session(params.session_id));
        if (named !== undefined) return openEnvToolResult(await this.#toolbox.call(named, name, args));
        // No session: one of its own for this call, as OpenEnv makes a throwaway environment.
        const session = await sessions.create('mcp');
        try {
          return openEnvToolResult(await this.#toolbox.call(session, name, args));
        } finally {
          void sessions.close(session.id, 'client');
        }
      }
      default:
        throw new RpcError(RPC_ERROR.methodNotFound, `Method not found: ${method.slice(0, 200)}`);
    }
  }

  /** The open session `id` names. @throws {RpcError} -32602 `Unknown session_id` */
  #session(id: unknown): Session {
    try {
      if (typeof id !== 'string') throw new Error('not a string');
      return this.#service.sessions.get(id);
    } catch {
      throw new RpcError(RPC_ERROR.invalidParams, `Unknown session_id: ${String(id).slice(0, 100)}`);
    }
  }
}

function errorResponse(id: string | number | null, code: number, message: string, data: unknown = null): RpcResponse {
  return { jsonrpc: '2.0', id, error: { code, message, data } };
}

/** The `id` of a message that failed validation, when it has a usable one (else null). */
function idOf(message: unknown): string | number | null {
  const id = typeof message === 'object' && message !== null ? (message as { id?: unknown }).id : undefined;
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : null;
}
