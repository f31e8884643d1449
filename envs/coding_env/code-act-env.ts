import { randomInt, randomUUID } from 'node:crypto';
import { InvalidRequestError, InvalidTaskError, type Environment, type ResetOptions, type StepOptions } from '../../protocol/index.js';
import type { Sandbox, WarmPool } from '../../sandbox/index.js';
import type { Judge } from './judge/judge.js';
import type { CodeObservation, CodeResetRequest, CodeState, Language, TaskCodeAction } from './models.js';
import type { TaskSet } from './task-set/task-set.js';
import type { Task } from './task-set/task.js';
import { applyTransforms, type RewardTransform } from './transforms/index.js';

/** A server's task set and the judge of its submissions (a server started with `--tasks`). */
export interface TaskEpisodes {
  taskSet: TaskSet;
  judge: Judge;
}

/**
 * Code episodes in Python or JavaScript: each reset takes a fresh sandbox of the episode's
 * language from its warm pool (nothing survives from the previous episode), each step runs code
 * in it. A sandbox destroyed mid-step or while idle (137, state lost) is replaced by a fresh one
 * at the next step. On a server with a task set every episode has a task (chosen by the reset) and
 * ends with a submission, which the judge scores.
 */
export class CodeActEnv implements Environment<TaskCodeAction, CodeObservation, CodeState, CodeResetRequest> {
  readonly #pools: Readonly<Record<Language, WarmPool>>;
  readonly #transforms: readonly RewardTransform[];
  readonly #defaultLanguage: Language;
  readonly #onStateLost: (language: Language) => void;
  readonly #tasks: TaskEpisodes | undefined;
  #language: Language;
  #sandbox: Sandbox | undefined;
  #episodeId: string | null = null;
  #stepCount = 0;
  #lastExitCode = 0;
  #task: Task | undefined;
  /** The code of the steps that exited 0 since the sandbox's state began: what a bare submit submits. */
  #history: string[] = [];
  #done = false;

  /**
   * @param defaultLanguage the language of an episode whose reset names none
   * @param onStateLost told each time a step finds its sandbox killed (exit 137, state lost)
   * @param tasks the task set and judge, on a server that has them
   */
  constructor(
    pools: Readonly<Record<Language, WarmPool>>,
    transforms: readonly RewardTransform[],
    defaultLanguage: Language,
    onStateLost: (language: Language) => void = () => undefined,
    tasks?: TaskEpisodes,
  ) {
    this.#onStateLost = onStateLost;
    this.#pools = pools;
    this.#transforms = transforms;
    this.#defaultLanguage = defaultLanguage;
    this.#language = defaultLanguage;
    this.#tasks = tasks;
  }

  async reset(options: ResetOptions<CodeResetRequest>): Promise<CodeObservation> {
    const task = this.#chooseTask(options);
    if (task !== undefined && options.language != null && options.language !== task.language) {
      throw new InvalidTaskError(`Task ${JSON.stringify(task.id)} is in ${task.language}, but the reset asked for ${options.language}; leave language out.`);
    }
    this.#discardSandbox();
    // Like every reset option, the language is per episode: absent, it is the task's or the server's default.
    const language = task?.language ?? options.language ?? this.#defaultLanguage;
    this.#sandbox = await this.#pools[language].acquire();
    this.#language = language;
    this.#episodeId = options.episode_id ?? randomUUID();
    this.#stepCount = 0;
    this.#lastExitCode = 0;
    this.#task = task;
    this.#history = [];
    this.#done = false;
    const metadata = task === undefined ? { result: null, language } : { result: null, language, task_id: task.id, prompt: task.prompt };
    return { stdout: '', stderr: '', exit_code: 0, done: false, reward: null, metadata };
  }

