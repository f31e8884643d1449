export { CodingEnv } from './client.js';
export { codingEnvFromConfig, createCodingEnvDefinition } from './definition.js';
export type { CodingEnvOptions } from './definition.js';
export { CodeAction, CodeMetadata, CodeObservation, CodeResetRequest, CodeState, Language } from './models.js';
export { CodeActEnv } from './code-act-env.js';
export * from './transforms/index.js';
