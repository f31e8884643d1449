/**
 * `envbox/testing`: the conformance kit, for the tests of environments built on envbox.
 *
 * ```ts
 * import { validateServer, formatReport } from 'envbox/testing';
 * const report = await validateServer(server.url);
 * t.ok(report.passed, formatReport(report));
 * ```
 * or, for an environment of your own, served on a free port for the checks:
 * ```ts
 * import { validateEnvironment } from 'envbox/testing';
 * import definition from '../src/index.js';
 * const report = await validateEnvironment(definition);
 * ```
 * `envbox validate <url | path>` runs the same checks from the command line.
 */
export {
  CheckResult,
  CheckStatus,
  CONFORMANCE_CHECKS,
  DEFAULT_VALIDATE_TIMEOUT_MS,
  formatReport,
  validateEnvironment,
  validateServer,
  ValidationReport,
} from './runtime/index.js';
export type { ConformanceCheck, ValidateEnvironmentOptions, ValidateServerOptions } from './runtime/index.js';
