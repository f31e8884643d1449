import type { EnvFactory } from '../protocol/index.js';
import { CODING_ENV } from './coding_env/index.js';
import { ECHO_ENV } from './echo_env/index.js';

export * from './coding_env/index.js';
export * from './echo_env/index.js';

/** Every environment `envbox serve --env <name>` can serve, by name, each with its own options. */
export const ENVIRONMENTS: Readonly<Record<string, EnvFactory>> = Object.freeze({
  coding_env: CODING_ENV as EnvFactory,
  echo_env: ECHO_ENV,
});
