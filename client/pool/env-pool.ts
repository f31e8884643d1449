import { CapacityExceededError, EnvboxError, TransportError } from '../../protocol/index.js';
import { DEFAULT_IMAGE_TAG } from '../docker/build/index.js';
import type { EnvClient, EnvClientClass, StepResult } from '../env-client.js';
import { checkHealth, type Container } from '../provider/index.js';
import { EpisodeLostError, PoolClosedError, PoolOptionsError } from './pool-errors.js';
import { createStartProgress } from './start-progress.js';
import { DEFAULT_LIVENESS_TIMEOUT_MS, resolvePoolOptions, type EnvPoolOptions, type ResolvedPoolOptions } from './pool-options.js';

/** Any typed client (its action, observation and state types left open). */
export type AnyEnvClient = EnvClient<never, unknown, unknown>;

/** The action type of a typed client class. */
export type ActionOf<C> = C extends EnvClient<infer A, unknown, unknown> ? A : never;
/** The observation type of a typed client class. */
export type ObservationOf<C> = C extends EnvClient<unknown, infer O, unknown> ? O : never;

/**
 * One episode's entry of a batch: the env's result, or why there is none. A failure is a value in
 * its slot, never a rejection of the batch. `autoReset` marks the first observation of a new
 * episode started by `autoReset`; `stateLost` an episode whose appliance died.
 */
export type PoolResult<O> = (StepResult<O> & { autoReset?: true }) | { error: EnvboxError; stateLost?: true };

/** Options of {@link EnvPool.reset}. */
export interface PoolResetOptions {
  /** How many episodes: at most `appliances × episodesPerAppliance`. */
  n: number;
  /** The reset request of every episode (env fields such as `{ language: 'python' }`). */
  options?: Record<string, unknown>;
  /** A seed per episode (`seeds[i]` for episode i). */
  seeds?: readonly number[];
}

/** One appliance's numbers in {@link EnvPool.stats}. */
export interface ApplianceStats {
  baseUrl: string;
  /** Live episodes placed on it. */
  episodes: number;
  /** Steps answered. */
  steps: number;
  /** Steps answered per second over its last batch. */
  stepsPerSecond: number;
  /** Calls that failed (any reason). */
  errors: number;
  /** False once it was found dead. */
  alive: boolean;
}

/** What {@link EnvPool.stats} returns. */
export interface PoolStats {
  appliances: ApplianceStats[];
  /** Live episodes. */
  episodes: number;
  /** Appliances found dead, and replaced (through the provider). */
  dead: number;
  replaced: number;
  /** Episodes moved to another appliance after `CAPACITY_EXCEEDED`. */
  moved: number;
}

interface Appliance {
  baseUrl: string;
  token: string | undefined;
  container: Container | undefined;
  episodes: number;
  /** Lowered after CAPACITY_EXCEEDED: what it actually holds. */
  capacity: number;
  steps: number;
  errors: number;
  stepsPerSecond: number;
  alive: boolean;
  /** The liveness probe of the current failure, shared by the episodes that failed with it. */
  probing: Promise<string | undefined> | undefined;
  /** Dead: the start of its replacement under way, and why the last one failed. */
  replacing?: Promise<void> | undefined;
  replaceError?: unknown;
}

interface Episode<C> {
  client: C;
  appliance: Appliance;
  done: boolean;
  lost: EpisodeLostError | undefined;
}

type Client<C> = C & { reset: EnvClient<unknown, unknown, unknown>['reset']; step: EnvClient<unknown, unknown, unknown>['step']; close(): Promise<void> };

