import type { z } from 'zod';
import { EnvClient, type EnvClientOptions } from '../../client/index.js';
import { CodeObservation, CodeState, type CodeAction } from './models.js';

/**
 * Typed client of coding_env.
 * @example
 * await using env = await CodingEnv.fromDockerImage(); // envbox/appliance:latest, removed when env is disposed
 * // or, with a server already running: new CodingEnv({ baseUrl: 'http://127.0.0.1:8000' })
 * await env.reset();
 * await env.step({ code: 'x = 41' });
 * (await env.step({ code: 'x + 1' })).observation.metadata.result; // '42'
 */
export class CodingEnv extends EnvClient<z.input<typeof CodeAction>, CodeObservation, CodeState> {
  constructor(options: EnvClientOptions) {
    super({ observation: CodeObservation, state: CodeState }, options);
  }
}
