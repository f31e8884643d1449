import type { AnyEnvDefinition } from '../protocol/index.js';
import type { AppConfig } from './config.js';
import type { Logger } from './logger.js';
import { AppMetrics } from './metrics.js';
import { EnvProtocol } from './protocol.js';
import { SessionManager } from './session-manager.js';

/**
 * Everything that serves one environment, whatever the transport: its definition, the server's
 * configuration, the logger, the sessions, the protocol (reset, step, state) and the metrics.
 * Koa's routes, the HTTP fast path and the WebSocket endpoint all work on one of these; none of
 * them owns it. Close it with {@link EnvService.close}.
 */
export class EnvService {
  readonly definition: AnyEnvDefinition;
  readonly config: AppConfig;
  readonly logger: Logger;
  readonly sessions: SessionManager;
  readonly protocol: EnvProtocol;
  /** This service's Prometheus metrics (its own registry), served at `GET /metrics`. */
  readonly metrics: AppMetrics;
  readonly #closed = new AbortController();
  #closing: Promise<void> | undefined;

  /** @param config parsed already (see {@link AppConfig}) */
  constructor(definition: AnyEnvDefinition, config: AppConfig, logger: Logger) {
    this.definition = definition;
    this.config = config;
    this.logger = logger;
    this.sessions = new SessionManager(definition, { ...config, logger });
    this.metrics = new AppMetrics(definition, this.sessions);
    this.protocol = new EnvProtocol(definition, config, this.metrics);
  }

  /**
   * Close every session (and so every environment instance), then the definition's shared
   * resources, even when closing the sessions failed. Idempotent: every call gets the first one's promise.
   */
  /** Aborted when the service starts closing: work that belongs to no session (batch judging) stops with it. */
  get closing(): AbortSignal {
    return this.#closed.signal;
  }

  close(): Promise<void> {
    this.#closed.abort(new Error('the server is closing'));
    this.#closing ??= (async () => {
      try {
        await this.sessions.closeAll();
      } finally {
        await this.definition.close?.();
      }
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