/**
 * A batch of episodes across appliances, Gymnasium-vector style: `reset({ n })` places `n`
 * episodes on the least-loaded appliances (one WebSocket each), `step(actions)` sends one action
 * per episode at once and resolves when all have answered, one entry per episode in order: the
 * env's result or `{ error }`. Every call has a deadline. An appliance that answers
 * `CAPACITY_EXCEEDED` gets the episode moved elsewhere; one that dies gives its episodes
 * `{ error: EpisodeLostError, stateLost: true }` (so does an episode whose WebSocket broke) and,
 * with a provider, is replaced.
 *
 * @example
 * await using pool = await EnvPool.create(CodingEnv, { provider: new DockerSwarmProvider({}), appliances: 4, episodesPerAppliance: 32 });
 * const first = await pool.reset({ n: 128, options: { language: 'python' } });
 * const results = await pool.step(first.map(() => ({ code: 'print(1)' })));
 */
export class EnvPool<C extends AnyEnvClient> implements AsyncDisposable {
  readonly #EnvClass: EnvClientClass<C>;
  readonly #options: ResolvedPoolOptions;
  readonly #appliances: Appliance[] = [];
  #episodes: Array<Episode<Client<C>>> = [];
  readonly #replacing = new Set<Promise<void>>();
  readonly #retiring = new Set<Promise<void>>();
  #dead = 0;
  #replaced = 0;
  #moved = 0;
  #closing: Promise<void> | undefined;

  private constructor(EnvClass: EnvClientClass<C>, options: ResolvedPoolOptions) {
    this.#EnvClass = EnvClass;
    this.#options = options;
  }

