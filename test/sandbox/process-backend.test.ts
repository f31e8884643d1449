import t from 'tap';
import { createProcessBackend, IsolationUnavailableError } from '../../sandbox/index.js';

t.test('--require-isolation refuses to start where namespaces cannot be made', async (t) => {
  // An interpreter that does not exist makes the namespace probe fail, as a host without bwrap would.
  await t.rejects(createProcessBackend({ pythonPath: '/nonexistent/python3', requireIsolation: true }), IsolationUnavailableError);
  await t.rejects(createProcessBackend({ pythonPath: '/nonexistent/python3', requireIsolation: true }), {
    message: /--require-isolation: bubblewrap cannot create namespaces here/,
  });
  await t.rejects(createProcessBackend({ pythonPath: '/nonexistent/python3', requireIsolation: true }), {
    name: 'IsolationUnavailableError',
    code: 'ISOLATION_UNAVAILABLE',
    status: 503,
  }, 'an EnvboxError with a stable code');
});

t.test('without namespaces the backend says so, and refuses --allow-subprocess', async (t) => {
  const backend = await createProcessBackend({ pythonPath: '/nonexistent/python3', allowSubprocess: true });
  t.equal(backend.isolation, 'process');
  t.match(backend.isolationReason, /bubblewrap cannot create namespaces/);
  t.equal(backend.allowSubprocess, false, 'processes are only allowed where namespaces contain them');
});

const backend = await createProcessBackend();
t.test(
  'the probe finds namespaces on this host',
  { skip: backend.isolation === 'namespaces' ? false : `NO NAMESPACES ON THIS HOST: ${backend.isolationReason}` },
  async (t) => {
    t.equal(backend.isolationReason, undefined);
    t.equal(backend.backend, 'process');
  },
);
