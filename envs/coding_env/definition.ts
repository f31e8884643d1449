import { readFileSync } from 'node:fs';
import { Counter, Gauge, type Registry } from 'prom-client';
import { METRICS_PREFIX, type EnvDefinition, type EnvFactory } from '../../protocol/index.js';
import { createLanguageBackends, WarmPool, type JavaScriptBackendOptions, type PythonBackendOptions, type SandboxBackend } from '../../sandbox/index.js';
import { CodeActEnv, type TaskEpisodes } from './code-act-env.js';
import { batchEvaluator, DEFAULT_MAX_EVALUATE_ITEMS } from './judge/evaluate.js';
import { Judge, type JudgeOptions } from './judge/judge.js';
import { CodeAction, CodeObservation, CodeResetRequest, CodeState, DEFAULT_LANGUAGE, LANGUAGE_NAMES, TaskCodeAction, type Language } from './models.js';
import { CodingEnvServeOptions, DEFAULT_POOL_SIZE } from './options.js';
import { taskSpec } from './task-set/task.js';
import { TaskSet } from './task-set/task-set.js';
import { CODING_ENV_TOOLS } from './tools.js';
import { defaultTransforms, type RewardTransform } from './transforms/index.js';

const README = readFileSync(new URL('./README.md', import.meta.url), 'utf8');

/** Options of {@link createCodingEnvDefinition}. */
export interface CodingEnvOptions {
  /** The Python sandbox backend, or `auto` to choose at start (see `createPythonBackend`). @default 'auto' */
  pythonBackend?: CodingEnvServeOptions['pythonBackend'];
  /** Sandboxes started ahead, per language. @default 4 */
  poolSize?: number;
  /** Limits, output cap, subprocess policy, isolation requirement of the Python sandboxes. */
  sandbox?: PythonBackendOptions;
  /** Limits and worker layout of the JavaScript sandboxes. */
  javascript?: JavaScriptBackendOptions;
  /** The language of episodes whose reset names none. @default 'python' */
  defaultLanguage?: Language;
  /** The reward pieces, summed. @default safety + quality */
  transforms?: readonly RewardTransform[];
  /** Told about sandboxes that failed to start in the background. */
  onPoolError?: (error: unknown) => void;
  /** A task set (or the path of one, see {@link TaskSet.load}): episodes get tasks, submissions are judged. */
  tasks?: TaskSet | string;
  /** How the judge scores and shows submissions, and how many tests it runs at once. */
  judge?: JudgeOptions;
  /** Items one `POST /evaluate` may carry. @default 256 */
  maxEvaluateItems?: number;
}

/**
 * coding_env as the server serves it: probes the sandbox backend, fills the warm pool and returns
 * the definition; its `close()` empties the pool.
 * @throws {IsolationUnavailableError} when isolation is required and the host cannot give it
 */
