import Router from '@koa/router';
import Koa from 'koa';
import type { AnyEnvDefinition, HealthResponse } from '../protocol/index.js';
import { MethodNotAllowedError, NotFoundError, UpgradeRequiredError } from '../protocol/index.js';
import { bearerAuthMiddleware } from './bearer-auth.js';
import { AppConfig, type AppConfigInput } from './config.js';
import { EnvService } from './env-service.js';
import { errorReply } from './error-reply.js';
import { COMMON_HEADERS } from './http-reply.js';
import { createLogger, type Logger } from './logger.js';
import { type AppMetrics, METRICS_PATH } from './metrics.js';
import { openApiDocument, OPENAPI_PATH } from './openapi.js';
import { registerOperationRoutes } from './operation-routes.js';
import { registerTaskRoutes } from './task-routes.js';
import type { EnvProtocol } from './protocol.js';
import type { SessionManager } from './session-manager.js';
import { registerWebInterface } from './web-interface.js';

/** Options of {@link createApp} that are not wire configuration. */
export interface CreateAppOptions {
  /** Where the server logs; by default JSON lines on stderr at `config.logLevel`. */
  logger?: Logger;
}

/**
 * The Koa app serving one environment over the OpenEnv protocol. What it serves lives in its
 * {@link EnvService}, which the HTTP fast path and the WebSocket endpoint share; the getters here
 * reach into it. Close it with {@link EnvboxApp.close}.
 */
export class EnvboxApp extends Koa {
  /** The sessions, protocol, metrics, logger and configuration this app serves. */
  readonly service: EnvService;

  constructor(service: EnvService) {
    super({ proxy: false });
    this.service = service;
    // Koa logs every error it sees by default; errors are logged once, by errorReply.
    this.silent = true;
  }

  get definition(): AnyEnvDefinition {
    return this.service.definition;
  }

  get config(): AppConfig {
    return this.service.config;
  }

  get logger(): Logger {
    return this.service.logger;
  }

  get sessions(): SessionManager {
    return this.service.sessions;
  }

  get protocol(): EnvProtocol {
    return this.service.protocol;
  }

  /** This app's Prometheus metrics (its own registry), served at `GET /metrics`. */
  get metrics(): AppMetrics {
    return this.service.metrics;
  }

  /** Close the service: every session (and so every environment instance), then the definition's shared resources. Idempotent. */
  close(): Promise<void> {
    return this.service.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Build the Koa app that serves `definition`: `POST /reset`, `POST /step`, `GET /state`,
 * `GET /health`, `GET /metrics`, `GET /metadata`, `GET /schema`, `GET /openapi.json`, `POST /sessions`, `DELETE /sessions/:id`, OpenEnv's Task API and `POST /evaluate` (see `registerTaskRoutes`), and
 * with `config.web` the web interface at `GET /web`.
 * The WebSocket endpoint `/ws` is attached to the HTTP server by `startServer`.
 * @throws {z.ZodError} when `config` is invalid
 */
export function createApp(definition: AnyEnvDefinition, config: AppConfigInput = {}, options: CreateAppOptions = {}): EnvboxApp {
  const parsed = AppConfig.parse(config);
  const service = new EnvService(definition, parsed, options.logger ?? createLogger(parsed.logLevel));
  const app = new EnvboxApp(service);
  const { sessions, protocol, metrics } = service;
  const router = new Router();

  registerOperationRoutes(router, service);
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
    ctx.type = metrics.contentType;
    ctx.body = await metrics.scrape();
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
  // After every fixed route: `/:env/splits` and the like must not shadow them.
  registerTaskRoutes(router, service);
  router.get('/ws', () => {
    throw new UpgradeRequiredError('GET /ws is a WebSocket endpoint; connect with a WebSocket client.');
  });

  app.use(errorMiddleware(service));
  if (parsed.token !== undefined) app.use(bearerAuthMiddleware(parsed.token));
  // Sets 405/501 and the Allow header; the error middleware turns them into the envelope.
  app.use(router.allowedMethods());
  app.use(router.routes());
  return app;
}

/** Turn anything thrown below into the error envelope (see {@link errorReply}), and 404 unknown routes. */
function errorMiddleware(service: EnvService): Koa.Middleware {
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
      const reply = errorReply(thrown, service, { method: ctx.method, path: ctx.path });
      ctx.set(reply.headers);
      ctx.status = reply.status;
      ctx.body = reply.body;
    }
  };
}
