import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerClientErrors } from './client-error.js';
import { createApp, type CreateAppOptions, type EnvboxApp } from './app.js';
import { DEFAULT_HOST, type AppConfigInput } from './config.js';
import type { AnyEnvDefinition } from '../protocol/index.js';
import type { EnvService } from './env-service.js';
import { McpHttpRoute } from './mcp/mcp-http.js';
import { createHotRoutes } from './operation-routes.js';
import { WsEndpoint } from './ws-endpoint.js';

/** How long `close()` lets in-flight HTTP requests finish before cutting their connections. @default 5 s */
export const DEFAULT_CLOSE_GRACE_MS = 5_000;

/** Where {@link startServer} listens, plus the app's configuration. */
export interface StartServerOptions extends AppConfigInput, CreateAppOptions {
  /** Port; 0 picks a free one. @default 0 */
  port?: number;
  /** Address to bind. @default '127.0.0.1' */
  host?: string;
}

/** A running envbox server: HTTP routes, `/ws` and MCP (`/mcp`, `WS /mcp`) on one port. */
export class EnvboxServer {
  readonly app: EnvboxApp;
  readonly http: Server;
  readonly ws: WsEndpoint;
  /** MCP over HTTP (Streamable HTTP and OpenEnv's plain JSON-RPC) at `/mcp`. */
  readonly mcp: McpHttpRoute | undefined;
  #closing: Promise<void> | undefined;

  constructor(app: EnvboxApp, http: Server, ws: WsEndpoint, mcp?: McpHttpRoute) {
    this.app = app;
    this.http = http;
    this.ws = ws;
    this.mcp = mcp;
  }

  /** What the server serves (sessions, protocol, metrics, logger, configuration), shared by HTTP and `/ws`. */
  get service(): EnvService {
    return this.app.service;
  }

  /** The port listened on. */
  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  /** Base URL, e.g. `http://127.0.0.1:8000`. */
  get url(): string {
    const { address, family } = this.http.address() as AddressInfo;
    return `http://${family === 'IPv6' ? `[${address}]` : address}:${this.port}`;
  }

  /**
   * Stop accepting connections, close idle keep-alive connections and WebSockets, let in-flight
   * requests finish for up to `graceMs`, then close every session. Idempotent.
   */
  close(graceMs = DEFAULT_CLOSE_GRACE_MS): Promise<void> {
    this.#closing ??= this.#close(graceMs);
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.ws.close();
    this.http.closeIdleConnections();
    const grace = setTimeout(() => this.http.closeAllConnections(), graceMs);
    try {
      // MCP sessions hold SSE streams open: end them, or the close would wait out the grace.
      await this.mcp?.close();
      this.http.closeIdleConnections();
      await closed;
    } finally {
      clearTimeout(grace);
      await this.app.close();
    }
  }
}

/**
 * Serve `definition` over HTTP and WebSocket on one port.
 * @throws {Error} when the port cannot be bound (e.g. `EADDRINUSE`)
 */
export async function startServer(definition: AnyEnvDefinition, options: StartServerOptions = {}): Promise<EnvboxServer> {
  const { port = 0, host = DEFAULT_HOST, logger, ...config } = options;
  const app = createApp(definition, config, logger === undefined ? {} : { logger });
  const { service } = app;
  const koa = app.callback();
  const hot = createHotRoutes(service);
  const mcp = new McpHttpRoute(service);
  const { requestTimeoutMs } = service.config;
  // Node checks request timeouts on this interval, so it bounds how late a 408 can come.
  const connectionsCheckingInterval = Math.min(30_000, Math.max(100, requestTimeoutMs / 4));
  const http = createServer({ connectionsCheckingInterval }, (request, response) => {
    if (!hot(request, response) && !mcp.handle(request, response)) void koa(request, response);
  });
  // Keep-alive connections outlive Node's 5 s default between an agent's steps.
  http.keepAliveTimeout = 65_000;
  answerClientErrors(http, service);
  const ws = new WsEndpoint(service, http);
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, host, () => {
        http.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    ws.close();
    await mcp.close();
    await app.close();
    throw error;
  }
  http.on('error', (error) => service.logger.error('http server error', { error }));
  return new EnvboxServer(app, http, ws, mcp);
}
