import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { CapacityExceededError, InvalidRequestError, NotFoundError, toEnvboxError, WsClientMessage, type WireError, type WsServerMessage } from '../protocol/index.js';
import { bearerCheck, unauthorized, type TokenCheck } from './bearer-auth.js';
import type { EnvService } from './env-service.js';
import { errorReply } from './error-reply.js';
import { MCP_PATH, mcpServiceOf } from './mcp/mcp-service.js';
import { serveMcpSocket } from './mcp/mcp-websocket.js';
import { toRpcError } from './mcp/rpc-error.js';
import { rawReply } from './http-reply.js';
import { parseJson } from './json-body.js';
import { validate } from './protocol.js';
import type { CloseReason, Session } from './session.js';

/** Path of the WebSocket endpoint. */
export const WS_PATH = '/ws';

/** WebSocket close codes the server uses. */
export const WS_CLOSE = {
  /** Client sent `close`, or the session was closed on purpose. */
  normal: 1000,
  /** The server is shutting down. */
  goingAway: 1001,
  /** The session was closed for idleness. */
  idle: 4000,
  /** The server is at capacity: retry later. */
  tryAgainLater: 1013,
} as const;

const MESSAGE_TYPES = WsClientMessage.options.map((option) => option.shape.type.value);

/**
 * The `/ws` endpoint: one session per connection (the upgrade needs the bearer token when the
 * server has one), the OpenEnv message protocol, ping/pong
 * keep-alive that drops dead peers and frees their sessions. `WS /mcp` connections get the same
 * sessions, token check and keep-alive, and speak OpenEnv's JSON-RPC (see `serveMcpSocket`).
 */
export class WsEndpoint {
  readonly #service: EnvService;
  readonly #wss: WebSocketServer;
  readonly #sockets = new Map<string, WebSocket>();
  readonly #alive = new WeakSet<WebSocket>();
  readonly #heartbeat: NodeJS.Timeout;
  readonly #authorized: TokenCheck;
  readonly #onSessionClosed: (session: Session, reason: CloseReason) => void;