export async function createCodingEnvDefinition(options: CodingEnvOptions = {}): Promise<EnvDefinition<TaskCodeAction, CodeObservation, CodeState, CodeResetRequest>> {
  // Read first: a bad task set refuses the start before any sandbox is started.
  const taskSet = typeof options.tasks === 'string' ? TaskSet.load(options.tasks) : options.tasks;
  // The language table: one backend per language, each with a warm pool and a kill count.
  const backends = await createLanguageBackends(LANGUAGE_NAMES, {
    python: { backend: options.pythonBackend, ...options.sandbox },
    javascript: { maxOutputBytes: options.sandbox?.maxOutputBytes, ...options.javascript },
  });
  const poolOptions = { size: options.poolSize ?? DEFAULT_POOL_SIZE, ...(options.onPoolError ? { onError: options.onPoolError } : {}) };
  const pools = byLanguage((language) => new WarmPool(backends[language], poolOptions));
  const kills = byLanguage(() => 0);
  const transforms = options.transforms ?? defaultTransforms();
  const defaultLanguage = options.defaultLanguage ?? DEFAULT_LANGUAGE;
  const poolHealth = (pool: WarmPool) => ({ ready: pool.readyCount, starting: pool.startingCount, size: pool.size });
  const [first, ...others] = LANGUAGE_NAMES;
  const tasks: TaskEpisodes | undefined = taskSet === undefined ? undefined : { taskSet, judge: new Judge(pools, options.judge) };
  return {
    name: 'coding_env',
    description: 'Runs Python or JavaScript code step by step in a sandbox; state persists within an episode.',
    version: '1.1.0',
    readme: README,
    // A server with tasks takes submissions too; without, the action is OpenEnv's CodeAction, unchanged.
    action: tasks === undefined ? CodeAction : TaskCodeAction,
    observation: CodeObservation,
    state: CodeState,
    resetRequest: CodeResetRequest,
    tools: CODING_ENV_TOOLS,
    create: () => new CodeActEnv(pools, transforms, defaultLanguage, (language) => (kills[language] += 1), tasks),
    ...(tasks === undefined
      ? {}
      : {
          tasks: {
            splits: () => tasks.taskSet.splits(),
            list: (split: string) => tasks.taskSet.tasks(split)?.map(taskSpec),
          },
          evaluate: batchEvaluator(tasks.taskSet, tasks.judge, options.maxEvaluateItems ?? DEFAULT_MAX_EVALUATE_ITEMS),
        }),
    metrics: (registry) => {
      registerPoolMetrics(registry, pools, kills);
      registerMemoryBudgetMetrics(registry, backends);
      registerTemplateMetrics(registry, backends);
    },
    health: () => ({
      // The first language's facts at the top level, where /health had them before a second came.
      ...backends[first].health(),
      default_language: defaultLanguage,
      // How many tasks the server judges, with a task set (without one, /health is what it was).
      ...(taskSet === undefined ? {} : { tasks: taskSet.size }),
      // The pool resets without a language take from; `pools` has every language's.
      pool: poolHealth(pools[defaultLanguage]),
      pools: byLanguage((language) => poolHealth(pools[language])),
      // Fresh episodes (sandboxes handed out) per second over the last 10 s, by language.
      episodes_per_second: byLanguage((language) => pools[language].handedOutPerSecond),
      ...Object.fromEntries(others.map((language) => [language, { ...backends[language].health(), pool: poolHealth(pools[language]) }])),
    }),
    close: async () => {
      // The judge's idle testers, then the pools (they hold started sandboxes), then the backends that started them.
      await tasks?.judge.close();
      await Promise.all(LANGUAGE_NAMES.map((language) => pools[language].close()));
      await Promise.all(LANGUAGE_NAMES.map((language) => backends[language].close()));
    },
  };
}

/** A record with one entry per language of coding_env, each made by `make`. */
function byLanguage<T>(make: (language: Language) => T): Record<Language, T> {
  return Object.fromEntries(LANGUAGE_NAMES.map((language) => [language, make(language)])) as Record<Language, T>;
}

/**
 * coding_env's metrics in an app's registry, read from the shared pools and kill counts at scrape
 * time: `envbox_sandbox_starts_total`, `envbox_sandbox_kills_total`, `envbox_pool_ready` and
 * `envbox_pool_size`, each by `language`.
 */
function registerPoolMetrics(registry: Registry, pools: Readonly<Record<Language, WarmPool>>, kills: Readonly<Record<Language, number>>): void {
  const labelNames = ['language'] as const;
  const registers = [registry];
  // Counters mirror totals kept by the definition (shared by every session), so each scrape resets and sets them.
  const mirror = (read: (language: Language) => number) =>
    function (this: Counter<'language'> | Gauge<'language'>) {
      this.reset();
      for (const language of LANGUAGE_NAMES) this.inc({ language }, read(language));
    };
  new Counter({
    name: `${METRICS_PREFIX}sandbox_starts_total`,
    help: 'Sandboxes started (warm pool fills and on-demand starts), by language.',
    labelNames,
    registers,
    collect: mirror((language) => pools[language].startedCount),
  });
  new Counter({
    name: `${METRICS_PREFIX}sandbox_kills_total`,
    help: 'Steps that found their sandbox killed (exit 137, state lost), by language.',
    labelNames,
    registers,
    collect: mirror((language) => kills[language]),
  });
  new Gauge({
    name: `${METRICS_PREFIX}pool_ready`,
    help: 'Sandboxes ready in the warm pool now, by language.',
    labelNames,
    registers,
    collect: mirror((language) => pools[language].readyCount),
  });
  new Gauge({
    name: `${METRICS_PREFIX}pool_size`,
    help: 'Sandboxes the warm pool keeps ready, by language.',
    labelNames,
    registers,
    collect: mirror((language) => pools[language].size),
  });
}

/**
 * The episode memory budgets of the languages whose backends have one (JavaScript), read at scrape
 * time: `envbox_episode_memory_budget_bytes`, `envbox_episode_memory_used_bytes` and
 * `envbox_episode_memory_refusals_total` by `language` and `kind` (`episode`: a new episode refused;
 * `growth`: a step whose allocation failed inside the guest).
 */
