import Router from '@koa/router';
import Koa from 'koa';
import { bearerAuthMiddleware } from './bearer-auth.js';
import { AppConfig, type AppConfigInput } from './config.js';
import type { AnyEnvDefinition } from '../protocol/index.js';
import { EnvboxError, MethodNotAllowedError, NotFoundError, SessionNotFoundError } from '../protocol/index.js';
import { errorReply } from './error-reply.js';
import { readJsonBody } from './json-body.js';
import { createLogger, type Logger } from './logger.js';
import { AppMetrics, METRICS_PATH } from './metrics.js';
import type { HealthResponse } from '../protocol/index.js';
import { openApiDocument, OPENAPI_PATH } from './openapi.js';
import { EnvProtocol } from './protocol.js';
import type { Session } from './session.js';
import { SessionManager } from './session-manager.js';
import { registerWebInterface } from './web-interface.js';

/** Header naming the session a plain HTTP request acts on. */
export const SESSION_HEADER = 'x-session-id';

/** Options of {@link createApp} that are not wire configuration. */
export interface CreateAppOptions {
  /** Where the server logs; by default JSON lines on stderr at `config.logLevel`. */
  logger?: Logger;
}

/**
 * The Koa app serving one environment over the OpenEnv protocol, with the session manager and
 * protocol it shares with the WebSocket endpoint. Close it with {@link EnvboxApp.close}.
 */
export class EnvboxApp extends Koa {
  readonly definition: AnyEnvDefinition;
  readonly config: AppConfig;
  readonly logger: Logger;
  readonly sessions: SessionManager;
  readonly protocol: EnvProtocol;
  /** This app's Prometheus metrics (its own registry), served at `GET /metrics`. */
  readonly metrics: AppMetrics;

  constructor(definition: AnyEnvDefinition, config: AppConfig, logger: Logger) {
    super({ proxy: false });
    this.definition = definition;
    this.config = config;
    this.logger = logger;
    this.sessions = new SessionManager(definition, { ...config, logger });
    this.metrics = new AppMetrics(definition, this.sessions);
    this.protocol = new EnvProtocol(definition, config, this.metrics);
    // Koa logs every error it sees by default; errors are logged once, by our error middleware.
    this.silent = true;
  }

  /** Close every session (and so every environment instance), then the definition's shared resources. Idempotent. */
  async close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.sessions.closeAll();
      await this.definition.close?.();
    })();
    await this.#closing;
  }

  #closing: Promise<void> | undefined;

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * The session a request acts on, from its `X-Session-Id` header: the default session when the
   * header is absent.
   * @throws {SessionNotFoundError} for an empty or unknown id
   */
  async sessionFor(header: string | string[] | undefined): Promise<Session> {
    if (header === undefined) return this.sessions.defaultSession();
    const id = Array.isArray(header) ? header.join(', ') : header;
    if (id === '') {
      throw new SessionNotFoundError('Header X-Session-Id is empty; send the id POST /sessions returned, or omit the header.');
    }
    return this.sessions.get(id);
  }
}

/**
 * Build the Koa app that serves `definition`: `POST /reset`, `POST /step`, `GET /state`,
 * `GET /health`, `GET /metrics`, `GET /metadata`, `GET /schema`, `GET /openapi.json`, `POST /sessions`, `DELETE /sessions/:id`, and
 * with `config.web` the web interface at `GET /web`.
 * The WebSocket endpoint `/ws` is attached to the HTTP server by `startServer`.
 * @throws {z.ZodError} when `config` is invalid
 */
export function createApp(definition: AnyEnvDefinition, config: AppConfigInput = {}, options: CreateAppOptions = {}): EnvboxApp {
  const parsed = AppConfig.parse(config);
  const app = new EnvboxApp(definition, parsed, options.logger ?? createLogger(parsed.logLevel));
  const { sessions, protocol } = app;
  const router = new Router();

  const sessionOf = (ctx: Koa.Context): Promise<Session> => app.sessionFor(ctx.headers[SESSION_HEADER]);
  const body = (ctx: Koa.Context): Promise<unknown> => readJsonBody(ctx.req, parsed.maxBodyBytes);

  router.post('/reset', async (ctx) => {
    const payload = await body(ctx);
    ctx.body = await protocol.reset(await sessionOf(ctx), payload);
  });
  router.post('/step', async (ctx) => {
    const payload = await body(ctx);
    ctx.body = await protocol.step(await sessionOf(ctx), payload);
  });
  router.get('/state', async (ctx) => {
    ctx.body = await protocol.state(await sessionOf(ctx));
  });
  router.get('/health', (ctx) => {
    const health: HealthResponse = {
      status: 'healthy',
      env: definition.name,
      version: definition.version,
      active_sessions: sessions.size,
      max_sessions: sessions.maxSessions,
      ...definition.health?.(),
    };
    ctx.body = health;
  });
  router.get(METRICS_PATH, async (ctx) => {
    ctx.type = app.metrics.contentType;
    ctx.body = await app.metrics.scrape();
  });
  router.get('/metadata', (ctx) => {
    ctx.body = protocol.metadata;
  });
  router.get('/schema', (ctx) => {
    ctx.body = protocol.schemas;
  });
  // Built on first request: a server nobody asks for its document never pays for it.
  let openApi: Record<string, unknown> | undefined;
  router.get(OPENAPI_PATH, (ctx) => {
    openApi ??= openApiDocument(definition, protocol, parsed);
    ctx.body = openApi;
  });
  router.post('/sessions', async (ctx) => {
    const session = await sessions.create('http');
    ctx.status = 201;
    ctx.body = { session_id: session.id };
  });
  router.delete('/sessions/:id', async (ctx) => {
    const session = sessions.get(ctx.params.id ?? '');
    // Answer at once; a running step finishes (its signal aborted) and then the environment closes.
    void sessions.close(session.id, 'client');
    ctx.body = { session_id: session.id, closed: true };
  });
  if (parsed.web) registerWebInterface(router);
  router.get('/ws', () => {
    throw new EnvboxError('UPGRADE_REQUIRED', 426, 'GET /ws is a WebSocket endpoint; connect with a WebSocket client.');
  });

  app.use(errorMiddleware(app.logger, app.metrics));
  if (parsed.token !== undefined) app.use(bearerAuthMiddleware(parsed.token));
  // Sets 405/501 and the Allow header; the error middleware turns them into the envelope.
  app.use(router.allowedMethods());
  app.use(router.routes());
  return app;
}

/** Headers every response carries. */
export const COMMON_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
});

/** Turn anything thrown below into the error envelope (see {@link errorReply}), and 404 unknown routes. */
function errorMiddleware(logger: Logger, metrics: AppMetrics): Koa.Middleware {
  return async (ctx, next) => {
    ctx.set(COMMON_HEADERS);
    try {
      await next();
      if (ctx.body == null && ctx.status === 404) {
        throw new NotFoundError(`No route ${ctx.method} ${ctx.path.slice(0, 200)}; see the README for the routes.`);
      }
      if (ctx.body == null && (ctx.status === 405 || ctx.status === 501)) {
        throw new MethodNotAllowedError(`${ctx.method} is not allowed on ${ctx.path}; allowed: ${ctx.response.get('Allow')}.`);
      }
    } catch (thrown) {
      const reply = errorReply(thrown, logger, ctx.method, ctx.path);
      metrics.recordError(reply.body.error.code);
      ctx.set(reply.headers);
      ctx.status = reply.status;
      ctx.body = reply.body;
    }
  };
}
