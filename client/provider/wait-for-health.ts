import { get, type IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { HealthResponse, TransportError } from '../../protocol/index.js';
import { DEFAULT_HEALTH_CHECK_TIMEOUT_MS, type Container, type HealthCheckOptions } from './container.js';

/** How long a container gets to answer `GET /health`. @default 30 s */
export const DEFAULT_HEALTH_TIMEOUT_MS = 30_000;
/** Pause between two health probes. @default 25 ms */
export const HEALTH_POLL_INTERVAL_MS = 25;
/** How long one probe waits for an answer before it counts as failed. @default 1 s */
export const HEALTH_REQUEST_TIMEOUT_MS = 1_000;
/** The most of a health body that is read. @default 64 KiB */
const MAX_HEALTH_BODY_BYTES = 64 * 1024;

/** Options of {@link waitForHealth}. */
export interface WaitForHealthOptions {
  /** Give up after this long. @default {@link DEFAULT_HEALTH_TIMEOUT_MS} */
  timeoutMs?: number;
  /** Stop waiting when aborted. */
  signal?: AbortSignal;
  /** Pause between probes. @default {@link HEALTH_POLL_INTERVAL_MS} */
  intervalMs?: number;
  /** Extra headers of each probe (e.g. `Authorization`, for the full body rather than liveness only). */
  headers?: Readonly<Record<string, string>>;
  /** Per-probe timeout. @default {@link HEALTH_REQUEST_TIMEOUT_MS} */
  requestTimeoutMs?: number;
  /**
   * Asked after each failed probe whether waiting still makes sense: a string (why not, e.g.
   * "the container exited with code 2") stops the wait at once.
   */
  stopReason?: () => Promise<string | undefined>;
}

/** How the wait ended: healthy with the body, or why not. A value, not a throw: the caller knows what to report. */
export type HealthWait =
  | { healthy: true; body: HealthResponse; attempts: number; elapsedMs: number }
  | {
      healthy: false;
      /** `timed out`: the deadline passed; `aborted`: the signal fired; `stopped`: `stopReason` said so. */
      reason: 'timed out' | 'aborted' | 'stopped';
      /** What the last probe got (e.g. `connect ECONNREFUSED`), or what `stopReason` said. */
      detail: string;
      attempts: number;
      elapsedMs: number;
    };

/**
 * Poll `url` (a `/health` endpoint) until it answers 200 with a {@link HealthResponse} (the
 * server's own schema: `{"status": "healthy", ...}`).
 *
 * Each probe is a plain `node:http` GET on a fresh connection with its own timeout, not `fetch`:
 * with `fetch` and `AbortSignal.timeout` (an unref'd timer) right after a container starts,
 * while the port proxy accepts connections that nothing answers, Node found nothing keeping the
 * event loop alive and exited early (code 13), skipping cleanup (shared/FIELD_NOTES.md, Docker).
 * Every timer here is ref'd.
 */
export async function waitForHealth(url: string, options: WaitForHealthOptions = {}): Promise<HealthWait> {
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS;
  const deadline = started + timeoutMs;
  const intervalMs = options.intervalMs ?? HEALTH_POLL_INTERVAL_MS;
  const requestTimeoutMs = options.requestTimeoutMs ?? HEALTH_REQUEST_TIMEOUT_MS;
  let attempts = 0;
  let detail = 'no probe was made';
  const elapsed = (): number => Math.round(performance.now() - started);
  for (;;) {
    if (options.signal?.aborted === true) return { healthy: false, reason: 'aborted', detail, attempts, elapsedMs: elapsed() };
    const remaining = deadline - performance.now();
    if (remaining <= 0) return { healthy: false, reason: 'timed out', detail, attempts, elapsedMs: elapsed() };
    attempts += 1;
    const probe = await probeHealth(url, Math.max(1, Math.min(requestTimeoutMs, remaining)), options.signal, options.headers);
    if (probe.healthy) return { healthy: true, body: probe.body, attempts, elapsedMs: elapsed() };
    detail = probe.detail;
    const stop = await options.stopReason?.();
    if (stop !== undefined) return { healthy: false, reason: 'stopped', detail: stop, attempts, elapsedMs: elapsed() };
    const pause = Math.min(intervalMs, deadline - performance.now());
    if (pause > 0) {
      try {
        await sleep(pause, undefined, options.signal === undefined ? {} : { signal: options.signal });
      } catch {
        return { healthy: false, reason: 'aborted', detail, attempts, elapsedMs: elapsed() };
      }
    }
  }
}

/**
 * One `GET /health` of `server` now, with its token (so the full body): the body when it answers
 * healthy. What every `Container.health()` does.
 * @throws {TransportError} when it does not answer healthy within `timeoutMs` (the message says what came)
 */
export async function checkHealth(server: Pick<Container, 'baseUrl' | 'token'>, options: HealthCheckOptions = {}): Promise<HealthResponse> {
  const url = `${server.baseUrl}/health`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_HEALTH_CHECK_TIMEOUT_MS;
  const probe = await probeHealth(url, timeoutMs, options.signal, bearer(server.token));
  if (probe.healthy) return probe.body;
  throw new TransportError(`GET ${url} did not answer healthy: ${probe.detail}.`);
}

/** The `Authorization` header of `token`; none without one. */
export function bearer(token: string | undefined): Readonly<Record<string, string>> {
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

type Probe = { healthy: true; body: HealthResponse } | { healthy: false; detail: string };

/** One GET of `url` on a connection of its own, answered or failed within `timeoutMs`. */
function probeHealth(
  url: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  headers: Readonly<Record<string, string>> | undefined,
): Promise<Probe> {
  return new Promise<Probe>((resolve) => {
    let settled = false;
    const settle = (probe: Probe): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      request.destroy();
      resolve(probe);
    };
    const request = get(url, { agent: false, headers: { ...headers, accept: 'application/json' } }, (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_HEALTH_BODY_BYTES) chunks.push(chunk);
      });
      response.on('error', (error) => settle({ healthy: false, detail: error.message }));
      response.on('end', () => settle(judge(response.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))));
    });
    // A ref'd timer, covering connect and answer alike (see waitForHealth).
    const timer = setTimeout(() => settle({ healthy: false, detail: `no answer within ${Math.round(timeoutMs)} ms` }), timeoutMs);
    const onAbort = (): void => settle({ healthy: false, detail: 'aborted' });
    signal?.addEventListener('abort', onAbort, { once: true });
    request.on('error', (error: NodeJS.ErrnoException) => settle({ healthy: false, detail: error.code ?? error.message }));
  });
}

function judge(status: number, text: string): Probe {
  if (status !== 200) return { healthy: false, detail: `HTTP ${status}` };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { healthy: false, detail: `HTTP 200 with a body that is not JSON: ${text.slice(0, 200)}` };
  }
  const parsed = HealthResponse.safeParse(body);
  if (parsed.success) return { healthy: true, body: parsed.data };
  return { healthy: false, detail: `HTTP 200 but not a healthy /health answer: ${text.slice(0, 200)}` };
}
