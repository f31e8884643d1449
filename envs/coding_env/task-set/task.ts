import { z } from 'zod';
import { Language } from '../models.js';

/** Per-test deadline of a task that names none, in seconds. @default 5 */
export const DEFAULT_TEST_TIMEOUT_S = 5;

/** One test of a task: code that raises (Python) or throws (JavaScript) when the submission is wrong. */
export interface TaskTest {
  /** Shown in the judge's per-test results, e.g. `test_1`. */
  name: string;
  /** The test's source; runs after the submission, in a fresh sandbox of its own. */
  code: string;
}

/**
 * A task as envbox holds it, whatever format it was read from: a prompt, the tests that judge a
 * submission, and (never served) a reference solution.
 */
export interface Task {
  /** Unique within the task set. */
  id: string;
  /** The split it was read from (`train`, `test`, ... from its file name). */
  split: string;
  /** Its position in the split, from 0. */
  index: number;
  language: Language;
  prompt: string;
  tests: readonly TaskTest[];
  /** The function the tests call (HumanEval's `check(candidate)` gets it). */
  entryPoint?: string;
  /** Code run before the submission in every test's sandbox (MBPP's `test_setup_code`). */
  setupCode?: string;
  /** Per-test deadline in seconds. */
  timeoutS: number;
  /** A reference solution: proves the tests pass; never served. */
  solution?: string;
}

/**
 * What the Task API and the first observation show of a task: never its tests, its setup or its
 * reference solution.
 */
export const TaskSpec = z.object({
  id: z.string(),
  index: z.number().int().nonnegative(),
  split: z.string(),
  language: Language,
  prompt: z.string(),
  entry_point: z.string().nullable(),
  num_tests: z.number().int().positive(),
});
export type TaskSpec = z.infer<typeof TaskSpec>;

/** The public spec of `task` (see {@link TaskSpec}). */
export function taskSpec(task: Task): TaskSpec {
  return {
    id: task.id,
    index: task.index,
    split: task.split,
    language: task.language,
    prompt: task.prompt,
    entry_point: task.entryPoint ?? null,
    num_tests: task.tests.length,
  };
}
