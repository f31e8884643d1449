/**
 * envbox: sandboxed code-execution environments for AI agents and RL training, served over the
 * OpenEnv protocol. `import { createApp, startServer, EnvClient, EchoEnv } from 'envbox'`.
 */
export * from './runtime/index.js';
export * from './client/index.js';
export * from './sandbox/index.js';
export * from './envs/index.js';
export { VERSION } from './version.js';
