import type Router from '@koa/router';
import { z } from 'zod';
import { InvalidTaskError, NotFoundError, NotSupportedError, type TaskProvider } from '../protocol/index.js';
import type { EnvService } from './env-service.js';
import { readJsonBody } from './json-body.js';
import { validate } from './protocol.js';

/** `POST /{env}/tasks` and `/{env}/num_tasks`: `{split}`. */
export const SplitRequest = z.object({ split: z.string() });
/** `POST /{env}/task`: `{split, index}`. */
export const TaskRequest = z.object({ split: z.string(), index: z.number().int() });
/** `POST /{env}/task_range`: `{split, start?, stop?}`, Python slice bounds (negative from the end, null or absent for the ends). */
export const TaskRangeRequest = z.object({ split: z.string(), start: z.number().int().nullish(), stop: z.number().int().nullish() });

/** The route of batch judging. */
export const EVALUATE_PATH = '/evaluate';

/**
 * OpenEnv's Task API, served from the definition's {@link TaskProvider}: `GET /list_environments`,
 * `GET /{env}/splits`, `POST /{env}/tasks|num_tasks|task|task_range`. `{env}` matches the
 * environment's name case-insensitively (any other name: 404 `NOT_FOUND`); an environment without
 * tasks answers 501 `NOT_SUPPORTED`; an unknown split or an index out of range 400 `INVALID_TASK`.
 * Also `POST /evaluate`, served by the definition's `evaluate` (501 without it).
 */
export function registerTaskRoutes(router: Router, service: EnvService): void {
  const { definition } = service;
  router.get('/list_environments', (ctx) => {
    ctx.body = [definition.name];
  });
  const provider = (env: string | undefined): TaskProvider => {
    if (env?.toLowerCase() !== definition.name.toLowerCase()) {
      throw new NotFoundError(`No environment ${JSON.stringify(env)} on this server; it serves ${definition.name} (GET /list_environments).`);
    }
    if (definition.tasks === undefined) {
      throw new NotSupportedError(`${definition.name} serves no tasks here; start it with a task set (coding_env: --tasks <file.jsonl | dir>).`);
    }
    return definition.tasks;
  };
  const body = async <T>(schema: z.ZodType<T>, ctx: { req: Parameters<typeof readJsonBody>[0] }, what: string): Promise<T> =>
    validate(schema, await readJsonBody(ctx.req, service.config.maxBodyBytes), what);

  router.get('/:env/splits', (ctx) => {
    ctx.body = provider(ctx.params.env).splits();
  });
  router.post('/:env/tasks', async (ctx) => {
    const tasks = provider(ctx.params.env);
    const { split } = await body(SplitRequest, ctx, 'Tasks request');
    ctx.body = { tasks: splitTasks(tasks, split), env_name: definition.name };
  });
  router.post('/:env/num_tasks', async (ctx) => {
    const tasks = provider(ctx.params.env);
    const { split } = await body(SplitRequest, ctx, 'Num tasks request');
    ctx.body = { num_tasks: splitTasks(tasks, split).length };
  });
  router.post('/:env/task', async (ctx) => {
    const tasks = provider(ctx.params.env);
    const { split, index } = await body(TaskRequest, ctx, 'Task request');
    const list = splitTasks(tasks, split);
    if (index < 0 || index >= list.length) {
      throw new InvalidTaskError(`Index ${index} is out of range for split ${JSON.stringify(split)}, which has ${list.length} tasks (0 to ${list.length - 1}).`, {
        details: { split, index, num_tasks: list.length },
      });
    }
    ctx.body = { task: list[index] };
  });
  router.post('/:env/task_range', async (ctx) => {
    const tasks = provider(ctx.params.env);
    const { split, start, stop } = await body(TaskRangeRequest, ctx, 'Task range request');
    // Array.prototype.slice has Python's slice semantics: negative bounds count from the end, both clamp.
    ctx.body = { tasks: splitTasks(tasks, split).slice(start ?? undefined, stop ?? undefined) };
  });
  router.post(EVALUATE_PATH, async (ctx) => {
    const evaluator = definition.evaluate;
    if (evaluator === undefined) throw new NotSupportedError(`${definition.name} does not judge batches here; start it with a task set (coding_env: --tasks <file.jsonl | dir>).`);
    const request = await body(evaluator.request, ctx, 'Evaluate request');
    // The batch stops when the server closes; a client that goes away leaves it running to the end.
    ctx.body = await evaluator.run(request, { signal: service.closing });
  });
}

/** The specs of `split`. @throws {InvalidTaskError} for a split the set lacks */
function splitTasks(tasks: TaskProvider, split: string): readonly Record<string, unknown>[] {
  const list = tasks.list(split);
  if (list === undefined) {
    const names = tasks.splits().map((s) => s.name);
    throw new InvalidTaskError(`No split ${JSON.stringify(split)}; the splits are ${names.join(', ')}.`, { details: { split, splits: names } });
  }
  return list;
}
