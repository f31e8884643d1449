import type { RawData, WebSocket } from 'ws';
import { InvalidJsonError } from '../../protocol/index.js';
import { parseJson } from '../json-body.js';
import type { Session } from '../session.js';
import type { McpService } from './mcp-service.js';
import type { RpcResponse } from './openenv-rpc.js';

/**
 * Serve MCP on a `WS /mcp` connection in its own session, as OpenEnv does: each text message is
 * a JSON-RPC request answered by one JSON-RPC response ({@link OpenEnvRpc}), in order; a message
 * that is not JSON gets -32700. Messages wait for `opening` (the session being opened); none is
 * answered if it failed (the caller has closed the socket).
 * @param onMessage called on every message (the keep-alive counts it as a sign of life)
 */
export function serveMcpSocket(ws: WebSocket, opening: Promise<Session | undefined>, mcp: McpService, onMessage: () => void): void {
  let queue: Promise<unknown> = opening;
  ws.on('message', (data: RawData) => {
    onMessage();
    queue = queue.then(async () => {
      const session = await opening;
      if (session === undefined || ws.readyState !== ws.OPEN) return;
      const reply = await answer(mcp, session, data);
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(reply));
    });
  });
}

async function answer(mcp: McpService, session: Session, data: RawData): Promise<RpcResponse> {
  let message: unknown;
  try {
    message = parseJson(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer), 'Message');
  } catch (error) {
    if (!(error instanceof InvalidJsonError)) throw error;
    mcp.service.metrics.recordError(error.code);
    return mcp.rpc.parseError(error.message);
  }
  return mcp.rpc.handle(message, { session });
}
