import { performance } from 'node:perf_hooks';
import { HealthResponse } from '../../protocol/index.js';
import { ConfigError } from '../config.js';
import { CheckContext, CheckFailed, CheckSkipped, fail, type ConformanceCheck } from './check-context.js';
import { DISCOVERY_CHECKS } from './discovery-checks.js';
import { describeReply, HttpProbe } from './http-probe.js';
import { HTTP_CHECKS } from './http-checks.js';
import type { CheckResult, ValidationReport } from './report.js';
import { WS_CHECKS } from './ws-checks.js';

/** How long each request (and each WebSocket reply) may take: a first reset may start a sandbox. */
export const DEFAULT_VALIDATE_TIMEOUT_MS = 30_000;

/** Options of {@link validateServer}. */
export interface ValidateServerOptions {
  /** The server's bearer token (`--token` of `envbox serve`). */
  token?: string;
  /** The action to step with; by default the action schema's `examples[0]`, else one derived from it. */
  action?: unknown;
  /** Each request's deadline, in milliseconds. @default DEFAULT_VALIDATE_TIMEOUT_MS */
  timeoutMs?: number;
  /** Aborts the run: requests in flight fail, and so do their checks. */
  signal?: AbortSignal;
}

const STILL_HEALTHY: ConformanceCheck = {
  name: 'still_healthy',
  description: "after every other check (and the kit's sessions closed), GET /health still answers healthy",
  needs: ['health_endpoint'],
  async run(context) {
    await context.release();
    const reply = await context.http.request('GET', '/health');
    const parsed = HealthResponse.safeParse(reply.json);
    if (reply.status !== 200 || !parsed.success || parsed.data.status !== 'healthy') fail(`GET /health answered ${describeReply(reply)}; expected 200 {"status": "healthy"}`);
    const active = (parsed.data as Record<string, unknown>).active_sessions;
    const sessions = typeof active === 'number' && context.activeSessionsBefore !== undefined ? `; active sessions ${context.activeSessionsBefore} before, ${active} after` : '';
    return `healthy${sessions}`;
  },
};

/** Every check of the kit, in the order it runs them. */
export const CONFORMANCE_CHECKS: readonly ConformanceCheck[] = [...DISCOVERY_CHECKS, ...HTTP_CHECKS, ...WS_CHECKS, STILL_HEALTHY];

/**
 * The server's base URL, checked: `http://` or `https://`, no query or fragment, no trailing slash.
 * @throws {ConfigError} naming what came and what is expected
 */
export function parseTarget(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`invalid server URL: expected http://host:port, received ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(`invalid server URL: expected http:// or https://, received ${JSON.stringify(url)}`);
  if (parsed.search !== '' || parsed.hash !== '') throw new ConfigError(`invalid server URL: expected no query or fragment, received ${JSON.stringify(url)}`);
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
}

/**
 * The conformance kit: run every check against the server at `url`, over real HTTP and WebSocket,
 * and report each (`envbox validate` prints this report). Checks run one after another; one whose
 * prerequisite failed is skipped, naming it. The kit acts only in sessions of its own (it never
 * touches the server's default session) and closes them before its last check.
 * @throws {ConfigError} when `url` is not an http(s) URL; a server that misbehaves is a failed check, never a throw
 */
export async function validateServer(url: string, options: ValidateServerOptions = {}): Promise<ValidationReport> {
  const target = parseTarget(url);
  const timeoutMs = options.timeoutMs ?? DEFAULT_VALIDATE_TIMEOUT_MS;
  const http = new HttpProbe(target, { timeoutMs, ...(options.token === undefined ? {} : { token: options.token }), ...(options.signal === undefined ? {} : { signal: options.signal }) });
  const context = new CheckContext({ target, http, token: options.token, timeoutMs, givenAction: options.action });
  const checks: CheckResult[] = [];
  const passed = new Set<string>();
  try {
    for (const check of CONFORMANCE_CHECKS) {
      const missing = check.needs.filter((name) => !passed.has(name));
      if (missing.length > 0) {
        checks.push({ name: check.name, status: 'skip', detail: `needs ${missing.join(', ')}`, duration_ms: 0 });
        continue;
      }
      const startMs = performance.now();
      let result: Pick<CheckResult, 'status' | 'detail'>;
      try {
        result = { status: 'pass', detail: await check.run(context) };
        passed.add(check.name);
      } catch (error) {
        if (error instanceof CheckSkipped) result = { status: 'skip', detail: error.message };
        else if (error instanceof CheckFailed) result = { status: 'fail', detail: error.message };
        // The network's errors (refused, reset, timed out): the server is the one at fault.
        else result = { status: 'fail', detail: `no answer: ${describeError(error)}${check.needs.length === 0 ? `; is a server listening at ${target}?` : ''}` };
      }
      checks.push({ name: check.name, ...result, duration_ms: Math.round((performance.now() - startMs) * 10) / 10 });
    }
  } finally {
    await context.release();
  }
  const count = (status: CheckResult['status']): number => checks.filter((check) => check.status === status).length;
  const summary = { total: checks.length, passed: count('pass'), failed: count('fail'), skipped: count('skip') };
  return {
    target,
    passed: summary.failed === 0 && summary.skipped < summary.total,
    env: context.env,
    mode: context.mode,
    sample_action: context.sample === undefined ? null : { action: context.sample.action, source: context.sample.source },
    checks,
    summary,
  };
}

/** A network error's message with its cause (fetch says only "fetch failed"). */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${(error.cause as NodeJS.ErrnoException).code ?? error.cause.message}` : '';
  return `${error.name === 'TimeoutError' ? 'timed out' : error.message}${cause}`;
}
