import { readFileSync } from 'node:fs';
import type { EnvDefinition, EnvFactory } from '../../protocol/index.js';
import { EchoEnvironment } from './echo-environment.js';
import { EchoAction, EchoObservation, EchoState } from './models.js';
import { ECHO_ENV_TOOLS } from './tools.js';

/** echo_env as the server serves it: `envbox serve --env echo_env`. */
export const echoEnvDefinition: EnvDefinition<EchoAction, EchoObservation, EchoState> = {
  name: 'echo_env',
  description: 'Echoes each message back with reward 0.1 per character; for testing the plumbing.',
  version: '1.0.0',
  // The build copies the README beside the compiled module.
  readme: readFileSync(new URL('./README.md', import.meta.url), 'utf8'),
  action: EchoAction,
  observation: EchoObservation,
  state: EchoState,
  tools: ECHO_ENV_TOOLS,
  create: () => new EchoEnvironment(),
};

/** echo_env as `envbox serve --env echo_env` builds it: no options of its own. */
export const ECHO_ENV: EnvFactory = { create: () => echoEnvDefinition };