  /**
   * A pool of `options.appliances` appliances: started through `options.provider` (concurrently;
   * the provider bounds how many at once) or the servers of `options.baseUrls`.
   * @throws {PoolOptionsError} for bad options (named, with what came)
   * @throws the provider's start error when an appliance cannot start (those started are removed)
   */
  static async create<C extends AnyEnvClient>(EnvClass: EnvClientClass<C>, options: EnvPoolOptions): Promise<EnvPool<C>> {
    const pool = new EnvPool(EnvClass, resolvePoolOptions(options));
    const { source } = pool.#options;
    if ('baseUrls' in source) {
      for (const baseUrl of source.baseUrls) pool.#appliances.push(pool.#appliance(baseUrl.replace(/\/+$/, ''), source.token, undefined));
      return pool;
    }
    const progress = createStartProgress(pool.#options.progress, pool.#options.appliances);
    const results = await Promise.allSettled(
      Array.from({ length: pool.#options.appliances }, async () => {
        const container = await pool.#startContainer().catch((error: unknown) => {
          progress.failed();
          throw error;
        });
        progress.started();
        pool.#appliances.push(pool.#appliance(container.baseUrl, container.token, container));
      }),
    );
    progress.finish();
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure !== undefined) {
      await pool.close().catch(() => undefined);
      throw failure.reason;
    }
    return pool;
  }

  /** How many episodes are placed now. */
  get size(): number {
    return this.#episodes.length;
  }

  /**
   * Start `n` episodes (closing those of the last reset), each on the least-loaded live
   * appliance, and resolve to their first observations, in order. Waits for appliances being
   * replaced first.
   * @throws {PoolOptionsError} when `n` is not a positive integer or exceeds the pool's capacity
   * @throws {PoolClosedError} after `close()`
   */
  async reset(request: PoolResetOptions): Promise<Array<PoolResult<ObservationOf<C>>>> {
    if (this.#closing !== undefined) throw new PoolClosedError();
    const n = request?.n;
    if (!Number.isInteger(n) || n < 1) throw new PoolOptionsError(`Invalid n: expected a positive integer, received ${JSON.stringify(n)}.`);
    if (request.seeds !== undefined && request.seeds.length !== n) {
      throw new PoolOptionsError(`Invalid seeds: expected ${n} seeds (one per episode), received ${request.seeds.length}.`);
    }
    await Promise.allSettled([...this.#replacing]);
    // Dead appliances whose replacement failed get another try now (a node that went down may be
    // known as down by now, so the scheduler picks another).
    for (const appliance of this.#appliances) if (!appliance.alive) this.#replace(appliance);
    await Promise.allSettled([...this.#replacing]);
    await this.#closeEpisodes();
    const live = this.#appliances.filter((a) => a.alive).length;
    const capacity = live * this.#options.episodesPerAppliance;
    if (n > capacity) {
      const failed = this.#appliances.find((a) => !a.alive && a.replaceError !== undefined)?.replaceError;
      const why = failed === undefined ? '' : `; replacing a dead appliance failed: ${(failed as Error).message ?? String(failed)}`;
      throw new PoolOptionsError(
        `Invalid n: expected at most ${capacity} (${live} live appliances × episodesPerAppliance ${this.#options.episodesPerAppliance}), received ${n}${why}.`,
        failed === undefined ? undefined : { cause: failed },
      );
    }
    for (const appliance of this.#appliances) appliance.capacity = this.#options.episodesPerAppliance;
    const slots: Array<PoolResult<ObservationOf<C>>> = new Array(n);
    // Place all first (so the load is spread as the batch is, not as the answers come), then reset all at once.
    const placed: Array<Episode<Client<C>> | undefined> = Array.from({ length: n }, () => this.#place(undefined));
    await Promise.all(
      placed.map(async (episode, index) => {
        const body = { ...request.options, ...(request.seeds === undefined ? {} : { seed: request.seeds[index] }) };
        slots[index] = await this.#startEpisode(episode, index, body);
      }),
    );
    return slots;
  }

  /**
   * One action per episode (in the order of the last `reset`), sent at once; resolves when all
   * have answered, one entry per episode, in order.
   * @throws {PoolOptionsError} when `actions` does not have one entry per episode
   * @throws {PoolClosedError} after `close()`
   */
  async step(actions: ReadonlyArray<ActionOf<C>>): Promise<Array<PoolResult<ObservationOf<C>>>> {
    if (this.#closing !== undefined) throw new PoolClosedError();
    if (!Array.isArray(actions) || actions.length !== this.#episodes.length) {
      throw new PoolOptionsError(
        `Invalid actions: expected an array of ${this.#episodes.length} actions (one per episode of the last reset), received ${Array.isArray(actions) ? `${actions.length}` : typeof actions}.`,
      );
    }
    const started = performance.now();
    const before = new Map(this.#appliances.map((a) => [a, a.steps]));
    const results = await Promise.all(this.#episodes.map((episode, index) => this.#stepEpisode(episode, index, actions[index])));
    const seconds = (performance.now() - started) / 1000;
    for (const [appliance, steps] of before) if (appliance.steps > steps) appliance.stepsPerSecond = (appliance.steps - steps) / seconds;
    return results;
  }

  /** Per-appliance episodes, steps, steps/s and errors; dead, replaced and moved counts. */
  stats(): PoolStats {
    return {
      appliances: this.#appliances.map((a) => ({ baseUrl: a.baseUrl, episodes: a.episodes, steps: a.steps, stepsPerSecond: a.stepsPerSecond, errors: a.errors, alive: a.alive })),
      episodes: this.#episodes.filter((e) => e.lost === undefined).length,
      dead: this.#dead,
      replaced: this.#replaced,
      moved: this.#moved,
    };
  }

  /** Close every episode and remove every appliance the pool started (never `baseUrls` servers). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#replacing]);
      await this.#closeEpisodes();
      const containers = this.#appliances.flatMap((a) => (a.container === undefined ? [] : [a.container]));
      const results = await Promise.allSettled([...containers.map((c) => c.close()), ...this.#retiring]);
      const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failure !== undefined) throw failure.reason;
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #appliance(baseUrl: string, token: string | undefined, container: Container | undefined): Appliance {
    return { baseUrl, token, container, episodes: 0, capacity: this.#options.episodesPerAppliance, steps: 0, errors: 0, stepsPerSecond: 0, alive: true, probing: undefined };
  }

  /** Start an appliance through the provider; `replaces`: the dead one it takes the place of. */
  #startContainer(replaces?: Container): Promise<Container> {
    const { source } = this.#options;
    if (!('provider' in source)) throw new Error('unreachable: no provider');
    const { provider, spec } = source;
    const command = spec.command ?? this.#EnvClass.dockerCommand;
    const image = spec.image ?? provider.defaultImage ?? DEFAULT_IMAGE_TAG;
    return provider.start({ ...spec, image, ...(command === undefined ? {} : { command }), ...(replaces === undefined ? {} : { replaces }) });
  }

  /** A new episode's client on the least-loaded live appliance with room (not in `exclude`), or undefined. */
  #place(exclude: Set<Appliance> | undefined): Episode<Client<C>> | undefined {
    let best: Appliance | undefined;
    for (const appliance of this.#appliances) {
      if (!appliance.alive || appliance.episodes >= appliance.capacity || exclude?.has(appliance) === true) continue;
      if (best === undefined || appliance.episodes < best.episodes) best = appliance;
    }
    if (best === undefined) return undefined;
    best.episodes += 1;
    const options: ConstructorParameters<EnvClientClass<C>>[0] = { baseUrl: best.baseUrl, transport: 'ws', timeoutMs: this.#options.timeoutMs };
    if (best.token !== undefined) options.token = best.token;
    return { client: new this.#EnvClass(options) as Client<C>, appliance: best, done: false, lost: undefined };
  }

  /** Reset `episode` (moving it on CAPACITY_EXCEEDED) and keep it as episode `index`. */
  async #startEpisode(first: Episode<Client<C>> | undefined, index: number, body: Record<string, unknown>): Promise<PoolResult<ObservationOf<C>>> {
    const tried = new Set<Appliance>();
    let episode = first;
    for (;;) {
      if (episode === undefined) {
        const error = new PoolOptionsError(`Episode ${index} could not be placed: every live appliance is full or refused it (CAPACITY_EXCEEDED); lower n or add appliances.`);
        this.#episodes[index] = { client: undefined as never, appliance: undefined as never, done: false, lost: undefined };
        return { error };
      }
      this.#episodes[index] = episode;
      tried.add(episode.appliance);
      try {
        const result = (await episode.client.reset(body)) as StepResult<ObservationOf<C>>;
        episode.done = result.done;
        return result;
      } catch (error) {
        episode.appliance.errors += 1;
        if (error instanceof CapacityExceededError) {
          // It holds fewer than we thought: remember, and try the next least-loaded one.
          episode.appliance.capacity = Math.max(0, episode.appliance.episodes - 1);
          await this.#release(episode);
          this.#moved += 1;
          episode = this.#place(tried);
          continue;
        }
        return this.#failed(episode, index, error);
      }
    }
  }

  async #stepEpisode(episode: Episode<Client<C>>, index: number, action: ActionOf<C>): Promise<PoolResult<ObservationOf<C>>> {
    if (episode.client === undefined) return { error: new PoolOptionsError(`Episode ${index} was never placed; call reset() again.`) };
    if (episode.lost !== undefined) return { error: episode.lost, stateLost: true };
    try {
      if (episode.done && this.#options.autoReset) {
        const result = (await episode.client.reset({})) as StepResult<ObservationOf<C>>;
        episode.done = result.done;
        return { ...result, autoReset: true };
      }
      const result = (await episode.client.step(action)) as StepResult<ObservationOf<C>>;
      episode.appliance.steps += 1;
      episode.done = result.done;
      return result;
    } catch (error) {
      episode.appliance.errors += 1;
      return this.#failed(episode, index, error);
    }
  }

  /**
   * The slot of a failed call. A transport failure ends the episode's WebSocket, and with it its
   * session: the episode's state is lost either way. The appliance is then probed (once for all
   * its failing episodes): a dead one loses every episode on it and is replaced.
   */
  async #failed(episode: Episode<Client<C>>, index: number, error: unknown): Promise<PoolResult<ObservationOf<C>>> {
    const envboxError = error instanceof EnvboxError ? error : new EnvboxError('INTERNAL', 0, (error as Error).message ?? String(error), { cause: error });
    if (!(error instanceof TransportError) && envboxError.code !== 'CONTAINER_GONE') return { error: envboxError };
    const appliance = episode.appliance;
    appliance.probing ??= this.#probe(appliance).finally(() => {
      appliance.probing = undefined;
    });
    const dead = appliance.alive ? await appliance.probing : 'found dead before';
    if (dead !== undefined) this.#bury(appliance, dead);
    const why = dead === undefined ? `its WebSocket broke: ${envboxError.message.replace(/\.$/, '')}` : `the appliance died: ${dead}`;
    episode.lost ??= new EpisodeLostError(index, appliance.baseUrl, why, { cause: error });
    return { error: episode.lost, stateLost: true };
  }

  /** Why `appliance` is dead, or undefined while it lives: its container's state, else its health. */
  async #probe(appliance: Appliance): Promise<string | undefined> {
    if (!appliance.alive) return 'found dead before';
    if (appliance.container !== undefined) {
      const state = await appliance.container.state();
      if (state !== undefined && !state.running) return `its container is ${state.status}${state.exitCode === null ? '' : ` with exit code ${state.exitCode}`}`;
    }
    try {
      await checkHealth(appliance, { timeoutMs: DEFAULT_LIVENESS_TIMEOUT_MS });
      return undefined;
    } catch (error) {
      return (error as Error).message.replace(/\.$/, '');
    }
  }

  /** Mark `appliance` dead: its episodes lose their state; with a provider, a replacement starts. */
  #bury(appliance: Appliance, why: string): void {
    if (!appliance.alive) return;
    appliance.alive = false;
    this.#dead += 1;
    this.#episodes.forEach((episode, index) => {
      if (episode.appliance === appliance) episode.lost ??= new EpisodeLostError(index, appliance.baseUrl, `the appliance died: ${why}`);
    });
    if (appliance.container !== undefined) {
      const retire = appliance.container.close().catch(() => undefined);
      this.#retiring.add(retire);
      void retire.finally(() => this.#retiring.delete(retire));
    }
    this.#replace(appliance);
  }

  /**
   * With a provider, start a replacement of dead `appliance` in the background (`reset()` waits
   * for it). A failed one leaves the dead appliance in its place, with the error: the next
   * `reset()` tries again.
   */
  #replace(appliance: Appliance): void {
    if (!('provider' in this.#options.source) || this.#closing !== undefined || appliance.replacing !== undefined) return;
    // The first try keeps off the dead one's machine (its engine may be dying yet listed as
    // ready); a retry (at the next reset) lets the provider choose freely.
    const replaces = appliance.replaceError === undefined ? appliance.container : undefined;
    const replacing = this.#startContainer(replaces).then(
      (container) => {
        const index = this.#appliances.indexOf(appliance);
        this.#appliances.splice(index, 1, this.#appliance(container.baseUrl, container.token, container));
        this.#replaced += 1;
      },
      (error: unknown) => {
        appliance.replaceError = error;
      },
    );
    appliance.replacing = replacing;
    this.#replacing.add(replacing);
    void replacing.finally(() => {
      this.#replacing.delete(replacing);
      appliance.replacing = undefined;
    });
  }

  async #release(episode: Episode<Client<C>>): Promise<void> {
    episode.appliance.episodes -= 1;
    await closeQuietly(episode.client, this.#options.timeoutMs);
  }

  async #closeEpisodes(): Promise<void> {
    const episodes = this.#episodes.filter((episode) => episode.client !== undefined);
    this.#episodes = [];
    await Promise.all(episodes.map((episode) => this.#release(episode)));
  }
}

/** Close a client, bounded by `timeoutMs`, never throwing (a dead peer must not hang the pool). */
async function closeQuietly(client: { close(): Promise<void> }, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.close().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
}
