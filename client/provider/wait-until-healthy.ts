import type { Container, ContainerState } from './container.js';
import { ContainerStartError, HealthTimeoutError, withLogs } from './start-errors.js';
import { bearer, DEFAULT_HEALTH_TIMEOUT_MS, waitForHealth, type HealthWait, type WaitForHealthOptions } from './wait-for-health.js';

/** How often, while waiting for health, the container is asked whether it still runs. @default 250 ms */
export const EXIT_CHECK_INTERVAL_MS = 250;

/** A container that was started and is not yet known to be healthy: what the wait needs of it. */
export type StartingContainer = Pick<Container, 'id' | 'image' | 'baseUrl' | 'token' | 'logs' | 'state'>;

/** Options of {@link waitUntilHealthy}. */
export interface WaitUntilHealthyOptions {
  /** Give up after this long. @default {@link DEFAULT_HEALTH_TIMEOUT_MS} */
  timeoutMs?: number;
  /** Stop waiting when aborted. */
  signal?: AbortSignal;
}

/** A healthy start: the first healthy `GET /health` body, the probes it took and how long. */
export type HealthyStart = Extract<HealthWait, { healthy: true }>;

/**
 * Wait until `container`'s server answers `GET /health` healthy (with its token, so the full
 * body), asking the container every {@link EXIT_CHECK_INTERVAL_MS} whether it still runs: one
 * that stopped is not waited for. Provider-neutral: every provider's `start()` ends with it, and
 * removes the container when it throws.
 * @throws {HealthTimeoutError} when it runs but is not healthy within `timeoutMs` (with its last log lines)
 * @throws {ContainerStartError} when it stopped before it was healthy (with its last log lines), or `signal` aborted
 */
export async function waitUntilHealthy(container: StartingContainer, options: WaitUntilHealthyOptions = {}): Promise<HealthyStart> {
  const healthUrl = `${container.baseUrl}/health`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS;
  let lastExitCheck = performance.now();
  const waitOptions: WaitForHealthOptions = {
    timeoutMs,
    // With the token, /health answers its full body (isolation facts) rather than liveness only.
    headers: bearer(container.token),
    stopReason: async () => {
      if (performance.now() - lastExitCheck < EXIT_CHECK_INTERVAL_MS) return undefined;
      lastExitCheck = performance.now();
      return stoppedReason(await container.state());
    },
  };
  if (options.signal !== undefined) waitOptions.signal = options.signal;
  const wait = await waitForHealth(healthUrl, waitOptions);
  if (wait.healthy) return wait;
  throw unhealthyError(wait, { container, healthUrl, timeoutMs, logs: await container.logs(), signal: options.signal });
}

/** Why waiting for health is pointless (the container stopped), or undefined while it runs or cannot be asked. */
function stoppedReason(state: ContainerState | undefined): string | undefined {
  if (state === undefined || state.running) return undefined;
  if (state.status === 'removed') return 'the container was removed';
  const how = state.exitCode === null ? `stopped (${state.status})` : `exited with code ${state.exitCode}`;
  return `the container ${how}${(state.notes ?? []).map((note) => ` (${note})`).join('')}`;
}

interface UnhealthyFacts {
  container: StartingContainer;
  healthUrl: string;
  timeoutMs: number;
  logs: string;
  signal: AbortSignal | undefined;
}

function unhealthyError(wait: Extract<HealthWait, { healthy: false }>, facts: UnhealthyFacts): Error {
  const { id, image } = facts.container;
  const short = id.slice(0, 12);
  const options = { containerId: id, logs: facts.logs };
  if (wait.reason === 'timed out') {
    const message =
      `Container ${short} of ${image} did not answer GET ${facts.healthUrl} healthy within ${facts.timeoutMs} ms ` +
      `(${wait.attempts} probes, the last: ${wait.detail}); raise healthTimeoutMs if it is only slow`;
    return new HealthTimeoutError(withLogs(message, facts.logs), { ...options, timeoutMs: facts.timeoutMs });
  }
  if (wait.reason === 'aborted') {
    return new ContainerStartError(`Start of container ${short} of ${image} was aborted; the container was removed.`, {
      ...options,
      cause: facts.signal?.reason,
    });
  }
  return new ContainerStartError(withLogs(`Container ${short} of ${image} stopped before it was healthy: ${wait.detail}`, facts.logs), options);
}
