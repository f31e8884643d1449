import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { CapacityExceededError, InvalidJsonError, MethodNotAllowedError } from '../../protocol/index.js';
import { bearerCheck, unauthorized, type TokenCheck } from '../bearer-auth.js';
import type { EnvService } from '../env-service.js';
import { errorReply } from '../error-reply.js';
import { writeReply } from '../http-reply.js';
import { readJsonBody } from '../json-body.js';
import type { CloseReason, Session } from '../session.js';
import { MCP_PATH, mcpServiceOf, type McpService } from './mcp-service.js';
import { RPC_ERROR } from './rpc-error.js';

/** The header naming an MCP session (Streamable HTTP). */
export const MCP_SESSION_HEADER = 'mcp-session-id';

/** One MCP session over Streamable HTTP: the SDK's transport and server, and its envbox session. */
interface OpenMcpSession {
  session: Session;
  transport: StreamableHTTPServerTransport;
  server: Server;
  /** Answers are JSON, not SSE: the client's initialize did not accept `text/event-stream`. */
  json: boolean;
}

/**
 * `POST|GET|DELETE /mcp`. With an `Mcp-Session-Id` header or an `initialize` request: MCP's
 * Streamable HTTP transport (the SDK's `StreamableHTTPServerTransport`, one per MCP session, each
 * MCP session one envbox session whose id is the `Mcp-Session-Id`); SSE answers by default, JSON
 * when the client's initialize accepts only `application/json`. Any other POST: OpenEnv's plain
 * JSON-RPC ({@link OpenEnvRpc}). The bearer token is required as on every route.
 */
export class McpHttpRoute {
  readonly #service: EnvService;
  readonly #mcp: McpService;
  readonly #authorized: TokenCheck;
  readonly #open = new Map<string, OpenMcpSession>();
  readonly #onSessionClosed: (session: Session, reason: CloseReason) => void;

  constructor(service: EnvService) {
    this.#service = service;
    this.#mcp = mcpServiceOf(service);
    this.#authorized = bearerCheck(service.config.token);
    // A session closed by the manager (idleness, DELETE /sessions, shutdown) ends its MCP session.
    this.#onSessionClosed = (session, reason) => void this.#forget(session.id, reason);
    service.sessions.on('session-closed', this.#onSessionClosed);
  }

  /** MCP sessions open over Streamable HTTP. */
  get size(): number {
    return this.#open.size;
  }

  /** Serve `request` when it is for `/mcp` (with or without a query string). @returns whether it was */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    const url = request.url ?? '';
    const query = url.indexOf('?');
    if ((query === -1 ? url : url.slice(0, query)) !== MCP_PATH) return false;
    void this.#serve(request, response);
    return true;
  }

