export { CheckContext, CheckFailed, CheckSkipped } from './check-context.js';
export type { ConformanceCheck } from './check-context.js';
export { CheckResult, CheckStatus, formatReport, ValidationReport } from './report.js';
export { CONFORMANCE_CHECKS, DEFAULT_VALIDATE_TIMEOUT_MS, parseTarget, validateServer } from './validate-server.js';
export type { ValidateServerOptions } from './validate-server.js';
export { validateCommand } from './validate-command.js';
export { validateEnvironment } from './validate-environment.js';
export type { ValidateEnvironmentOptions } from './validate-environment.js';
