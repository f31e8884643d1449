import { z } from 'zod';
import type { ProgressOutput } from '../progress-bar.js';
import type { ContainerProvider, ContainerSpec } from '../provider/index.js';
import { PoolOptionsError } from './pool-errors.js';

/** How many episodes one appliance holds at most, unless told. @default 32 */
export const DEFAULT_EPISODES_PER_APPLIANCE = 32;
/** The deadline of every pool call to an appliance (reset, step, health). @default 60 s */
export const DEFAULT_POOL_CALL_TIMEOUT_MS = 60_000;
/** How long a liveness probe of an appliance may take after a failed call. @default 3 s */
export const DEFAULT_LIVENESS_TIMEOUT_MS = 3_000;

/** Options of `EnvPool.create()`: where the appliances come from, and how many episodes each holds. */
export interface EnvPoolOptions {
  /** Start `appliances` appliances through this provider (removed by `pool.close()`, replaced when one dies). */
  provider?: ContainerProvider;
  /** What the provider starts. @default `{ image: provider.defaultImage ?? 'envbox/appliance:latest' }`, command the env class's `dockerCommand` */
  spec?: Partial<ContainerSpec>;
  /** Or: servers that already run, one appliance each (never started or stopped by the pool). */
  baseUrls?: readonly string[];
  /** The bearer token of the `baseUrls` servers. */
  token?: string;
  /** How many appliances. @default `baseUrls.length` (required with a provider) */
  appliances?: number;
  /** The most episodes placed on one appliance. @default {@link DEFAULT_EPISODES_PER_APPLIANCE} */
  episodesPerAppliance?: number;
  /** The deadline of every call to an appliance, in milliseconds. @default {@link DEFAULT_POOL_CALL_TIMEOUT_MS} */
  timeoutMs?: number;
  /**
   * Gymnasium's next-step autoreset: the step after an episode returned `done` resets it instead
   * (its action is not sent) and its slot is the new episode's first observation, flagged
   * `autoReset: true`. @default false
   */
  autoReset?: boolean;
  /**
   * Where the progress of the appliances' start goes: a bar redrawn in place on a TTY, a line per
   * appliance otherwise. @default process.stderr when it is a TTY, else none
   */
  progress?: ProgressOutput | false;
}

const Numbers = z.object({
  appliances: z.number().int().positive().optional(),
  episodesPerAppliance: z.number().int().positive().optional(),
  timeoutMs: z.number().int().positive().optional(),
});

/** The options with every default filled in. */
export interface ResolvedPoolOptions {
  source: { provider: ContainerProvider; spec: Partial<ContainerSpec> } | { baseUrls: readonly string[]; token: string | undefined };
  appliances: number;
  episodesPerAppliance: number;
  timeoutMs: number;
  autoReset: boolean;
  progress: ProgressOutput | undefined;
}

/**
 * Check and complete `options`.
 * @throws {PoolOptionsError} naming the option, what was expected and what came
 */
export function resolvePoolOptions(options: EnvPoolOptions): ResolvedPoolOptions {
  if (options === null || typeof options !== 'object') throw new PoolOptionsError(`Invalid options: expected an object, received ${String(options)}.`);
  const parsed = Numbers.safeParse({ appliances: options.appliances, episodesPerAppliance: options.episodesPerAppliance, timeoutMs: options.timeoutMs });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0]);
    throw new PoolOptionsError(`Invalid ${name}: expected a positive integer, received ${JSON.stringify((options as Record<string, unknown>)[name])}.`);
  }
  const hasProvider = options.provider !== undefined;
  const hasUrls = options.baseUrls !== undefined;
  if (hasProvider === hasUrls) {
    throw new PoolOptionsError(`Invalid options: expected exactly one of provider and baseUrls, received ${hasProvider ? 'both' : 'neither'}.`);
  }
  const common = {
    episodesPerAppliance: options.episodesPerAppliance ?? DEFAULT_EPISODES_PER_APPLIANCE,
    timeoutMs: options.timeoutMs ?? DEFAULT_POOL_CALL_TIMEOUT_MS,
    autoReset: options.autoReset ?? false,
    progress: options.progress === false ? undefined : (options.progress ?? (process.stderr.isTTY ? process.stderr : undefined)),
  };
  if (options.baseUrls !== undefined) {
    const urls = options.baseUrls;
    if (!Array.isArray(urls) || urls.length === 0) throw new PoolOptionsError(`Invalid baseUrls: expected a non-empty array of URLs, received ${JSON.stringify(urls)}.`);
    for (const url of urls) {
      if (typeof url !== 'string' || !URL.canParse(url)) throw new PoolOptionsError(`Invalid baseUrls: expected URLs such as http://127.0.0.1:8000, received ${JSON.stringify(url)}.`);
    }
    if (options.appliances !== undefined && options.appliances !== urls.length) {
      throw new PoolOptionsError(`Invalid appliances: expected ${urls.length} (one per baseUrl) or nothing, received ${options.appliances}.`);
    }
    return { ...common, source: { baseUrls: [...urls], token: options.token }, appliances: urls.length };
  }
  if (options.appliances === undefined) throw new PoolOptionsError('Invalid appliances: expected a positive integer with a provider, received undefined.');
  return { ...common, source: { provider: options.provider!, spec: options.spec ?? {} }, appliances: options.appliances };
}
