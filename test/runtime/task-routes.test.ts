import t from 'tap';
import { z } from 'zod';
import { echoEnvDefinition } from '../../envs/index.js';
import type { AnyEnvDefinition } from '../../protocol/index.js';
import { request, startTestServer } from '../fixtures/test-server.js';

// The Task API and /evaluate are a generic seam of the runtime: any definition with `tasks` (and
// `evaluate`) gets them, here echo_env with a task set of its own.
const specs = ['a', 'b', 'c', 'd', 'e'].map((id, index) => ({ id, index }));
const definition: AnyEnvDefinition = {
  ...echoEnvDefinition,
  name: 'Echo_Tasks',
  tasks: {
    splits: () => [
      { name: 'train', type: 'train' },
      { name: 'holdout', type: 'validation' },
    ],
    list: (split: string) => (split === 'train' ? specs : split === 'holdout' ? [] : undefined),
  },
  evaluate: {
    request: z.strictObject({ items: z.array(z.string()).max(3) }),
    run: async ({ items }: { items: string[] }) => ({ results: items.map((item) => ({ length: item.length })) }),
  },
};

t.test('any definition with tasks gets the Task API, matched case-insensitively', async (t) => {
  const server = await startTestServer(t, {}, definition);
  t.same((await request(server, 'GET', '/list_environments')).body, ['Echo_Tasks']);
  t.same((await request(server, 'GET', '/echo_tasks/splits')).body, [
    { name: 'train', type: 'train' },
    { name: 'holdout', type: 'validation' },
  ]);
  t.same((await request(server, 'POST', '/ECHO_TASKS/tasks', { split: 'holdout' })).body, { tasks: [], env_name: 'Echo_Tasks' });
  t.same((await request(server, 'POST', '/Echo_Tasks/num_tasks', { split: 'train' })).body, { num_tasks: 5 });
  t.same((await request(server, 'POST', '/Echo_Tasks/task', { split: 'train', index: 4 })).body, { task: { id: 'e', index: 4 } });
  const range = async (start?: number | null, stop?: number | null) =>
    ((await request(server, 'POST', '/Echo_Tasks/task_range', { split: 'train', start, stop })).body.tasks as { id: string }[]).map((task) => task.id).join('');
  t.equal(await range(), 'abcde');
  t.equal(await range(1, -1), 'bcd', "Python's a[1:-1]");
  t.equal(await range(-100, 2), 'ab', 'bounds clamp');
  t.equal(await range(null, -3), 'ab');
  t.equal(await range(3, 1), '');
  t.match(await request(server, 'POST', '/Echo_Tasks/task', { split: 'train', index: 5 }), { status: 400, body: { error: { code: 'INVALID_TASK' } } });
  t.match(await request(server, 'POST', '/Echo_Tasks/task', { split: 'holdout', index: 0 }), { status: 400, body: { error: { code: 'INVALID_TASK', message: /which has 0 tasks/ } } });
  t.match(await request(server, 'POST', '/Echo_Tasks/task', { split: 'train', index: 1.5 }), { status: 422, body: { error: { code: 'INVALID_REQUEST' } } });
  t.match(await request(server, 'POST', '/Echo_Tasks/tasks', '{"split": '), { status: 400, body: { error: { code: 'INVALID_JSON' } } });
  t.match(await request(server, 'POST', '/echo_env/tasks', { split: 'train' }), { status: 404, body: { error: { code: 'NOT_FOUND' } } });
  t.match(await request(server, 'GET', '/Echo_Tasks/tasks'), { status: 405 });
});

t.test('/evaluate: the definition\'s schema checks the body, its run answers it', async (t) => {
  const server = await startTestServer(t, {}, definition);
  t.same((await request(server, 'POST', '/evaluate', { items: ['ab', ''] })).body, { results: [{ length: 2 }, { length: 0 }] });
  t.match(await request(server, 'POST', '/evaluate', { items: ['a', 'b', 'c', 'd'] }), { status: 422, body: { error: { code: 'INVALID_REQUEST', message: /Evaluate request is invalid at items/ } } });
});

t.test('with a token, the Task API and /evaluate need it too', async (t) => {
  const server = await startTestServer(t, { token: 'secret' }, definition);
  t.match(await request(server, 'GET', '/list_environments'), { status: 401 });
  t.match(await request(server, 'POST', '/evaluate', { items: [] }), { status: 401 });
  t.match(await request(server, 'GET', '/Echo_Tasks/splits', undefined, { authorization: 'Bearer secret' }), { status: 200 });
});