  async step(action: TaskCodeAction, options: StepOptions): Promise<CodeObservation> {
    if (this.#done) throw new InvalidRequestError('This episode ended with its submission; call reset() to start another.');
    if (action.submit === true) return this.#submit(action.code, options);
    const code = action.code ?? '';
    // A sandbox that died while idle still answers (137, state lost), so the agent learns that
    // its state is gone; the step after that gets a fresh one.
    if (this.#sandbox === undefined) {
      this.#sandbox = await this.#pools[this.#language].acquire();
      this.#episodeId ??= randomUUID();
    }
    const result = await this.#sandbox.run(code, { timeoutMs: options.timeoutMs, signal: options.signal });
    if (result.stateLost) {
      this.#onStateLost(this.#language);
      this.#discardSandbox();
      this.#history = [];
    } else if (result.exitCode === 0) this.#history.push(code);
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
        ...(this.#task === undefined ? {} : { task_id: this.#task.id }),
      },
    };
    return applyTransforms(this.#transforms, { ...action, code }, observation);
  }

  state(): CodeState {
    return {
      episode_id: this.#episodeId,
      step_count: this.#stepCount,
      last_exit_code: this.#lastExitCode,
      language: this.#language,
      // Only a server with tasks says which: without, the state is what it always was.
      ...(this.#tasks === undefined ? {} : { task_id: this.#task?.id ?? null }),
    };
  }

  async close(): Promise<void> {
    const sandbox = this.#sandbox;
    this.#sandbox = undefined;
    await sandbox?.close();
  }

  /** The submission is what the episode ran successfully, then `code`; the judge scores it in sandboxes of its own. */
  async #submit(code: string | undefined, options: StepOptions): Promise<CodeObservation> {
    const task = this.#task;
    if (task === undefined || this.#tasks === undefined) {
      throw new InvalidTaskError('Nothing to submit to: this episode has no task. Start the server with --tasks and reset with {split, index}, {task_id} or a seed.');
    }
    const submission = [...this.#history, ...(code === undefined ? [] : [code])].join('\n');
    const judgement = await this.#tasks.judge.judge(task, submission, { signal: options.signal });
    this.#stepCount += 1;
    this.#lastExitCode = 0;
    this.#done = true;
    this.#discardSandbox();
    return {
      stdout: `${judgement.passed}/${judgement.total} tests passed\n`,
      stderr: '',
      exit_code: 0,
      done: true,
      reward: judgement.reward,
      metadata: { result: null, language: task.language, task_id: task.id, judge: judgement },
    };
  }

  /**
   * The task a reset asks for: `{task_id}`, `{split, index}`, `{split}` or nothing with a `seed`
   * (reproducible) or without (random); none on a server without a task set.
   * @throws {InvalidTaskError} for an unknown id or split, an index out of range, or a task asked of a server without tasks
   */
  #chooseTask(options: CodeResetRequest): Task | undefined {
    const asked = options.task_id != null || options.split != null || options.index != null;
    if (this.#tasks === undefined) {
      if (asked) throw new InvalidTaskError('This server has no task set; start it with --tasks <file.jsonl | dir> to reset on a task.');
      return undefined;
    }
    const { taskSet } = this.#tasks;
    if (options.task_id != null) {
      const task = taskSet.byId(options.task_id);
      if (task === undefined) throw new InvalidTaskError(`No task with id ${JSON.stringify(options.task_id)}; list them with POST /coding_env/tasks.`);
      return task;
    }
    if (options.index != null && options.split == null) throw new InvalidTaskError('index needs a split: reset with {split, index}.');
    const pool = options.split == null ? taskSet.all() : taskSet.tasks(options.split);
    if (pool === undefined) {
      throw new InvalidTaskError(`No split ${JSON.stringify(options.split)}; the splits are ${taskSet.splits().map((s) => s.name).join(', ')}.`);
    }
    if (options.index != null) {
      const task = pool[options.index];
      if (options.index < 0 || task === undefined) {
        throw new InvalidTaskError(`Index ${options.index} is out of range for split ${JSON.stringify(options.split)}, which has ${pool.length} tasks (0 to ${pool.length - 1}).`);
      }
      return task;
    }
    return pool[options.seed == null ? randomInt(pool.length) : options.seed % pool.length];
  }

  #discardSandbox(): void {
    // Closing kills the process or frees the context; nobody needs to wait for it.
    void this.#sandbox?.close();
    this.#sandbox = undefined;
  }
}
