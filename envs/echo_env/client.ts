import type { z } from 'zod';
import { EnvClient, type EnvClientOptions } from '../../client/index.js';
import { EchoObservation, EchoState, type EchoAction } from './models.js';

/**
 * Typed client of echo_env.
 * @example
 * await using env = new EchoEnv({ baseUrl: 'http://127.0.0.1:8000' });
 * await env.reset();
 * const { observation, reward } = await env.step({ message: 'hi' }); // 'hi', 0.2
 */
export class EchoEnv extends EnvClient<z.input<typeof EchoAction>, EchoObservation, EchoState> {
  constructor(options: EnvClientOptions) {
    super({ observation: EchoObservation, state: EchoState }, options);
  }
}
