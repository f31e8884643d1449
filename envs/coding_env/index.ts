export { CodingEnv } from './client.js';
export { CODING_ENV, createCodingEnvDefinition } from './definition.js';
export { CodingEnvServeOptions, DEFAULT_POOL_SIZE } from './options.js';
export type { CodingEnvOptions } from './definition.js';
export { CodeAction, CodeMetadata, CodeObservation, CodeResetRequest, CodeState, DEFAULT_LANGUAGE, Language, LANGUAGE_NAMES } from './models.js';
export { CodeActEnv } from './code-act-env.js';
export { CODING_ENV_TOOLS } from './tools.js';
export type { RunCodeResult } from './tools.js';
export * from './transforms/index.js';
