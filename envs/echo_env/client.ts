import type { z } from 'zod';
import { EnvClient, type EnvClientOptions } from '../../client/index.js';
import { EchoObservation, EchoState, type EchoAction } from './models.js';

/**
 * Typed client of echo_env.
 * @example
 * await using env = await EchoEnv.fromDockerImage(); // envbox/appliance:latest, removed when env is disposed
 * // or, with a server already running: new EchoEnv({ baseUrl: 'http://127.0.0.1:8000' })
 * await env.reset();
 * const { observation, reward } = await env.step({ message: 'hi' }); // 'hi', 0.2
 */
export class EchoEnv extends EnvClient<z.input<typeof EchoAction>, EchoObservation, EchoState> {
  /** `fromDockerImage` serves echo_env from the appliance (whose default is coding_env). */
  static override readonly dockerCommand = ['--env', 'echo_env'];

  constructor(options: EnvClientOptions) {
    super({ observation: EchoObservation, state: EchoState }, options);
  }
}
