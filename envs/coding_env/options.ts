import { z } from 'zod';
import { envOption } from '../../protocol/index.js';
import { DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_PYTHON_BACKEND, MIN_EPISODE_MEMORY_BUDGET_BYTES, PYTHON_BACKEND_CHOICES } from '../../sandbox/index.js';
import { DEFAULT_MAX_EVALUATE_ITEMS } from './judge/evaluate.js';
import { DEFAULT_JUDGE_CONCURRENCY, REWARD_MODES } from './judge/judge.js';
import { DEFAULT_LANGUAGE, LANGUAGE_NAMES } from './models.js';

/** Warm sandboxes kept per language. @default 4 */
export const DEFAULT_POOL_SIZE = 4;

/**
 * coding_env's options on `envbox serve`: each field is a flag and an `ENVBOX_*` variable
 * (`pythonBackend` → `--python-backend`, `ENVBOX_PYTHON_BACKEND`).
 */
export const CodingEnvServeOptions = z.strictObject({
  /** Which sandbox runs Python episodes: `auto` chooses at start (process where the host's python3 can serve), or one by name. */
  pythonBackend: envOption(z.enum(PYTHON_BACKEND_CHOICES).default(DEFAULT_PYTHON_BACKEND), {
    expected: `one of ${PYTHON_BACKEND_CHOICES.join(', ')}`,
    help: `sandbox of Python episodes (default ${DEFAULT_PYTHON_BACKEND}: process where /usr/bin/python3 and namespaces serve, else pyodide)`,
  }),
  /** How the process backend starts Python sandboxes under namespaces. */
  pythonSpawn: envOption(z.enum(['template', 'cold']).default('template'), {
    expected: 'template or cold',
    help: 'Python sandboxes under namespaces: forked from a template CPython, or each a bubblewrap and a CPython of its own (default template)',
  }),
  /** Language of episodes whose reset names none. */
  defaultLanguage: envOption(z.enum(LANGUAGE_NAMES).default(DEFAULT_LANGUAGE), {
    expected: `one of ${LANGUAGE_NAMES.join(', ')}`,
    help: `language of episodes whose reset names none (default ${DEFAULT_LANGUAGE})`,
  }),
  /** Let guest code start processes where namespaces contain them. */
  allowSubprocess: envOption(z.boolean().default(false), { expected: 'true or false', help: 'let guest code start processes inside its namespaces' }),
  /** Refuse to start without per-episode namespaces. */
  requireIsolation: envOption(z.boolean().default(false), { expected: 'true or false', help: 'refuse to start without per-episode namespaces' }),
  /** Sandboxes started ahead so reset never waits for a spawn. */
  poolSize: envOption(z.number().int().min(0).max(1024).default(DEFAULT_POOL_SIZE), {
    expected: 'an integer from 0 to 1024',
    help: `sandboxes started ahead (default ${DEFAULT_POOL_SIZE})`,
  }),
  /** Cap of each of stdout and stderr per step. */
  maxOutputBytes: envOption(z.number().int().min(1024).default(DEFAULT_MAX_OUTPUT_BYTES), {
    expected: 'an integer number of bytes of at least 1024',
    help: `cap of stdout and of stderr per step (default ${DEFAULT_MAX_OUTPUT_BYTES})`,
  }),
  /**
   * What all JavaScript episodes' memories may hold together (they live in the server's process);
   * unset, derived from the memory limit (the cgroup's, else the machine's) less the server's needs.
   */
  episodeMemoryBudgetBytes: envOption(z.number().int().min(MIN_EPISODE_MEMORY_BUDGET_BYTES).optional(), {
    expected: `an integer number of bytes of at least ${MIN_EPISODE_MEMORY_BUDGET_BYTES}`,
    help: 'memory all JavaScript episodes may hold together (default: the memory limit less the server\'s reserve)',
  }),
  /** A task set: a JSONL file (one split) or a directory of `<split>.jsonl` files; unset, episodes have no task. */
  tasks: envOption(z.string().min(1).optional(), {
    expected: 'a path to a .jsonl file or a directory of <split>.jsonl files',
    help: 'task set (envbox, HumanEval or MBPP JSONL; a directory holds one file per split): episodes get a task, submit is judged, the Task API and /evaluate answer (default none)',
  }),
  /** How the judge's verdict becomes the reward. */
  reward: envOption(z.enum(REWARD_MODES).default('fraction'), {
    expected: `one of ${REWARD_MODES.join(', ')}`,
    help: 'reward of a submission: the fraction of tests passed, or 1 only when all pass (default fraction)',
  }),
  /** Put each test's source in the judge's per-test results. */
  revealTests: envOption(z.boolean().default(false), { expected: 'true or false', help: 'show each test\'s source in the judge\'s results' }),
  /** Tests judged at once, each in a fresh sandbox. */
  judgeConcurrency: envOption(z.number().int().min(1).max(256).default(DEFAULT_JUDGE_CONCURRENCY), {
    expected: 'an integer from 1 to 256',
    help: `tests judged at once, each in a fresh sandbox (default ${DEFAULT_JUDGE_CONCURRENCY})`,
  }),
  /** Items one POST /evaluate may carry. */
  maxEvaluateItems: envOption(z.number().int().min(1).max(4096).default(DEFAULT_MAX_EVALUATE_ITEMS), {
    expected: 'an integer from 1 to 4096',
    help: `items one POST /evaluate may carry (default ${DEFAULT_MAX_EVALUATE_ITEMS})`,
  }),
});
export type CodingEnvServeOptions = z.output<typeof CodingEnvServeOptions>;
