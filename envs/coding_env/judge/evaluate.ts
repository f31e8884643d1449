import { z } from 'zod';
import { InvalidRequestError, InvalidTaskError, toEnvboxError, type BatchEvaluator, type WireError } from '../../../protocol/index.js';
import type { TaskSet } from '../task-set/task-set.js';
import type { Task } from '../task-set/task.js';
import type { Judge, Judgement } from './judge.js';

/** Items `POST /evaluate` takes per request by default. @default 256 */
export const DEFAULT_MAX_EVALUATE_ITEMS = 256;

/** One submission to judge: its task (`task_id`, or `split` and `index`) and its code. */
export const EvaluateItem = z.strictObject({
  task_id: z.string().optional(),
  split: z.string().optional(),
  index: z.number().int().optional(),
  code: z.string(),
});
export type EvaluateItem = z.infer<typeof EvaluateItem>;

/** The answer to one item: the judgement, or why the item could not be judged. */
export type EvaluateResult = Judgement | { error: WireError };

/**
 * coding_env's batch judging: `{items: [...]}` of at most `maxItems`; items are checked one by one,
 * so a bad item becomes an `{error}` result and never fails the batch. All items are judged at once,
 * their tests sharing the judge's concurrency limit; results keep the items' order.
 */
export function batchEvaluator(taskSet: TaskSet, judge: Judge, maxItems: number = DEFAULT_MAX_EVALUATE_ITEMS): BatchEvaluator<{ items: unknown[] }> {
  return {
    request: z.strictObject({ items: z.array(z.unknown()).min(1).max(maxItems) }),
    async run({ items }, { signal }): Promise<{ results: EvaluateResult[] }> {
      const results = await Promise.all(
        items.map(async (item, i): Promise<EvaluateResult> => {
          try {
            const parsed = EvaluateItem.safeParse(item);
            if (!parsed.success) {
              const issue = parsed.error.issues[0]!;
              const where = issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`;
              throw new InvalidRequestError(`Item ${i} is invalid${where}: ${issue.message}; send {task_id | split + index, code}.`);
            }
            return await judge.judge(taskOf(taskSet, parsed.data, i), parsed.data.code, { signal });
          } catch (error) {
            return { error: toEnvboxError(error).toWire() };
          }
        }),
      );
      return { results };
    },
  };
}

/** The task an item names. @throws {InvalidTaskError} when it names none, or both ways */
function taskOf(taskSet: TaskSet, item: EvaluateItem, i: number): Task {
  const bySplit = item.split !== undefined || item.index !== undefined;
  if (item.task_id !== undefined) {
    if (bySplit) throw new InvalidTaskError(`Item ${i} names its task twice; give task_id, or split and index.`);
    const task = taskSet.byId(item.task_id);
    if (task === undefined) throw new InvalidTaskError(`Item ${i}: no task with id ${JSON.stringify(item.task_id)}.`);
    return task;
  }
  if (item.split === undefined || item.index === undefined) throw new InvalidTaskError(`Item ${i} names no task; give task_id, or split and index.`);
  const tasks = taskSet.tasks(item.split);
  if (tasks === undefined) throw new InvalidTaskError(`Item ${i}: no split ${JSON.stringify(item.split)}; the splits are ${taskSet.splits().map((s) => s.name).join(', ')}.`);
  const task = item.index < 0 ? undefined : tasks[item.index];
  if (task === undefined) throw new InvalidTaskError(`Item ${i}: index ${item.index} is out of range for split ${JSON.stringify(item.split)}, which has ${tasks.length} tasks.`);
  return task;
}
