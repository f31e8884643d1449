import { EnvboxError, type EnvboxErrorOptions } from '../../protocol/index.js';

/** `POOL_OPTIONS`: `EnvPool.create()` or a pool call got options it cannot use (the message names the option). */
export class PoolOptionsError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('POOL_OPTIONS', 0, message, options);
  }
}

/**
 * `STATE_LOST`: an episode's state is gone, as with a 137 observation: the appliance it ran on died
 * (its container stopped, its server stopped answering), or its WebSocket broke (a call timed out
 * or the connection dropped: the server closes a WebSocket's session with it). `reset()` places
 * the episode again; the pool replaces a dead appliance through its provider when it has one.
 */
export class EpisodeLostError extends EnvboxError {
  /** The episode's index in the batch. */
  readonly episode: number;
  /** Where the appliance answered. */
  readonly baseUrl: string;

  /** @param why what happened, e.g. `the appliance died: its container is exited with code 137` */
  constructor(episode: number, baseUrl: string, why: string, options?: EnvboxErrorOptions) {
    super('STATE_LOST', 0, `Episode ${episode} on the appliance at ${baseUrl} lost its state (${why}). Call pool.reset() to start it again on a live appliance.`, options);
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
