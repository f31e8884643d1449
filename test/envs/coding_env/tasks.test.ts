import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { CodingEnv, createCodingEnvDefinition, SAMPLE_TASKS_DIR, TaskSet, type CodingEnvOptions } from '../../../envs/coding_env/index.js';
import type { EnvboxServer } from '../../../runtime/index.js';
import { request, startTestServer } from '../../fixtures/test-server.js';

const taskSet = TaskSet.load(fileURLToPath(SAMPLE_TASKS_DIR));

async function tasksServer(tt: Test, options: CodingEnvOptions = {}): Promise<EnvboxServer> {
  const definition = await createCodingEnvDefinition({ poolSize: 1, tasks: taskSet, ...options });
  return startTestServer(tt, {}, definition);
}

/** A submission that defines the task's entry point but answers nothing useful. */
function wrongSolution(language: string, entryPoint: string): string {
  return language === 'python' ? `def ${entryPoint}(*args, **kwargs):\n    return None\n` : `function ${entryPoint}() { return null; }`;
}

t.test('the Task API, as OpenEnv serves it', async (t) => {
  const server = await tasksServer(t);
  t.same((await request(server, 'GET', '/list_environments')).body, ['coding_env']);
  t.match((await request(server, 'GET', '/health')).body, { status: 'healthy', tasks: 19 }, '/health counts the tasks');
  t.same((await request(server, 'GET', '/CODING_ENV/splits')).body, [
    { name: 'test', type: 'test' },
    { name: 'train', type: 'train' },
  ]);
  const all = await request(server, 'POST', '/coding_env/tasks', { split: 'test' });
  t.equal(all.status, 200);
  t.equal(all.body.env_name, 'coding_env');
  t.equal(all.body.tasks.length, 6);
  t.same(Object.keys(all.body.tasks[0]).sort(), ['entry_point', 'id', 'index', 'language', 'num_tests', 'prompt', 'split'], 'no tests, no solution');
  t.notMatch(JSON.stringify(all.body), /assert|solution|throw new Error/);
  t.same((await request(server, 'POST', '/coding_env/num_tasks', { split: 'train' })).body, { num_tasks: 13 });
  t.match((await request(server, 'POST', '/coding_env/task', { split: 'test', index: 2 })).body, { task: { id: 'py/balanced', index: 2, split: 'test' } });
  const ids = async (body: unknown) => ((await request(server, 'POST', '/coding_env/task_range', body)).body.tasks as { index: number }[]).map((task) => task.index);
  t.same(await ids({ split: 'test', start: 1, stop: 3 }), [1, 2]);
  t.same(await ids({ split: 'test' }), [0, 1, 2, 3, 4, 5]);
  t.same(await ids({ split: 'test', start: -2 }), [4, 5], 'negative start counts from the end');
  t.same(await ids({ split: 'test', stop: -4, start: null }), [0, 1]);
  t.same(await ids({ split: 'test', start: 4, stop: 100 }), [4, 5], 'stop clamps');
  t.same(await ids({ split: 'test', start: 5, stop: 2 }), []);

  const other = await request(server, 'GET', '/echo_env/splits');
  t.match(other, { status: 404, body: { error: { code: 'NOT_FOUND', message: /No environment "echo_env" on this server; it serves coding_env/ } } });
  t.match(await request(server, 'POST', '/coding_env/task', { split: 'test', index: 6 }), { status: 400, body: { error: { code: 'INVALID_TASK', message: /Index 6 is out of range for split "test", which has 6 tasks/ } } });
  t.match(await request(server, 'POST', '/coding_env/task', { split: 'test', index: -1 }), { status: 400, body: { error: { code: 'INVALID_TASK' } } });
  t.match(await request(server, 'POST', '/coding_env/num_tasks', { split: 'dev' }), { status: 400, body: { error: { code: 'INVALID_TASK', message: 'No split "dev"; the splits are test, train.' } } });
  t.match(await request(server, 'POST', '/coding_env/task', { split: 'test' }), { status: 422, body: { error: { code: 'INVALID_REQUEST' } } });

  const paths = Object.keys((await request(server, 'GET', '/openapi.json')).body.paths as object);
  for (const path of ['/list_environments', '/coding_env/splits', '/coding_env/tasks', '/coding_env/num_tasks', '/coding_env/task', '/coding_env/task_range', '/evaluate']) {
    t.ok(paths.includes(path), `/openapi.json lists ${path}`);
  }
});

