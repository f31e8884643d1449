import type { z } from 'zod';
import { EnvClient, parseResponse, type ClientCallOptions, type EnvClientOptions } from '../../client/index.js';
import type { EvaluateItem } from './judge/evaluate.js';
import { CodeObservation, CodeState, EvaluateResponse, type TaskCodeAction } from './models.js';

/**
 * Typed client of coding_env.
 * @example
 * await using env = await CodingEnv.fromDockerImage(); // envbox/appliance:latest, removed when env is disposed
 * // or, with a server already running: new CodingEnv({ baseUrl: 'http://127.0.0.1:8000' })
 * await env.reset();
 * await env.step({ code: 'x = 41' });
 * (await env.step({ code: 'x + 1' })).observation.metadata.result; // '42'
 * // on a server started with --tasks: a batch judged without episodes
 * await env.evaluate([{ task_id: 'py/add', code: 'def add(a, b):\n    return a + b' }]); // [{ reward: 1, passed: 3, total: 3, tests: [...] }]
 */
export class CodingEnv extends EnvClient<z.input<typeof TaskCodeAction>, CodeObservation, CodeState> {
  constructor(options: EnvClientOptions) {
    super({ observation: CodeObservation, state: CodeState }, options);
  }

  /**
   * Judge submissions without episodes (`POST /evaluate`, on a server started with `--tasks`):
   * each item names its task (`task_id`, or `split` and `index`) and carries code. Results come in
   * the items' order: the verdict (`reward`, `passed`, `total`, `tests`) or `{error}` for an item
   * that could not be judged.
   * @throws {NotSupportedError} when the server has no task set
   * @throws {InvalidRequestError} for more items than the server's `--max-evaluate-items`, or none
   */
  async evaluate(items: readonly EvaluateItem[], options: ClientCallOptions = {}): Promise<EvaluateResponse['results']> {
    return parseResponse(EvaluateResponse, await this.post('/evaluate', { items }, options), 'POST /evaluate').results;
  }
}
