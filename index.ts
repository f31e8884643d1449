/**
 * envbox: sandboxed code-execution environments for AI agents and RL training, served over the
 * OpenEnv protocol. `import { CodingEnv, startServer, envOption } from 'envbox'`.
 *
 * The package API, deliberately: what a user of envbox needs (clients and providers, the server,
 * the environment contract and wire models, the environments, the sandboxes an environment is
 * built from, the errors), and nothing internal. Internals stay reachable in each layer's own
 * index.ts for envbox's own code and tests.
 */

// The protocol floor: wire models, the environment contract, every error class.
export {
  Action,
  BadRequestError,
  CapacityExceededError,
  CONTAINER_GONE,
  CreateSessionResponse,
  defineTool,
  EnvboxError,
  envOption,
  errorFromWire,
  ErrorResponse,
  HeadersTooLargeError,
  HealthResponse,
  InternalError,
  InvalidJsonError,
  InvalidRequestError,
  Metadata,
  MetadataResponse,
  MethodNotAllowedError,
  METRICS_PREFIX,
  NotFoundError,
  Observation,
  PayloadTooLargeError,
  ProtocolError,
  RequestTimeoutError,
  ResetRequest,
  SandboxUnavailableError,
  SessionClosedError,
  SessionNotFoundError,
  State,
  StepRequest,
  StepResponse,
  TransportError,
  UnauthorizedError,
  UpgradeRequiredError,
  WsClientMessage,
  WsServerMessage,
} from './protocol/index.js';
export type {
  AnyEnvDefinition,
  EnvboxErrorOptions,
  AnyEnvTool,
  EnvContext,
  EnvDefinition,
  EnvFactory,
  EnvLogger,
  Environment,
  EnvOptionMeta,
  EnvTool,
  ResetOptions,
  StepOptions,
  ToolContext,
  ToolResult,
  WireError,
} from './protocol/index.js';

// The server.
export {
  AppConfig,
  ConfigError,
  createApp,
  createLogger,
  DEFAULT_CLOSE_GRACE_MS,
  DEFAULT_HOST,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_PORT,
  DEFAULT_SESSION_ID,
  DEFAULT_SESSION_IDLE_MS,
  DEFAULT_STEP_TIMEOUT_MS,
  DEFAULT_WS_PING_INTERVAL_MS,
  EnvboxApp,
  EnvboxServer,
  EnvService,
  LogLevel,
  MCP_PATH,
  METRICS_PATH,
  OPENAPI_PATH,
  OPENENV_HTTP_API_VERSION,
  parseEnvOptions,
  SESSION_HEADER,
  startServer,
  startStdioMcp,
  StdioMcp,
  WEB_PATH,
  WS_CLOSE,
  WS_PATH,
} from './runtime/index.js';
export type { AppConfigInput, CloseReason, CreateAppOptions, Logger, SessionKind, StartServerOptions, StdioMcpOptions } from './runtime/index.js';

// The client and its container providers.
export {
  buildImage,
  ContainerGoneError,
  ContainerStartError,
  DockerEngineError,
  DockerUnavailableError,
  EnvClient,
  HealthTimeoutError,
  ImageBuildError,
  ImageNotFoundError,
  LocalDockerProvider,
  MissingDependencyError,
} from './client/index.js';
export type {
  BuildImageOptions,
  BuildImageResult,
  ClientCallOptions,
  Container,
  ContainerLimits,
  ContainerProvider,
  ContainerSpec,
  ContainerState,
  EnvClientOptions,
  FromDockerImageOptions,
  FromProviderOptions,
  LocalDockerProviderOptions,
  StepCallOptions,
  StepResult,
} from './client/index.js';

// The sandboxes an environment runs code in.
export {
  createLanguageBackends,
  createPythonBackend,
  createQuickJsBackend,
  createSandbox,
  createSandboxBackend,
  DEFAULT_LIMITS,
  EXIT_ERROR,
  EXIT_KILLED,
  EXIT_OK,
  EXIT_TIMEOUT,
  IsolationUnavailableError,
  WarmPool,
} from './sandbox/index.js';
export type {
  CreateSandboxOptions,
  ExecResult,
  Isolation,
  JavaScriptBackendOptions,
  PythonBackendName,
  PythonBackendOptions,
  RunOptions,
  Sandbox,
  SandboxBackend,
  SandboxLimits,
  StandaloneSandbox,
  WarmPoolOptions,
} from './sandbox/index.js';

// The environments.
export {
  applyTransforms,
  CODING_ENV,
  CODING_ENV_TOOLS,
  CodeAction,
  CodeActEnv,
  CodeMetadata,
  CodeObservation,
  CodeResetRequest,
  CodeState,
  CodingEnv,
  CodingEnvServeOptions,
  createCodingEnvDefinition,
  defaultTransforms,
  ECHO_ENV,
  ECHO_ENV_TOOLS,
  EchoAction,
  EchoEnv,
  echoEnvDefinition,
  EchoEnvironment,
  EchoObservation,
  EchoState,
  ENVIRONMENTS,
  Language,
  QualityTransform,
  SafetyTransform,
} from './envs/index.js';
export type { CodingEnvOptions, RewardTerm, RewardTransform, RunCodeResult } from './envs/index.js';

export { VERSION } from './version.js';
