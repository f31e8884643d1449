import { EnvboxError, type EnvboxErrorOptions } from '../../protocol/index.js';

/** `POOL_OPTIONS`: `EnvPool.create()` or a pool call got options it cannot use (the message names the option). */
export class PoolOptionsError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('POOL_OPTIONS', 0, message, options);
  }
}

/**
 * `STATE_LOST`: the appliance an episode ran on died (its container stopped, its server stopped
 * answering), so the episode's state is gone, as with a 137 observation. `reset()` places the
 * episode again; the pool replaces the appliance through its provider when it has one.
 */
export class EpisodeLostError extends EnvboxError {
  /** The episode's index in the batch. */
  readonly episode: number;
  /** Where the appliance answered. */
  readonly baseUrl: string;

  constructor(episode: number, baseUrl: string, why: string, options?: EnvboxErrorOptions) {
    super(
      'STATE_LOST',
      0,
      `Episode ${episode} was on the appliance at ${baseUrl}, which died (${why}); its state is lost. Call pool.reset() to start it again on a live appliance.`,
      options,
    );
    this.episode = episode;
    this.baseUrl = baseUrl;
  }
}

/** `POOL_CLOSED`: a call on a pool after `close()`. */
export class PoolClosedError extends EnvboxError {
  constructor() {
    super('POOL_CLOSED', 0, 'This EnvPool is closed; create a new one with EnvPool.create().');
  }
}
