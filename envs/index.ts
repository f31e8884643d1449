import type { AnyEnvDefinition } from '../runtime/index.js';
import { echoEnvDefinition } from './echo_env/index.js';

export * from './echo_env/index.js';

/** Every environment `envbox serve --env <name>` can serve, by name. */
export const ENVIRONMENTS: Readonly<Record<string, AnyEnvDefinition>> = Object.freeze({
  [echoEnvDefinition.name]: echoEnvDefinition,
});
