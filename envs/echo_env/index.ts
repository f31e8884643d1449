export { EchoEnv } from './client.js';
export { ECHO_ENV, echoEnvDefinition } from './definition.js';
export { ECHO_READY_MESSAGE, ECHO_REWARD_PER_CHAR, EchoEnvironment } from './echo-environment.js';
export { EchoAction, EchoObservation, EchoState } from './models.js';
export { ECHO_ENV_TOOLS } from './tools.js';
