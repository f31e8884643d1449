export { DEFAULT_CLIENT_TIMEOUT_MS, EnvClient, STEP_TIMEOUT_SLACK_MS } from './env-client.js';
export type { ClientCallOptions, EnvClientClass, EnvSchemasOf, StepCallOptions, StepResult } from './env-client.js';
export type { EnvClientOptions, FromProviderOptions } from './env-client-options.js';
export { HttpTransport } from './http-transport.js';
export type { HttpSession, HttpTransportOptions } from './http-transport.js';
export { launchFromDockerImage, launchFromProvider } from './launch.js';
export type { FromDockerImageOptions } from './launch.js';
export { parseResponse } from './parse-response.js';
export { watchCall } from './transport.js';
export type { CallOptions, GiveUpReason, Transport } from './transport.js';
export { DEFAULT_WS_CONNECT_TIMEOUT_MS, WsTransport } from './ws-transport.js';
export type { WsTransportOptions } from './ws-transport.js';
export {
  bearer,
  checkHealth,
  ContainerGoneError,
  ContainerStartError,
  DEFAULT_CONTAINER_PORT,
  DEFAULT_HEALTH_CHECK_TIMEOUT_MS,
  DEFAULT_HEALTH_TIMEOUT_MS,
  DEFAULT_LOG_TAIL_LINES,
  EXIT_CHECK_INTERVAL_MS,
  explainGone,
  HEALTH_POLL_INTERVAL_MS,
  HEALTH_REQUEST_TIMEOUT_MS,
  HealthTimeoutError,
  MANAGED_LABEL,
  OWNER_LABEL,
  ownerGone,
  ownerLabelValue,
  serverToken,
  StartLimiter,
  waitForHealth,
  waitUntilHealthy,
} from './provider/index.js';
export type {
  CleanupOptions,
  Container,
  ContainerFailureOptions,
  ContainerGoneState,
  ContainerLimits,
  ContainerProvider,
  ContainerSpec,
  ContainerState,
  HealthCheckOptions,
  HealthWait,
  HealthyStart,
  StartingContainer,
  WaitForHealthOptions,
  WaitUntilHealthyOptions,
} from './provider/index.js';
export {
  connectDocker,
  DEFAULT_CONTAINER_USER,
  DEFAULT_CPUS,
  DEFAULT_LOG_SIZE_BYTES,
  DEFAULT_MEMORY_LIMIT_BYTES,
  DEFAULT_PIDS_LIMIT,
  DEFAULT_STOP_TIMEOUT_S,
  DEFAULT_TMP_SIZE_BYTES,
  DOCKER_UP_HINT,
  DockerContainer,
  DockerEngineError,
  DockerUnavailableError,
  EXIT_CLEANUP_TIMEOUT_MS,
  hardenedHostConfig,
  ImageNotFoundError,
  loadSeccompProfile,
  isLoopback,
  LocalDockerProvider,
  publishedUrl,
  publishTarget,
  resolveHardening,
  resolveLimits,
  SECCOMP_PROFILE_PATH,
} from './docker/run/index.js';
export type {
  DockerContainerInit,
  DockerEngine,
  HardeningOptions,
  LocalDockerProviderOptions,
  PublishTarget,
  ResolvedHardening,
  StartContainerOptions,
  StartTimings,
} from './docker/run/index.js';
export {
  buildImage,
  BuildImageCommandOptions,
  buildImageCommand,
  createBuildProgressReporter,
  DEFAULT_BASE_IMAGE,
  DEFAULT_BUILD_CONTEXT,
  DEFAULT_BUILD_TIMEOUT_MS,
  DEFAULT_DOCKERFILE,
  DEFAULT_IMAGE_TAG,
  DockerIgnore,
  ImageBuildError,
  imageExists,
  listBuildContext,
  MissingDependencyError,
  packBuildContext,
  productionPackages,
  tarSize,
} from './docker/build/index.js';
export type {
  BuildContext,
  BuildContextOptions,
  BuildImageOptions,
  BuildImageResult,
  BuildProgressEvent,
  BuildProgressReporter,
  ContextEntry,
  ProgressOutput,
} from './docker/build/index.js';
export { PACKAGE_ROOT } from './docker/package-root.js';
export {
  applianceServiceSpec,
  DEFAULT_MAX_CONCURRENT_STARTS,
  DEFAULT_REMOVE_TIMEOUT_MS,
  DEFAULT_SCHEDULE_TIMEOUT_MS,
  DEFAULT_SWARM_IMAGE,
  DockerSwarmProvider,
  PROVIDER_LABEL,
  SERVICE_LOGS_TIMEOUT_MS,
  SwarmAppliance,
  TASK_POLL_INTERVAL_MS,
} from './docker/swarm/index.js';
export type { ApplianceServiceInit, DockerSwarmProviderOptions, SwarmApplianceInit, SwarmStartOptions, SwarmStartTimings } from './docker/swarm/index.js';
export {
  DEFAULT_EPISODES_PER_APPLIANCE,
  DEFAULT_LIVENESS_TIMEOUT_MS,
  DEFAULT_POOL_CALL_TIMEOUT_MS,
  EnvPool,
  EpisodeLostError,
  PoolClosedError,
  PoolOptionsError,
  resolvePoolOptions,
} from './pool/index.js';
export type { ActionOf, AnyEnvClient, ApplianceStats, EnvPoolOptions, ObservationOf, PoolResetOptions, PoolResult, PoolStats, ResolvedPoolOptions } from './pool/index.js';
export { applianceManifests } from './kubernetes/appliance-manifests.js';
export type { ApplianceManifestsInit } from './kubernetes/appliance-manifests.js';
export { DEFAULT_K8S_READY_TIMEOUT_MS, describePod, KubernetesAppliance, KubernetesProvider } from './kubernetes/kubernetes-provider.js';
export type { KubernetesProviderOptions } from './kubernetes/kubernetes-provider.js';