t.test('an environment without tasks answers 501 on the Task API and /evaluate', async (t) => {
  const server = await startTestServer(t, {}, await createCodingEnvDefinition({ poolSize: 0 }));
  t.same((await request(server, 'GET', '/list_environments')).body, ['coding_env']);
  t.notOk('tasks' in (await request(server, 'GET', '/health')).body, 'no task count without a task set');
  t.notOk('task_id' in (await request(server, 'GET', '/state')).body, 'nor a task id in the state');
  for (const [method, path, body] of [
    ['GET', '/coding_env/splits', undefined],
    ['POST', '/coding_env/tasks', { split: 'train' }],
    ['POST', '/coding_env/task_range', { split: 'train' }],
    ['POST', '/evaluate', { items: [] }],
  ] as const) {
    t.match(await request(server, method, path, body), { status: 501, body: { error: { code: 'NOT_SUPPORTED', message: /--tasks/ } } }, path);
  }
  t.match(await request(server, 'GET', '/other_env/splits'), { status: 404 }, 'another name is 404 before 501');
  t.match(await request(server, 'POST', '/reset', { task_id: 'py/add' }), { status: 400, body: { error: { code: 'INVALID_TASK', message: /no task set/ } } });
});

t.test('reset on a task, state, submit; the episode ends', async (t) => {
  const server = await tasksServer(t);
  const headers = { 'x-session-id': (await request(server, 'POST', '/sessions')).body.session_id as string };
  const first = await request(server, 'POST', '/reset', { split: 'train', index: 0 }, headers);
  t.match(first.body.observation, { stdout: '', exit_code: 0, metadata: { task_id: 'py/add', prompt: /add\(a, b\)/, language: 'python' } });
  t.match((await request(server, 'GET', '/state', undefined, headers)).body, { task_id: 'py/add', step_count: 0 });
  await request(server, 'POST', '/step', { action: { code: 'def add(a, b):\n    return a + b' } }, headers);
  await request(server, 'POST', '/step', { action: { code: 'raise ValueError("not part of the submission")' } }, headers);
  const submitted = await request(server, 'POST', '/step', { action: { submit: true } }, headers);
  t.match(submitted.body, { reward: 1, done: true, observation: { stdout: '3/3 tests passed\n', metadata: { task_id: 'py/add', judge: { passed: 3, total: 3 } } } });
  t.same(submitted.body.observation.metadata.judge.tests[0], { name: 'small', passed: true, reason: null });
  t.match(await request(server, 'POST', '/step', { action: { code: '1' } }, headers), { status: 422, body: { error: { message: /ended with its submission; call reset/ } } });

  const byId = await request(server, 'POST', '/reset', { task_id: 'js/unique' }, headers);
  t.match(byId.body.observation.metadata, { task_id: 'js/unique', language: 'javascript' });
  const half = await request(server, 'POST', '/step', { action: { code: 'function unique(xs) { return xs.length ? [xs[0]] : [] }', submit: true } }, headers);
  t.match(half.body, { reward: 1 / 3, done: true });
  t.match(half.body.observation.metadata.judge.tests, [{ name: 'numbers', passed: false, reason: /should be/ }, { name: 'empty', passed: true }, { name: 'strings', passed: false }]);
  t.notOk('source' in half.body.observation.metadata.judge.tests[0], 'tests stay hidden without --reveal-tests');

  const seeded = async (seed: number) => (await request(server, 'POST', '/reset', { seed }, headers)).body.observation.metadata.task_id as string;
  t.equal(await seeded(7), await seeded(7), 'a seed picks reproducibly');
  t.match(await request(server, 'POST', '/reset', { task_id: 'nope' }, headers), { status: 400, body: { error: { code: 'INVALID_TASK', message: /No task with id "nope"/ } } });
  t.match(await request(server, 'POST', '/reset', { split: 'train', index: 13 }, headers), { status: 400, body: { error: { code: 'INVALID_TASK' } } });
  t.match(await request(server, 'POST', '/reset', { task_id: 'py/add', language: 'javascript' }, headers), { status: 400, body: { error: { code: 'INVALID_TASK', message: /is in python/ } } });
  t.match(await request(server, 'POST', '/step', { action: {} }, headers), { status: 422, body: { error: { message: /give code, or submit: true/ } } });
  t.match((await request(server, 'GET', '/schema')).body.action, { examples: [{ code: 'print(1)' }, { submit: true }] }, 'a server with tasks takes submissions');
});

