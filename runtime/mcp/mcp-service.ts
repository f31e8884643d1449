import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { EnvService } from '../env-service.js';
import type { Session } from '../session.js';
import { OpenEnvRpc } from './openenv-rpc.js';
import { toRpcError } from './rpc-error.js';
import { mcpToolResult, McpToolbox } from './toolbox.js';

/** Path of MCP over HTTP (Streamable HTTP and OpenEnv's plain JSON-RPC) and over WebSocket. */
export const MCP_PATH = '/mcp';

/**
 * MCP for one {@link EnvService}: its tools, OpenEnv's plain JSON-RPC, and SDK servers bound to
 * a session. One per service (see {@link mcpServiceOf}), shared by `/mcp`, `WS /mcp`, `/ws` and stdio.
 */
export class McpService {
  readonly service: EnvService;
  readonly toolbox: McpToolbox;
  readonly rpc: OpenEnvRpc;

  constructor(service: EnvService) {
    this.service = service;
    this.toolbox = new McpToolbox(service.definition, service.protocol);
    this.rpc = new OpenEnvRpc(service, this.toolbox);
  }

  /**
   * An MCP server (the SDK's: initialize, capabilities, JSON-RPC framing, errors) offering the
   * environment's tools, each call run in the session `session()` gives.
   */
  createServer(session: () => Promise<Session> | Session): Server {
    const { definition } = this.service;
    const server = new Server(
      { name: `envbox ${definition.name}`, version: definition.version },
      { capabilities: { tools: {} }, instructions: definition.description },
    );
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: this.toolbox.list() }));
    server.setRequestHandler(CallToolRequestSchema, async (request) => {
      const { name, arguments: args } = request.params;
      try {
        return mcpToolResult(await this.toolbox.call(await session(), name, args ?? {}));
      } catch (thrown) {
        throw toRpcError(thrown, this.service, { path: MCP_PATH, tool: name });
      }
    });
    return server;
  }
}

const services = new WeakMap<EnvService, McpService>();

/** The {@link McpService} of `service`, made on first use. */
export function mcpServiceOf(service: EnvService): McpService {
  let mcp = services.get(service);
  if (mcp === undefined) {
    mcp = new McpService(service);
    services.set(service, mcp);
  }
  return mcp;
}
