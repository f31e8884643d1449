/**
 * `envbox/testing`: the conformance kit, for the tests of environments built on envbox.
 *
 * ```ts
 * import { validateServer, formatReport } from 'envbox/testing';
 * const report = await validateServer(server.url);
 * t.ok(report.passed, formatReport(report));
 * ```
 * `envbox validate <url>` runs the same checks from the command line.
 */
export {
  CheckResult,
  CheckStatus,
  CONFORMANCE_CHECKS,
  DEFAULT_VALIDATE_TIMEOUT_MS,
  formatReport,
  validateServer,
  ValidationReport,
} from './runtime/index.js';
export type { ConformanceCheck, ValidateServerOptions } from './runtime/index.js';