  constructor(service: EnvService, server: Server) {
    this.#service = service;
    this.#authorized = bearerCheck(service.config.token);
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: service.config.maxBodyBytes, perMessageDeflate: false });
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(request, socket, head));
    this.#heartbeat = setInterval(() => this.#ping(), service.config.wsPingIntervalMs);
    this.#heartbeat.unref();
    // Sessions closed by the manager (idleness, shutdown) take their socket with them.
    this.#onSessionClosed = (session, reason) => {
      const socket = this.#sockets.get(session.id);
      if (socket === undefined) return;
      this.#sockets.delete(session.id);
      if (reason === 'idle') socket.close(WS_CLOSE.idle, 'session closed: idle');
      else if (reason === 'shutdown') socket.close(WS_CLOSE.goingAway, 'server shutting down');
      else socket.close(WS_CLOSE.normal, 'session closed');
    };
    service.sessions.on('session-closed', this.#onSessionClosed);
  }

  /** Open WebSocket connections. */
  get size(): number {
    return this.#wss.clients.size;
  }

  /** Stop the heartbeat and close every connection with 1001. Idempotent. */
  close(): void {
    clearInterval(this.#heartbeat);
    this.#service.sessions.off('session-closed', this.#onSessionClosed);
    for (const socket of this.#wss.clients) socket.close(WS_CLOSE.goingAway, 'server shutting down');
    this.#wss.close();
  }

  #upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (request.url ?? '').split('?', 1)[0] ?? '';
    // Refused before the handshake: a plain HTTP reply with the error envelope, no WebSocket.
    const refusal =
      path !== WS_PATH && path !== MCP_PATH
        ? new NotFoundError(`No WebSocket endpoint at ${path.slice(0, 200)}; connect to ${WS_PATH} (or ${MCP_PATH} for MCP).`)
        : this.#authorized(request.headers.authorization)
          ? undefined
          : unauthorized(request.headers.authorization);
    if (refusal !== undefined) {
      socket.end(rawReply(errorReply(refusal, this.#service, { method: request.method, path })));
      return;
    }
    this.#wss.handleUpgrade(request, socket, head, (ws) => this.#connect(ws, path === MCP_PATH));
  }

  #connect(ws: WebSocket, mcp = false): void {
    this.#alive.add(ws);
    ws.on('pong', () => this.#alive.add(ws));
    ws.on('error', (error) => this.#service.logger.debug('websocket error', { error }));
    const opening = this.#service.sessions.create('ws');
    let session: Session | undefined;
    // Messages are handled strictly in order, so replies come back in the order of the requests.
    let queue: Promise<void> = opening.then(
      (opened) => {
        session = opened;
        if (ws.readyState !== ws.OPEN) {
          void this.#service.sessions.close(opened.id, 'disconnect');
          return;
        }
        this.#sockets.set(opened.id, ws);
      },
      (error: unknown) => {
        const capacity = error instanceof CapacityExceededError;
        if (mcp) {
          // As OpenEnv's WS /mcp: a JSON-RPC error (-32000, data: active_sessions, max_sessions), then close.
          const rpc = toRpcError(error, this.#service, { path: MCP_PATH });
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: rpc.code, message: rpc.message, data: rpc.data ?? null } }));
        } else this.#sendError(ws, error, {});
        ws.close(capacity ? WS_CLOSE.tryAgainLater : WS_CLOSE.normal, toEnvboxError(error).code);
      },
    );
    if (mcp) {
      serveMcpSocket(ws, queue.then(() => session), mcpServiceOf(this.#service), () => this.#alive.add(ws));
    } else {
      ws.on('message', (data: RawData, isBinary: boolean) => {
        this.#alive.add(ws);
        queue = queue.then(async () => {
          if (session === undefined || ws.readyState !== ws.OPEN) return;
          await this.#handle(ws, session, data, isBinary);
        });
      });
    }
    ws.on('close', () => {
      void opening.then(
        (opened) => {
          this.#sockets.delete(opened.id);
          return this.#service.sessions.close(opened.id, 'disconnect');
        },
        () => undefined,
      );
    });
  }

  async #handle(ws: WebSocket, session: Session, data: RawData, isBinary: boolean): Promise<void> {
    const { protocol } = this.#service;
    try {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      const json = parseJson(bytes, isBinary ? 'Binary message' : 'Message');
      const message = validate(WsClientMessage, checkType(json), 'Message');
      switch (message.type) {
        case 'reset':
          this.#send(ws, { type: 'observation', data: await protocol.reset(session, message.data ?? {}) });
          return;
        case 'step':
          this.#send(ws, { type: 'observation', data: await protocol.stepAction(session, message.data, message.timeout_s) });
          return;
        case 'state':
          this.#send(ws, { type: 'state', data: (await protocol.state(session)) as Record<string, unknown> });
          return;
        case 'close':
          this.#sockets.delete(session.id);
          await this.#service.sessions.close(session.id, 'client');
          ws.close(WS_CLOSE.normal, 'closed by client');
          return;
        case 'mcp':
          this.#send(ws, { type: 'mcp', data: { ...(await mcpServiceOf(this.#service).rpc.handle(message.data, { session })) } });
          return;
      }
    } catch (thrown) {
      this.#sendError(ws, thrown, { session_id: session.id });
    }
  }

  /** Answer `thrown` with an error frame (see {@link errorReply}); returns what was sent. */
  #sendError(ws: WebSocket, thrown: unknown, origin: Record<string, unknown>): WireError {
    const { error } = errorReply(thrown, this.#service, { path: WS_PATH, ...origin }).body;
    this.#send(ws, { type: 'error', data: error });
    return error;
  }

  #send(ws: WebSocket, message: WsServerMessage): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
  }

  #ping(): void {
    for (const ws of this.#wss.clients) {
      if (!this.#alive.has(ws)) {
        // No pong (nor message) since the last ping: the peer is gone; `close` frees its session.
        this.#service.logger.info('websocket peer unresponsive; dropping it', {});
        ws.terminate();
        continue;
      }
      this.#alive.delete(ws);
      ws.ping();
    }
  }
}

/** Give an unknown `type` a message of its own, rather than zod's generic union failure. */
function checkType(json: unknown): unknown {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InvalidRequestError(`Message must be a JSON object such as {"type": "reset", "data": {}}.`);
  }
  const type = (json as { type?: unknown }).type;
  if (typeof type !== 'string' || !MESSAGE_TYPES.includes(type as (typeof MESSAGE_TYPES)[number])) {
    const shown = JSON.stringify(type ?? null).slice(0, 80);
    throw new InvalidRequestError(`Unknown message type ${shown}; expected one of ${MESSAGE_TYPES.join(', ')}.`, {
      details: { type: type ?? null, expected: MESSAGE_TYPES },
    });
  }
  return json;
}
