import { randomUUID } from 'node:crypto';
import type { Environment, ResetOptions, StepOptions } from '../../protocol/index.js';
import type { Sandbox, WarmPool } from '../../sandbox/index.js';
import type { CodeAction, CodeObservation, CodeResetRequest, CodeState, Language } from './models.js';
import { applyTransforms, type RewardTransform } from './transforms/index.js';

/**
 * Code episodes in Python or JavaScript: each reset takes a fresh sandbox of the episode's
 * language from its warm pool (nothing survives from the previous episode), each step runs code
 * in it. A sandbox destroyed mid-step or while idle (137, state lost) is replaced by a fresh one
 * at the next step.
 */
export class CodeActEnv implements Environment<CodeAction, CodeObservation, CodeState, CodeResetRequest> {
  readonly #pools: Readonly<Record<Language, WarmPool>>;
  readonly #transforms: readonly RewardTransform[];
  readonly #defaultLanguage: Language;
  readonly #onStateLost: (language: Language) => void;
  #language: Language;
  #sandbox: Sandbox | undefined;
  #episodeId: string | null = null;
  #stepCount = 0;
  #lastExitCode = 0;

  /**
   * @param defaultLanguage the language of an episode whose reset names none
   * @param onStateLost told each time a step finds its sandbox killed (exit 137, state lost)
   */
  constructor(
    pools: Readonly<Record<Language, WarmPool>>,
    transforms: readonly RewardTransform[],
    defaultLanguage: Language,
    onStateLost: (language: Language) => void = () => undefined,
  ) {
    this.#onStateLost = onStateLost;
    this.#pools = pools;
    this.#transforms = transforms;
    this.#defaultLanguage = defaultLanguage;
    this.#language = defaultLanguage;
  }

  async reset(options: ResetOptions<CodeResetRequest>): Promise<CodeObservation> {
    this.#discardSandbox();
    // Like every reset option, the language is per episode: absent, it is the server's default.
    const language = options.language ?? this.#defaultLanguage;
    this.#sandbox = await this.#pools[language].acquire();
    this.#language = language;
    this.#episodeId = options.episode_id ?? randomUUID();
    this.#stepCount = 0;
    this.#lastExitCode = 0;
    return { stdout: '', stderr: '', exit_code: 0, done: false, reward: null, metadata: { result: null, language } };
  }

  async step(action: CodeAction, options: StepOptions): Promise<CodeObservation> {
    // A sandbox that died while idle still answers (137, state lost), so the agent learns that
    // its state is gone; the step after that gets a fresh one.
    if (this.#sandbox === undefined) {
      this.#sandbox = await this.#pools[this.#language].acquire();
      this.#episodeId ??= randomUUID();
    }
    const result = await this.#sandbox.run(action.code, { timeoutMs: options.timeoutMs, signal: options.signal });
    if (result.stateLost) {
      this.#onStateLost(this.#language);
      this.#discardSandbox();
    }
    this.#stepCount += 1;
    this.#lastExitCode = result.exitCode;
    const observation: CodeObservation = {
      stdout: result.stdout,
      stderr: result.stderr,
      exit_code: result.exitCode,
      done: false,
      reward: null,
      metadata: {
        result: result.result,
        language: this.#language,
        duration_ms: Math.round(result.durationMs * 1000) / 1000,
        truncated: result.truncated,
        state_lost: result.stateLost,
      },
    };
    return applyTransforms(this.#transforms, action, observation);
  }

  state(): CodeState {
    return { episode_id: this.#episodeId, step_count: this.#stepCount, last_exit_code: this.#lastExitCode, language: this.#language };
  }

  async close(): Promise<void> {
    const sandbox = this.#sandbox;
    this.#sandbox = undefined;
    await sandbox?.close();
  }

  #discardSandbox(): void {
    // Closing kills the process or frees the context; nobody needs to wait for it.
    void this.#sandbox?.close();
    this.#sandbox = undefined;
  }
}
