import type { z } from 'zod';
import { EnvClient, type EnvClientOptions } from 'envbox';
import { BlackjackObservation, BlackjackState, type BlackjackAction } from './models.js';

/**
 * The typed client of blackjack: observations and states parsed with its own schemas.
 * @example
 * await using env = await BlackjackEnv.fromDockerImage('blackjack:latest'); // removed when env is disposed
 * // or, with a server running: new BlackjackEnv({ baseUrl: 'http://127.0.0.1:8000', transport: 'ws' })
 * const { observation } = await env.reset({ seed: 1 });
 * const { reward, done } = await env.step({ action: observation.player_sum < 17 ? 'hit' : 'stick' });
 */
export class BlackjackEnv extends EnvClient<z.input<typeof BlackjackAction>, BlackjackObservation, BlackjackState> {
  constructor(options: EnvClientOptions) {
    super({ observation: BlackjackObservation, state: BlackjackState }, options);
  }
}
