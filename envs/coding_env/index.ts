export { CodingEnv } from './client.js';
export { codingEnvFromConfig, createCodingEnvDefinition } from './definition.js';
export type { CodingEnvOptions } from './definition.js';
export { CodeAction, CodeObservation, CodeState } from './models.js';
export { PythonCodeActEnv } from './python-code-act-env.js';
export * from './transforms/index.js';
