// The protocol floor, re-exported for the server's users (tests, the package API).
export * from '../protocol/index.js';
export { createApp, EnvboxApp } from './app.js';
export type { CreateAppOptions } from './app.js';
export { EnvService } from './env-service.js';
export { errorReply } from './error-reply.js';
export type { ErrorReply } from './error-reply.js';
export { COMMON_HEADERS } from './http-reply.js';
export { createHotRoutes, SESSION_HEADER } from './operation-routes.js';
export { runCli, EXIT_USAGE } from './cli.js';
export type { CliCommand, CliContext, CliOutcome } from './cli.js';
export {
  AppConfig,
  ConfigError,
  DEFAULT_HOST,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_PORT,
  DEFAULT_SESSION_IDLE_MS,
  DEFAULT_STEP_TIMEOUT_MS,
  DEFAULT_WS_PING_INTERVAL_MS,
  LogLevel,
  envOptionSpecs,
  parseEnvOptions,
  parseServeConfig,
  SERVE_OPTIONS,
  ServeConfig,
} from './config.js';
export type { AppConfigInput, OptionSpec, ServeConfigInput } from './config.js';
export { BEARER_CHALLENGE, bearerCheck } from './bearer-auth.js';
export type { TokenCheck } from './bearer-auth.js';
export { createLogger } from './logger.js';
export type { Logger } from './logger.js';
export { AppMetrics, METRICS_PATH, NO_EXIT_CODE_LABEL, STEP_DURATION_BUCKETS_S } from './metrics.js';
export type { Registry as MetricsRegistry } from 'prom-client';
export { OPENAPI_PATH, OPENENV_HTTP_API_VERSION, openApiDocument } from './openapi.js';
export { EnvProtocol, serializeObservation, validate } from './protocol.js';
export type { EnvSchemas, WireIssue } from './protocol.js';
export { Session } from './session.js';
export type { CloseReason, SessionKind } from './session.js';
export { CAPACITY_RETRY_AFTER_S, DEFAULT_SESSION_ID, SessionManager } from './session-manager.js';
export type { SessionManagerEvents, SessionManagerOptions } from './session-manager.js';
export { DEFAULT_CLOSE_GRACE_MS, EnvboxServer, startServer } from './server.js';
export type { StartServerOptions } from './server.js';
export { WS_CLOSE, WS_PATH, WsEndpoint } from './ws-endpoint.js';
export { registerWebInterface, WEB_CONTENT_SECURITY_POLICY, WEB_HEADERS, WEB_PATH } from './web-interface.js';
export { MCP_PATH, McpService, mcpServiceOf } from './mcp/mcp-service.js';
export { MCP_SESSION_HEADER, McpHttpRoute } from './mcp/mcp-http.js';
export { OpenEnvRpc } from './mcp/openenv-rpc.js';
export type { RpcResponse, RpcScope } from './mcp/openenv-rpc.js';
export { RPC_ERROR, RpcError, toRpcError } from './mcp/rpc-error.js';
export { McpToolbox, mcpToolResult, openEnvToolResult } from './mcp/toolbox.js';
export { startStdioMcp, StdioMcp } from './mcp/stdio.js';
export type { StdioMcpOptions } from './mcp/stdio.js';
export {
  CheckContext,
  CheckFailed,
  CheckResult,
  CheckSkipped,
  CheckStatus,
  CONFORMANCE_CHECKS,
  DEFAULT_VALIDATE_TIMEOUT_MS,
  formatReport,
  parseTarget,
  validateCommand,
  validateEnvironment,
  validateServer,
  ValidationReport,
} from './conformance/index.js';
export type { ConformanceCheck, ValidateEnvironmentOptions, ValidateServerOptions } from './conformance/index.js';
export { checkDefinition, EnvLoadError, EnvNotFoundError, isPathSpec, loadEnvironment } from './env-loader.js';
export type { LoadedEnvironment } from './env-loader.js';
export { createInitCommand, invalidEnvName, scaffoldNames } from './scaffold/init-command.js';
export type { EnvboxManifest } from './scaffold/init-command.js';
export { scaffoldFiles } from './scaffold/templates.js';
export type { ScaffoldNames, ScaffoldVersions } from './scaffold/templates.js';
