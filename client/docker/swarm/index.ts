export { applianceServiceSpec } from './appliance-service-spec.js';
export type { ApplianceServiceInit } from './appliance-service-spec.js';
export {
  DEFAULT_MAX_CONCURRENT_STARTS,
  DEFAULT_SCHEDULE_TIMEOUT_MS,
  DEFAULT_SWARM_IMAGE,
  DockerSwarmProvider,
  PROVIDER_LABEL,
} from './docker-swarm-provider.js';
export type { DockerSwarmProviderOptions, SwarmStartOptions } from './docker-swarm-provider.js';
export { SERVICE_LOGS_TIMEOUT_MS, TASK_POLL_INTERVAL_MS } from './service-tasks.js';
export { DEFAULT_REMOVE_TIMEOUT_MS, SwarmAppliance } from './swarm-appliance.js';
export type { SwarmApplianceInit, SwarmStartTimings } from './swarm-appliance.js';
