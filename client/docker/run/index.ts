export {
  buildImage,
  DEFAULT_BASE_IMAGE,
  DEFAULT_BUILD_CONTEXT,
  DEFAULT_BUILD_TIMEOUT_MS,
  DEFAULT_DOCKERFILE,
  DEFAULT_IMAGE_TAG,
  imageExists,
} from './build-image.js';
export type { BuildImageOptions, BuildImageResult } from './build-image.js';
export { BuildImageCommandOptions, buildImageCommand } from './build-image-command.js';
export { listBuildContext, packBuildContext, tarSize } from './build-context.js';
export type { BuildContext, BuildContextOptions, ContextEntry } from './build-context.js';
export { createBuildProgressReporter } from './build-progress.js';
export type { BuildProgressEvent, BuildProgressReporter, ProgressOutput } from './build-progress.js';
export { DEFAULT_LOG_TAIL_LINES } from './container-logs.js';
export { connectDocker } from './docker-connection.js';
export type { DockerEngine } from './docker-connection.js';
export { DEFAULT_STOP_TIMEOUT_S, DockerContainer } from './docker-container.js';
export type { DockerContainerInit, StartTimings } from './docker-container.js';
export {
  ContainerGoneError,
  ContainerStartError,
  DOCKER_UP_HINT,
  DockerEngineError,
  DockerUnavailableError,
  HealthTimeoutError,
  ImageBuildError,
  ImageNotFoundError,
} from './docker-errors.js';
export type { ContainerFailureOptions, ContainerGoneState } from './docker-errors.js';
export { DockerIgnore } from './dockerignore.js';
export { EXIT_CLEANUP_TIMEOUT_MS } from './exit-cleanup.js';
export { launchFromDockerImage } from './from-docker-image.js';
export type { FromDockerImageOptions } from './from-docker-image.js';
export {
  DEFAULT_CONTAINER_USER,
  DEFAULT_CPUS,
  DEFAULT_LOG_SIZE_BYTES,
  DEFAULT_MEMORY_LIMIT_BYTES,
  DEFAULT_PIDS_LIMIT,
  DEFAULT_TMP_SIZE_BYTES,
  hardenedHostConfig,
  loadSeccompProfile,
  resolveHardening,
  SECCOMP_PROFILE_PATH,
} from './hardened-host-config.js';
export type { HardeningOptions, ResolvedHardening } from './hardened-host-config.js';
export { DEFAULT_CONTAINER_PORT, LocalDockerProvider, MANAGED_LABEL, OWNER_LABEL } from './local-docker-provider.js';
export type { CleanupOptions, LocalDockerProviderOptions, StartContainerOptions } from './local-docker-provider.js';
export { PACKAGE_ROOT } from './package-root.js';
export { MissingDependencyError, productionPackages } from './production-packages.js';
export { DEFAULT_HEALTH_TIMEOUT_MS, HEALTH_POLL_INTERVAL_MS, HEALTH_REQUEST_TIMEOUT_MS, waitForHealth } from './wait-for-health.js';
export type { HealthWait, WaitForHealthOptions } from './wait-for-health.js';
