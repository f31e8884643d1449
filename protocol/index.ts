export { METRICS_PREFIX } from './environment.js';
export type { AnyEnvDefinition, BatchEvaluator, EnvContext, EnvDefinition, EnvFactory, EnvLogger, Environment, ResetOptions, StepOptions, TaskProvider, TaskSplit } from './environment.js';
export { envOption, envOptionMeta } from './env-option.js';
export { defineTool } from './tool.js';
export type { AnyEnvTool, EnvTool, ToolContext, ToolResult } from './tool.js';
export type { EnvOptionMeta } from './env-option.js';
export {
  BadRequestError,
  CapacityExceededError,
  CONTAINER_GONE,
  EnvboxError,
  errorFromWire,
  HeadersTooLargeError,
  InternalError,
  InvalidJsonError,
  InvalidRequestError,
  InvalidTaskError,
  MethodNotAllowedError,
  NotFoundError,
  NotSupportedError,
  PayloadTooLargeError,
  ProtocolError,
  RequestTimeoutError,
  SandboxUnavailableError,
  SessionClosedError,
  SessionNotFoundError,
  toEnvboxError,
  TransportError,
  UnauthorizedError,
  UpgradeRequiredError,
} from './errors.js';
export type { EnvboxErrorOptions, WireError } from './errors.js';
export {
  Action,
  CreateSessionResponse,
  ErrorResponse,
  HealthResponse,
  Metadata,
  MetadataResponse,
  Observation,
  ResetRequest,
  State,
  StepRequest,
  StepResponse,
  WsClientMessage,
  WsServerMessage,
} from './models.js';
