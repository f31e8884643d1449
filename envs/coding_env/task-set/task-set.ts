import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { z } from 'zod';
import { detectFormat, FORMAT_SCHEMAS, toTask } from './task-formats.js';
import { TaskSetError } from './task-set-error.js';
import type { Task } from './task.js';

/** The split types OpenEnv's Task API knows; any other split name is of type `validation`. */
const SPLIT_TYPES = new Set(['train', 'validation', 'test']);

/** A split as `GET /{env}/splits` shows it. */
export interface SplitInfo {
  name: string;
  type: string;
}

/**
 * The tasks a coding_env server serves, by split, read once at start from a JSONL file (one split,
 * named after the file) or a directory of them (one split per `<split>.jsonl`). Immutable.
 */
export class TaskSet {
  readonly #splits: ReadonlyMap<string, readonly Task[]>;
  readonly #byId: ReadonlyMap<string, Task>;

  constructor(splits: ReadonlyMap<string, readonly Task[]>) {
    this.#splits = splits;
    this.#byId = new Map([...splits.values()].flat().map((task) => [task.id, task]));
  }

  /**
   * Read a task set from `path`: a `.jsonl` file or a directory of them.
   * @throws {TaskSetError} naming the file, line and field of the first fault, or a duplicate id
   */
  static load(path: string): TaskSet {
    let stats;
    try {
      stats = statSync(path);
    } catch (error) {
      throw new TaskSetError(path, undefined, `cannot read it (${(error as Error).message}); give a .jsonl file or a directory of them`, { cause: error });
    }
    const files = stats.isDirectory()
      ? readdirSync(path)
          .filter((name) => extname(name) === '.jsonl')
          .sort()
          .map((name) => join(path, name))
      : [path];
    if (files.length === 0) throw new TaskSetError(path, undefined, 'the directory holds no .jsonl file; give one file per split, e.g. train.jsonl and test.jsonl');
    const splits = new Map<string, Task[]>();
    const seen = new Map<string, string>();
    for (const file of files) {
      const split = basename(file, '.jsonl');
      const { tasks, lines } = readTaskFile(file, split);
      for (const [i, task] of tasks.entries()) {
        const earlier = seen.get(task.id);
        if (earlier !== undefined) throw new TaskSetError(file, lines[i], `field "id": duplicate id ${JSON.stringify(task.id)}, first at ${earlier}; ids must be unique in the task set`);
        seen.set(task.id, `${file} line ${lines[i]}`);
      }
      splits.set(split, tasks);
    }
    return new TaskSet(splits);
  }

  /** The splits, in file-name order, with OpenEnv's split types. */
  splits(): SplitInfo[] {
    return [...this.#splits.keys()].map((name) => ({ name, type: SPLIT_TYPES.has(name) ? name : 'validation' }));
  }

  /** The tasks of `split`, or undefined for a split the set lacks. */
  tasks(split: string): readonly Task[] | undefined {
    return this.#splits.get(split);
  }

  /** The task with id `id`, or undefined. */
  byId(id: string): Task | undefined {
    return this.#byId.get(id);
  }

  /** Every task, split after split. */
  all(): Task[] {
    return [...this.#splits.values()].flat();
  }

  /** How many tasks the set holds. */
  get size(): number {
    return this.#byId.size;
  }
}

/** The tasks of one file, with the line each came from (blank lines are skipped). */
function readTaskFile(file: string, split: string): { tasks: Task[]; lines: number[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new TaskSetError(file, undefined, `cannot read it (${(error as Error).message})`, { cause: error });
  }
  const tasks: Task[] = [];
  const lines: number[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const lineNumber = i + 1;
    if (raw.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new TaskSetError(file, lineNumber, `not valid JSON (${(error as Error).message}); each line must be one JSON object`, { cause: error });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new TaskSetError(file, lineNumber, 'not a JSON object; each line must be one task object');
    }
    const format = detectFormat(value as Record<string, unknown>);
    if (format === undefined) {
      throw new TaskSetError(
        file,
        lineNumber,
        'fits no task format: expected envbox\'s (id, language, prompt, tests or test_code), HumanEval\'s (task_id, prompt, canonical_solution, test, entry_point) or MBPP\'s (task_id, text, code, test_list)',
      );
    }
    const parsed = (FORMAT_SCHEMAS[format] as z.ZodType).safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.length === 0 ? '' : `field ${JSON.stringify(issue.path.join('.'))}: `;
      throw new TaskSetError(file, lineNumber, `${field}${issue.message} (read as the ${format} format)`);
    }
    tasks.push(toTask(format, parsed.data, { split, index: tasks.length }));
    lines.push(lineNumber);
  }
  if (tasks.length === 0) throw new TaskSetError(file, undefined, 'no tasks in it; give one JSON object a line');
  return { tasks, lines };
}
