import { randomUUID } from 'node:crypto';
import type { Environment, ResetOptions, StepOptions } from '../../runtime/index.js';
import type { Sandbox, WarmPool } from '../../sandbox/index.js';
import type { CodeAction, CodeObservation, CodeState } from './models.js';
import { applyTransforms, type RewardTransform } from './transforms/index.js';

/**
 * Python episodes: each reset takes a fresh sandbox from the warm pool (nothing survives from the
 * previous episode), each step runs code in it. A sandbox destroyed mid-step (137, state lost) is
 * replaced by a fresh one at the next step.
 */
export class PythonCodeActEnv implements Environment<CodeAction, CodeObservation, CodeState> {
  readonly #pool: WarmPool;
  readonly #transforms: readonly RewardTransform[];
  #sandbox: Sandbox | undefined;
  #episodeId: string | null = null;
  #stepCount = 0;
  #lastExitCode: number | null = null;

  constructor(pool: WarmPool, transforms: readonly RewardTransform[]) {
    this.#pool = pool;
    this.#transforms = transforms;
  }

  async reset(options: ResetOptions): Promise<CodeObservation> {
    this.#discardSandbox();
    this.#sandbox = await this.#pool.acquire();
    this.#episodeId = options.episode_id ?? randomUUID();
    this.#stepCount = 0;
    this.#lastExitCode = null;
    return { stdout: '', stderr: '', exit_code: 0, result: null, done: false, reward: null, metadata: {} };
  }

  async step(action: CodeAction, options: StepOptions): Promise<CodeObservation> {
    if (this.#sandbox === undefined || !this.#sandbox.alive) {
      this.#discardSandbox();
      this.#sandbox = await this.#pool.acquire();
      this.#episodeId ??= randomUUID();
    }
    const result = await this.#sandbox.run(action.code, { timeoutMs: options.timeoutMs, signal: options.signal });
    if (result.stateLost) this.#discardSandbox();
    this.#stepCount += 1;
    this.#lastExitCode = result.exitCode;
    const observation: CodeObservation = {
      stdout: result.stdout,
      stderr: result.stderr,
      exit_code: result.exitCode,
      result: result.result,
      done: false,
      reward: null,
      metadata: { duration_ms: Math.round(result.durationMs * 1000) / 1000, truncated: result.truncated, state_lost: result.stateLost },
    };
    return applyTransforms(this.#transforms, action, observation);
  }

  state(): CodeState {
    return { episode_id: this.#episodeId, step_count: this.#stepCount, last_exit_code: this.#lastExitCode };
  }

  async close(): Promise<void> {
    const sandbox = this.#sandbox;
    this.#sandbox = undefined;
    await sandbox?.close();
  }

  #discardSandbox(): void {
    // Closing kills the process; nobody needs to wait for it.
    void this.#sandbox?.close();
    this.#sandbox = undefined;
  }
}