t.test('every reference solution scores 1.0 and a wrong one less, in both languages (one /evaluate batch)', async (t) => {
  const server = await tasksServer(t, { judge: { concurrency: 4 } });
  const tasks = taskSet.all();
  const items = tasks.flatMap((task) => [
    { task_id: task.id, code: task.solution! },
    { split: task.split, index: task.index, code: wrongSolution(task.language, task.entryPoint!) },
  ]);
  const response = await request(server, 'POST', '/evaluate', { items });
  t.equal(response.status, 200);
  const results = response.body.results as { reward: number; tests: { reason: string | null }[] }[];
  t.equal(results.length, items.length, 'one result per item, in order');
  for (const [i, task] of tasks.entries()) {
    t.equal(results[2 * i]!.reward, 1, `${task.id}: the reference passes (${JSON.stringify(results[2 * i]!.tests.map((test) => test.reason))})`);
    t.ok(results[2 * i + 1]!.reward < 1, `${task.id}: a wrong solution scores less`);
  }
});

t.test('/evaluate: good, bad, hostile, timed-out and invalid items in one batch; the count is capped', async (t) => {
  const server = await tasksServer(t, { maxEvaluateItems: 8, judge: { revealTests: true, reward: 'all-or-nothing' } });
  const add = taskSet.byId('py/add')!;
  const items = [
    { task_id: 'py/add', code: add.solution! },
    { task_id: 'py/add', code: 'def add(a, b):\n    return a + b if a > 0 else 0' },
    { task_id: 'js/add', code: 'process.exit(0)' },
    { task_id: 'py/add', code: 'while True:\n    pass' },
    { task_id: 'missing', code: '' },
    { split: 'train', code: 'x' },
    { task_id: 'py/add' },
    { task_id: 'js/add', code: 'function add(a, b) { return a + b }' },
  ];
  const { body } = await request(server, 'POST', '/evaluate', { items });
  t.match(body.results[0], { reward: 1, passed: 3, total: 3, tests: [{ name: 'small', passed: true, source: 'assert add(1, 2) == 3' }] });
  t.match(body.results[1], { reward: 0, passed: 2, total: 3 }, 'all-or-nothing: 2 of 3 is 0');
  t.match(body.results[2], { reward: 0, tests: [{ reason: /add is not defined/ }] });
  t.match(body.results[3], { reward: 0, tests: [{ reason: /timed out after 5 s|killed/ }] });
  t.match(body.results[4], { error: { code: 'INVALID_TASK', message: /no task with id "missing"/ } });
  t.match(body.results[5], { error: { code: 'INVALID_TASK', message: /names no task/ } });
  t.match(body.results[6], { error: { code: 'INVALID_REQUEST', message: /Item 6 is invalid at code/ } });
  t.match(body.results[7], { reward: 1 });
  t.match(await request(server, 'POST', '/evaluate', { items: [...items, ...items] }), { status: 422, body: { error: { code: 'INVALID_REQUEST', message: /at items/ } } });
  t.match(await request(server, 'POST', '/evaluate', { items: [] }), { status: 422 });
});

t.test('the typed client: evaluate(items) beside a WebSocket session; 501 without a task set', async (t) => {
  const server = await tasksServer(t);
  const env = new CodingEnv({ baseUrl: server.url, transport: 'ws' });
  t.teardown(() => env.close());
  await env.reset({ task_id: 'js/fibonacci' });
  const results = await env.evaluate([
    { task_id: 'py/gcd', code: taskSet.byId('py/gcd')!.solution! },
    { split: 'train', index: 10, code: 'function fibonacci(n) { return n }' },
    { task_id: 'none', code: '' },
  ]);
  t.match(results, [{ reward: 1, passed: 3, total: 3 }, { reward: 1 / 3 }, { error: { code: 'INVALID_TASK' } }]);
  const submitted = await env.step({ code: taskSet.byId('js/fibonacci')!.solution!, submit: true });
  t.match(submitted, { reward: 1, done: true, observation: { metadata: { judge: { passed: 3 } } } });
  t.match(await env.state(), { task_id: 'js/fibonacci' });
  await t.rejects(env.evaluate([]), { code: 'INVALID_REQUEST' });

  const plain = await startTestServer(t, {}, await createCodingEnvDefinition({ poolSize: 0 }));
  const other = new CodingEnv({ baseUrl: plain.url });
  t.teardown(() => other.close());
  await t.rejects(other.evaluate([{ task_id: 'py/add', code: '' }]), { code: 'NOT_SUPPORTED', name: 'NotSupportedError' });
});
