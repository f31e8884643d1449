import { z } from 'zod';
import { BenchError } from './bench-error.js';

/**
 * How a throughput window of fresh episodes is kept from being served by the warm pool's initial
 * stock: the workers first run untimed until the pool has handed out every sandbox it held and
 * `extraEpisodes` more, and until `/health` has shown it empty (or `emptyWaitMaxMs` has passed).
 */
export interface DrainPolicy {
  /** Sandboxes the pool holds when full (`/health`'s `pools.<language>.size`). */
  poolSize: number;
  /** Episodes started beyond `poolSize` before the window may open. */
  extraEpisodes: number;
  /**
   * Once the episode count is reached, how long the drain keeps waiting to see the pool empty.
   * A pool whose refill keeps up with the workers never empties: after `poolSize + extraEpisodes`
   * episodes its initial stock is spent all the same, and what serves the window is the refill.
   */
  emptyWaitMaxMs: number;
}

/** What the drain has seen so far. */
export interface DrainProgress {
  /** Resets completed since the drain began (each took one sandbox). */
  episodes: number;
  /** Since the drain began. */
  elapsedMs: number;
  /** The fewest ready sandboxes a `/health` poll reported; undefined before the first poll. */
  minReady: number | undefined;
}

/**
 * Where a drain stands: `draining`; `pool-emptied` (the episodes ran and the pool was seen empty);
 * `pool-kept-up` (the episodes ran, and in `emptyWaitMaxMs` more the pool was never seen empty:
 * its refill keeps up with the workers).
 */
export type DrainState = 'draining' | 'pool-emptied' | 'pool-kept-up';

/** The state of a drain under `policy` after `progress`. */
export function drainState(progress: DrainProgress, policy: DrainPolicy): DrainState {
  if (progress.episodes < policy.poolSize + policy.extraEpisodes) return 'draining';
  if (progress.minReady === 0) return 'pool-emptied';
  return progress.elapsedMs >= policy.emptyWaitMaxMs ? 'pool-kept-up' : 'draining';
}

/** One language's warm pool in coding_env's `GET /health` (`pools.<language>`). */
export const LanguagePoolHealth = z.object({
  ready: z.number().int().nonnegative(),
  starting: z.number().int().nonnegative(),
  size: z.number().int().nonnegative(),
});
export type LanguagePoolHealth = z.infer<typeof LanguagePoolHealth>;

const PoolsHealth = z.looseObject({ pools: z.record(z.string(), LanguagePoolHealth) });

/**
 * The warm pool of `language` as `GET /health` reports it now.
 * @throws {BenchError} when `/health` answers without `pools.<language>`
 */
export async function readLanguagePool(baseUrl: string, language: string, signal?: AbortSignal): Promise<LanguagePoolHealth> {
  const url = new URL('/health', baseUrl);
  const response = await fetch(url, signal === undefined ? {} : { signal: AbortSignal.any([signal]) });
  const body: unknown = await response.json();
  const parsed = PoolsHealth.safeParse(body);
  const pool = parsed.success ? parsed.data.pools[language] : undefined;
  if (!response.ok || pool === undefined) {
    throw new BenchError(
      `GET ${url.href} answered ${response.status} without a ${language} pool (expected {"pools": {"${language}": {"ready", "starting", "size"}}}, received ${JSON.stringify(body).slice(0, 300)}).`,
    );
  }
  return pool;
}
