export { DEFAULT_HEALTH_CHECK_TIMEOUT_MS, DEFAULT_LOG_TAIL_LINES } from './container.js';
export type { Container, ContainerState, HealthCheckOptions } from './container.js';
export { ContainerGoneError, explainGone } from './container-gone.js';
export type { ContainerGoneState } from './container-gone.js';
export type { CleanupOptions, ContainerProvider } from './container-provider.js';
export { DEFAULT_CONTAINER_PORT, MANAGED_LABEL, OWNER_LABEL, serverToken } from './container-spec.js';
export type { ContainerLimits, ContainerSpec } from './container-spec.js';
export { ContainerStartError, HealthTimeoutError, withLogs } from './start-errors.js';
export type { ContainerFailureOptions } from './start-errors.js';
export {
  bearer,
  checkHealth,
  DEFAULT_HEALTH_TIMEOUT_MS,
  HEALTH_POLL_INTERVAL_MS,
  HEALTH_REQUEST_TIMEOUT_MS,
  waitForHealth,
} from './wait-for-health.js';
export type { HealthWait, WaitForHealthOptions } from './wait-for-health.js';
export { EXIT_CHECK_INTERVAL_MS, waitUntilHealthy } from './wait-until-healthy.js';
export type { HealthyStart, StartingContainer, WaitUntilHealthyOptions } from './wait-until-healthy.js';
export { ownerGone, ownerLabelValue } from './owner.js';
export { StartLimiter } from './start-limiter.js';
