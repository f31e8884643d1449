import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { HealthResponse } from '../index.js';
import { BenchError } from './bench-error.js';
import type { SettleOutcome } from './bench-envs.js';
import { Deadline } from './deadline.js';

/** How long the warm pool may take to refill. @default 30 s (a sandbox may take 15 s to start) */
export const DEFAULT_FULL_POOL_TIMEOUT_MS = 30_000;
/** Pause between two `GET /health` polls: short next to a sandbox start (~40 ms), cheap for the server. @default 5 ms */
export const POOL_POLL_INTERVAL_MS = 5;
/**
 * Polls in a row that must see the pool short with nothing starting before it counts as stalled.
 * A healthy pool never shows that (it starts the next sandbox in the same tick one is taken or
 * one finishes); two polls rule out a torn read.
 */
export const STALL_CONFIRM_POLLS = 2;

/** `GET /health` of an environment with a warm sandbox pool. */
const PoolHealth = HealthResponse.extend({
  pool: z.object({
    ready: z.number().int().nonnegative(),
    starting: z.number().int().nonnegative(),
    size: z.number().int().nonnegative(),
  }),
});
type PoolHealth = z.infer<typeof PoolHealth>;

/** Options of {@link waitForFullPool}. */
export interface WaitForFullPoolOptions {
  /**
   * Called when the pool is short and nothing is starting: a background start failed and the pool
   * refills only on the next acquire. Should make one (e.g. a throwaway reset). Undefined: a stall
   * waits for the deadline.
   */
  restartRefill?: () => Promise<void>;
  /** Give up after this long. @default {@link DEFAULT_FULL_POOL_TIMEOUT_MS} */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Poll `GET /health` until `pool.ready === pool.size`, so that the next reset takes a ready
 * sandbox (and no refill competes for the CPU with what is measured next).
 * @returns how long it waited and how many stalled refills it had to restart
 * @throws {BenchError} when the pool is not full within `timeoutMs`, or `/health` reports no pool
 */
export async function waitForFullPool(baseUrl: string, options: WaitForFullPoolOptions = {}): Promise<SettleOutcome> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_FULL_POOL_TIMEOUT_MS;
  const started = performance.now();
  const deadline = new Deadline(timeoutMs, options.signal);
  const { signal } = deadline;
  const url = new URL('/health', baseUrl);
  let last: PoolHealth['pool'] | undefined;
  let stalledPolls = 0;
  let nudges = 0;
  try {
    for (;;) {
      last = (await readHealth(url, signal)).pool;
      if (last.ready >= last.size) return { waitedMs: performance.now() - started, nudges };
      stalledPolls = last.starting === 0 ? stalledPolls + 1 : 0;
      if (stalledPolls >= STALL_CONFIRM_POLLS && options.restartRefill !== undefined) {
        nudges += 1;
        stalledPolls = 0;
        await options.restartRefill();
      }
      await sleep(POOL_POLL_INTERVAL_MS, undefined, { signal });
    }
  } catch (error) {
    if (error instanceof BenchError) throw error;
    const seen = last === undefined ? 'no answer' : `ready ${last.ready}, starting ${last.starting}, size ${last.size}`;
    throw new BenchError(
      deadline.timedOut
        ? `The warm pool of ${baseUrl} was not full after ${timeoutMs} ms (last GET /health: ${seen}; ${nudges} stalled refills restarted); ` +
            'check the server log for sandboxes failing to start.'
        : `Waiting for the warm pool of ${baseUrl} failed (${error instanceof Error ? error.message : String(error)}; last GET /health: ${seen}).`,
      { cause: error },
    );
  } finally {
    deadline.close();
  }
}

async function readHealth(url: URL, signal: AbortSignal): Promise<PoolHealth> {
  // A signal of its own per poll: fetch removes its abort listener only when the request is
  // collected, so thousands of polls on one signal (a Pyodide pool refills for seconds) pile up
  // listeners and MaxListenersExceededWarning (https://github.com/nodejs/node/issues/52635).
  // AbortSignal.any adds no listener to its source.
  const response = await fetch(url, { signal: AbortSignal.any([signal]) });
  const body: unknown = await response.json();
  const parsed = PoolHealth.safeParse(body);
  if (!response.ok || !parsed.success) {
    throw new BenchError(
      `GET ${url.href} answered ${response.status} without a warm pool (expected {"pool": {"ready", "starting", "size"}}, received ${JSON.stringify(body).slice(0, 300)}); ` +
        'only environments with a sandbox pool can settle on it.',
    );
  }
  return parsed.data;
}
