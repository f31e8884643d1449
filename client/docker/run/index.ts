export { connectDocker } from './docker-connection.js';
export type { DockerEngine, EngineAddress } from './docker-connection.js';
export { DEFAULT_STOP_TIMEOUT_S, DockerContainer } from './docker-container.js';
export type { DockerContainerInit, StartTimings } from './docker-container.js';
export {
  DOCKER_UP_HINT,
  DockerEngineError,
  dockerError,
  DockerUnavailableError,
  engineMessage,
  engineStatus,
  ImageNotFoundError,
} from './docker-errors.js';
export type { DockerCallContext } from './docker-errors.js';
export { describeEngineAddress, engineAddress } from './docker-connection.js';
export { EXIT_CLEANUP_TIMEOUT_MS, trackContainer, untrackContainer } from './exit-cleanup.js';
export type { TrackedContainer } from './exit-cleanup.js';
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
  resolveLimits,
  SECCOMP_PROFILE_PATH,
} from './hardened-host-config.js';
export type { HardeningOptions, ResolvedHardening } from './hardened-host-config.js';
export { LocalDockerProvider } from './local-docker-provider.js';
export type { LocalDockerProviderOptions, StartContainerOptions } from './local-docker-provider.js';
export { containerLogs, demultiplex } from './container-logs.js';
export { isLoopback, publishedUrl, publishTarget } from './publish-host.js';
export type { PublishTarget } from './publish-host.js';
