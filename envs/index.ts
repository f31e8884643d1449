import type { EnvFactory } from '../runtime/index.js';
import { codingEnvFromConfig } from './coding_env/index.js';
import { echoEnvDefinition } from './echo_env/index.js';

export * from './coding_env/index.js';
export * from './echo_env/index.js';

/** Every environment `envbox serve --env <name>` can serve, by name, built from the configuration. */
export const ENVIRONMENTS: Readonly<Record<string, EnvFactory>> = Object.freeze({
  coding_env: codingEnvFromConfig,
  echo_env: () => echoEnvDefinition,
});
