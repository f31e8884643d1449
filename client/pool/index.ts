export { EnvPool } from './env-pool.js';
export type { ActionOf, AnyEnvClient, ApplianceStats, ObservationOf, PoolResetOptions, PoolResult, PoolStats } from './env-pool.js';
export { EpisodeLostError, PoolClosedError, PoolOptionsError } from './pool-errors.js';
export {
  DEFAULT_EPISODES_PER_APPLIANCE,
  DEFAULT_LIVENESS_TIMEOUT_MS,
  DEFAULT_POOL_CALL_TIMEOUT_MS,
  resolvePoolOptions,
} from './pool-options.js';
export type { EnvPoolOptions, ResolvedPoolOptions } from './pool-options.js';
