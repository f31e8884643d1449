import type { AnyEnvDefinition, EnvFactory } from '../../protocol/index.js';
import type { LogLevel } from '../config.js';
import { createLogger } from '../logger.js';
import { startServer } from '../server.js';
import type { ValidationReport } from './report.js';
import { validateServer, type ValidateServerOptions } from './validate-server.js';

/** Options of {@link validateEnvironment}. */
export interface ValidateEnvironmentOptions extends Omit<ValidateServerOptions, 'token'> {
  /** A factory's options, as its schema takes them (defaults apply). @default {} */
  options?: unknown;
  /** The server's log level while the kit runs (its JSON lines go to stderr). @default 'error' */
  logLevel?: LogLevel;
  /** Called with the server's URL once it listens, before the checks. */
  onListening?(url: string): void;
}

/**
 * The conformance kit against a local environment: serve `environment` (a definition, or a
 * factory built with `options`) on a free loopback port, with every guarantee `envbox serve`
 * gives, run every check of {@link validateServer} over real HTTP and WebSocket, then stop the
 * server (which closes the definition). What `envbox validate <path>` and a created package's own
 * test run.
 * @example
 * import { formatReport, validateEnvironment } from 'envbox/testing';
 * import blackjack from '../src/index.js';
 * const report = await validateEnvironment(blackjack);
 * assert.ok(report.passed, formatReport(report));
 */
export async function validateEnvironment(environment: AnyEnvDefinition | EnvFactory, options: ValidateEnvironmentOptions = {}): Promise<ValidationReport> {
  const { options: factoryOptions = {}, logLevel = 'error', onListening, ...validate } = options;
  const logger = createLogger(logLevel);
  let definition: AnyEnvDefinition;
  if ('action' in environment) definition = environment;
  else definition = await environment.create(environment.options === undefined ? {} : environment.options.parse(factoryOptions), { logger });
  const server = await startServer(definition, { port: 0, host: '127.0.0.1', logger });
  try {
    onListening?.(server.url);
    return await validateServer(server.url, validate);
  } finally {
    await server.close();
  }
}
