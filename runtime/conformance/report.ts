import { z } from 'zod';

/** How one check ended: passed, failed, or not run because something it needs failed first. */
export const CheckStatus = z.enum(['pass', 'fail', 'skip']);
export type CheckStatus = z.infer<typeof CheckStatus>;

/** One check of the conformance kit, as `envbox validate --json` prints it. */
export const CheckResult = z.strictObject({
  /** A stable snake_case name, e.g. `ws_close`; OpenEnv's criterion ids where it has the same check. */
  name: z.string(),
  status: CheckStatus,
  /** What was seen (on success) or what was wrong, expected against received (on failure). */
  detail: z.string(),
  duration_ms: z.number().nonnegative(),
});
export type CheckResult = z.infer<typeof CheckResult>;

/** The conformance kit's verdict on one server: what `validateServer` returns, `--json` prints. */
export const ValidationReport = z.strictObject({
  /** The server's base URL, without a trailing slash. */
  target: z.string(),
  /** True when no check failed (and at least one passed). */
  passed: z.boolean(),
  /** The environment, from `/metadata`; null when it did not answer. */
  env: z.strictObject({ name: z.string(), version: z.string().nullable() }).nullable(),
  /** OpenEnv's mode, read from the OpenAPI paths: reset, step and state over HTTP = simulation. */
  mode: z.enum(['simulation', 'production', 'unknown']),
  /** The sample action the episode checks sent, and where it came from; null when none was found. */
  sample_action: z.strictObject({ action: z.unknown(), source: z.string() }).nullable(),
  checks: z.array(CheckResult),
  summary: z.strictObject({ total: z.number().int(), passed: z.number().int(), failed: z.number().int(), skipped: z.number().int() }),
});
export type ValidationReport = z.infer<typeof ValidationReport>;

const LABELS: Record<CheckStatus, string> = { pass: 'ok', fail: 'FAIL', skip: 'skip' };

/** The report as text: one line per check (`ok`, `FAIL` or `skip`, its name, its detail), then a summary line. */
export function formatReport(report: ValidationReport): string {
  const width = Math.max(...report.checks.map((check) => check.name.length), 0);
  const lines = report.checks.map((check) => `${LABELS[check.status].padEnd(4)}  ${check.name.padEnd(width)}  ${check.detail}`);
  const { total, passed, failed, skipped } = report.summary;
  const env = report.env === null ? '' : ` (${report.env.name}${report.env.version === null ? '' : ` ${report.env.version}`})`;
  const failedNames = report.checks.filter((check) => check.status === 'fail').map((check) => check.name);
  const counts = `${passed} of ${total} checks passed${failed > 0 ? `, ${failed} failed (${failedNames.join(', ')})` : ''}${skipped > 0 ? `, ${skipped} skipped` : ''}`;
  lines.push('', `${report.passed ? 'valid' : 'INVALID'}: ${report.target}${env}: ${counts}`);
  return `${lines.join('\n')}\n`;
}