  /** Close every MCP session: its transport (ending its SSE streams), then its envbox session. Idempotent. */
  async close(): Promise<void> {
    this.#service.sessions.off('session-closed', this.#onSessionClosed);
    await Promise.all([...this.#open.keys()].map((id) => this.#forget(id, 'shutdown')));
  }

  async #serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      if (!this.#authorized(request.headers.authorization)) throw unauthorized(request.headers.authorization);
      const header = request.headers[MCP_SESSION_HEADER];
      const sessionId = Array.isArray(header) ? header[0] : header;
      if (request.method === 'POST') {
        await this.#post(request, response, sessionId);
        return;
      }
      if (request.method !== 'GET' && request.method !== 'DELETE') {
        response.setHeader('Allow', 'GET, POST, DELETE');
        throw new MethodNotAllowedError(`${request.method} is not allowed on ${MCP_PATH}; allowed: GET, POST, DELETE.`);
      }
      if (sessionId === undefined) {
        rpcReply(response, 400, RPC_ERROR.server, `${request.method} ${MCP_PATH} needs the Mcp-Session-Id header of an initialized MCP session; start one with an initialize POST.`);
        return;
      }
      const open = this.#open.get(sessionId);
      if (open === undefined) {
        rpcReply(response, 404, -32001, 'Session not found');
        return;
      }
      if (acceptsAnything(request)) acceptBoth(request);
      await open.transport.handleRequest(request, response);
    } catch (thrown) {
      const reply = errorReply(thrown, this.#service, { method: request.method, path: MCP_PATH });
      if (!response.headersSent) writeReply(response, reply);
    }
  }

  async #post(request: IncomingMessage, response: ServerResponse, sessionId: string | undefined): Promise<void> {
    let body: unknown;
    try {
      body = await readJsonBody(request, this.#service.config.maxBodyBytes);
    } catch (error) {
      if (!(error instanceof InvalidJsonError)) throw error;
      this.#service.metrics.recordError(error.code);
      writeReply(response, { status: sessionId === undefined ? 200 : 400, headers: {}, body: this.#mcp.rpc.parseError(error.message) });
      return;
    }
    if (sessionId !== undefined) {
      const open = this.#open.get(sessionId);
      if (open === undefined) {
        rpcReply(response, 404, -32001, 'Session not found');
        return;
      }
      if (open.json || acceptsAnything(request)) acceptBoth(request);
      await open.transport.handleRequest(request, response, body);
      return;
    }
    if (isInitializeRequest(body)) {
      await this.#initialize(request, response, body);
      return;
    }
    writeReply(response, { status: 200, headers: {}, body: await this.#mcp.rpc.handle(body) });
  }

  /** Open an MCP session (and its envbox session) for an initialize request, and answer it. */
  async #initialize(request: IncomingMessage, response: ServerResponse, body: unknown): Promise<void> {
    let session: Session;
    try {
      session = await this.#service.sessions.create('mcp');
    } catch (error) {
      if (!(error instanceof CapacityExceededError)) throw error;
      const { error: wire } = errorReply(error, this.#service, { method: 'POST', path: MCP_PATH }).body;
      rpcReply(response, 503, RPC_ERROR.server, wire.message, { code: wire.code, ...(wire.details as object) }, { 'Retry-After': String(error.retryAfterS) });
      return;
    }
    const json = !acceptsSse(request);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => session.id,
      enableJsonResponse: json,
      // DELETE /mcp: the client ends its MCP session, and so its envbox session.
      onsessionclosed: (id) => this.#service.sessions.close(id, 'client'),
    });
    const server = this.#mcp.createServer(() => session);
    const open: OpenMcpSession = { session, transport, server, json };
    this.#open.set(session.id, open);
    transport.onclose = () => void this.#forget(session.id, 'client');
    try {
      await server.connect(transport);
      if (json || acceptsAnything(request)) acceptBoth(request);
      await transport.handleRequest(request, response, body);
    } finally {
      // A refused initialize (bad params, wrong headers) or a failure opened no MCP session: free its envbox session.
      if (transport.sessionId === undefined) await this.#forget(session.id, 'client');
    }
  }

  /** Drop an MCP session: close its transport and server, then its envbox session (for `reason`). */
  async #forget(id: string, reason: CloseReason): Promise<void> {
    const open = this.#open.get(id);
    if (open === undefined) return;
    this.#open.delete(id);
    try {
      await open.server.close();
    } finally {
      await this.#service.sessions.close(id, reason);
    }
  }
}

/** Whether a request's `Accept` takes an SSE stream (or anything). */
function acceptsSse(request: IncomingMessage): boolean {
  return acceptsAnything(request) || /text\/event-stream/.test(request.headers.accept ?? '');
}

/** Whether a request's `Accept` is absent or takes any media type (which the SDK's transport would refuse, 406). */
function acceptsAnything(request: IncomingMessage): boolean {
  const accept = request.headers.accept;
  return accept === undefined || /\*\/\*/.test(accept);
}

/**
 * Make a JSON-answered session's request acceptable to the SDK's transport, which wants both media
 * types listed even when it answers JSON: its `Accept` (parsed and raw) becomes both.
 */
function acceptBoth(request: IncomingMessage): void {
  const both = 'application/json, text/event-stream';
  request.headers.accept = both;
  const raw = request.rawHeaders;
  let found = false;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'accept') {
      raw[i + 1] = both;
      found = true;
    }
  }
  if (!found) raw.push('Accept', both);
}

/** A JSON-RPC error reply without a request id, as the SDK's transport writes its own. */
function rpcReply(response: ServerResponse, status: number, code: number, message: string, data?: unknown, headers: Record<string, string> = {}): void {
  const error = data === undefined ? { code, message } : { code, message, data };
  writeReply(response, { status, headers, body: { jsonrpc: '2.0', error, id: null } });
}