function registerMemoryBudgetMetrics(registry: Registry, backends: Readonly<Record<Language, SandboxBackend>>): void {
  const budgets = LANGUAGE_NAMES.flatMap((language) => {
    const budget = backends[language].memoryBudget;
    return budget === undefined ? [] : [{ language, budget }];
  });
  const registers = [registry];
  new Gauge({
    name: `${METRICS_PREFIX}episode_memory_budget_bytes`,
    help: 'What the episodes living in the server\'s process may hold together, by language.',
    labelNames: ['language'] as const,
    registers,
    collect() {
      for (const { language, budget } of budgets) this.set({ language }, budget.budgetBytes);
    },
  });
  new Gauge({
    name: `${METRICS_PREFIX}episode_memory_used_bytes`,
    help: 'What those episodes are charged now, by language.',
    labelNames: ['language'] as const,
    registers,
    collect() {
      for (const { language, budget } of budgets) this.set({ language }, budget.usedBytes);
    },
  });
  new Counter({
    name: `${METRICS_PREFIX}episode_memory_refusals_total`,
    help: 'Refusals of the episode memory budget, by language and kind (episode: a new episode refused; growth: a step whose allocation failed in the guest).',
    labelNames: ['language', 'kind'] as const,
    registers,
    collect() {
      this.reset();
      for (const { language, budget } of budgets) {
        this.inc({ language, kind: 'episode' }, budget.refusedEpisodes);
        this.inc({ language, kind: 'growth' }, budget.refusedGrowths);
      }
    },
  });
}

/**
 * The sandbox templates of the languages whose backends fork from one (Python's process backend),
 * read from their health at scrape time: `envbox_sandbox_template_forks_total`,
 * `envbox_sandbox_template_fork_failures_total` and `envbox_sandbox_template_restarts_total`, by
 * `language`. Episodes per second are the rate of `envbox_sandbox_starts_total`.
 */
function registerTemplateMetrics(registry: Registry, backends: Readonly<Record<Language, SandboxBackend>>): void {
  const facts = [
    ['forks', 'template_forks', 'Sandboxes forked from a template, by language.'],
    ['fork_failures', 'template_fork_failures', 'Forks from a template that failed, by language.'],
    ['restarts', 'template_restarts', 'Templates started again after the previous one died, by language.'],
  ] as const;
  for (const [name, fact, help] of facts) {
    new Counter({
      name: `${METRICS_PREFIX}sandbox_template_${name}_total`,
      help,
      labelNames: ['language'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const language of LANGUAGE_NAMES) {
          const value = backends[language].health()[fact];
          if (typeof value === 'number') this.inc({ language }, value);
        }
      },
    });
  }
}

/** coding_env as `envbox serve --env coding_env` builds it: its options, then the definition. */
export const CODING_ENV: EnvFactory<typeof CodingEnvServeOptions> = {
  options: CodingEnvServeOptions,
  create: (options, { logger }) => {
    const taskSet = options.tasks === undefined ? undefined : TaskSet.load(options.tasks);
    // Such tasks are judged in the submission's own interpreter, not replayed (docs/ARCHITECTURE.md).
    const unreplayed = taskSet?.all().filter((task) => task.language === 'python' && task.entryPoint === undefined) ?? [];
    if (unreplayed.length > 0) {
      logger.warn('Python tasks without an entry point are judged in the submission\'s interpreter, where a submission that rewrites the runner can forge a pass; give them an entry_point', {
        tasks: unreplayed.slice(0, 10).map((task) => task.id),
        count: unreplayed.length,
      });
    }
    return createCodingEnvDefinition({
      onPoolError: (error) => logger.warn('a sandbox failed to start in the background; retrying', { error }),
      pythonBackend: options.pythonBackend,
      defaultLanguage: options.defaultLanguage,
      poolSize: options.poolSize,
      ...(taskSet === undefined ? {} : { tasks: taskSet }),
      judge: { reward: options.reward, revealTests: options.revealTests, concurrency: options.judgeConcurrency },
      maxEvaluateItems: options.maxEvaluateItems,
      javascript: { memoryBudgetBytes: options.episodeMemoryBudgetBytes },
      sandbox: {
        spawn: options.pythonSpawn,
        maxOutputBytes: options.maxOutputBytes,
        allowSubprocess: options.allowSubprocess,
        requireIsolation: options.requireIsolation,
      },
    });
  },
};
