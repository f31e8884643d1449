import { fileURLToPath } from 'node:url';
import t from 'tap';
import { createCodingEnvDefinition, SAMPLE_TASKS_DIR, TaskSet } from '../../envs/coding_env/index.js';
import { request, startTestServer } from '../fixtures/test-server.js';
import { REWARD_HACKS } from './reward-hacking-cases.js';

// Every submission that tries to pass without solving, judged in one /evaluate batch against the
// sample set; each earns exactly what its honest part earns. A correct submission judged in the
// same batch still scores 1: no hostile item (killers included) spoils another's verdict.
t.test('the reward-hacking corpus', async (t) => {
  const sample = TaskSet.load(fileURLToPath(SAMPLE_TASKS_DIR));
  // py/add without its entry point: the judge cannot replay it and runs it in the submission's interpreter.
  const noEntryPoint = { ...sample.byId('py/add')!, id: 'py/add-no-entry-point', split: 'extra', index: 0, entryPoint: undefined };
  delete noEntryPoint.entryPoint;
  const tasks = new TaskSet(new Map([...sample.splits().map(({ name }) => [name, sample.tasks(name)!] as const), ['extra', [noEntryPoint]]]));
  const definition = await createCodingEnvDefinition({ poolSize: 2, tasks, judge: { concurrency: 6 } });
  const server = await startTestServer(t, {}, definition);
  const honest = [
    { task_id: 'py/add', code: 'def add(a, b):\n    return a + b' },
    { task_id: 'js/add', code: 'function add(a, b) { return a + b }' },
  ];
  const items = [...REWARD_HACKS.map((hack) => ({ task_id: hack.taskId, code: hack.code })), ...honest];
  const { status, body } = await request(server, 'POST', '/evaluate', { items });
  t.equal(status, 200);
  for (const [i, hack] of REWARD_HACKS.entries()) {
    const result = body.results[i] as { reward: number; tests: { reason: string | null }[] };
    const reasons = JSON.stringify(result.tests.map((test) => test.reason));
    t.equal(result.reward, hack.reward, `${hack.taskId}: ${hack.name} (${reasons})`, hack.open === undefined ? {} : { todo: hack.open });
  }
  t.match(body.results.slice(-2), [{ reward: 1 }, { reward: 1 }], 'honest submissions in the same batch');
  t.match((await request(server, 'GET', '/health')).body, { status: 'healthy' }, 'the server survived');
});
