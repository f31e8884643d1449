import t from 'tap';
import { createLanguageBackends, defaultEpisodeMemoryBudget, LANGUAGE_BACKENDS, PYTHON_BACKEND_NAMES, SANDBOX_LANGUAGES } from '../../sandbox/index.js';

t.test('every language has a backend in the table, and only those', async (t) => {
  t.same(Object.keys(LANGUAGE_BACKENDS).sort(), [...SANDBOX_LANGUAGES].sort());
  t.same(SANDBOX_LANGUAGES, ['python', 'javascript'], 'Python first: its facts head /health');
});

t.test('createLanguageBackends starts one backend per language, each reporting its health', async (t) => {
  const backends = await createLanguageBackends(SANDBOX_LANGUAGES, { python: { backend: 'process' }, javascript: { spreadWorkers: 1 } });
  t.teardown(() => Promise.all(SANDBOX_LANGUAGES.map((language) => backends[language].close())));
  t.same(Object.keys(backends), ['python', 'javascript']);
  // The memory guard watches tmpfs mounts, which only namespaces give.
  const guard = backends.python.isolation === 'namespaces' ? ['memory_guard_kills'] : [];
  t.same(Object.keys(backends.python.health()), ['isolation', 'python_backend', 'allow_subprocess', ...guard]);
  t.match(backends.python.health(), { isolation: /^(namespaces|process)$/, python_backend: 'process', allow_subprocess: false });
  t.same(backends.javascript.health(), {
    backend: 'quickjs',
    isolation: 'wasm',
    workers: 0,
    episodes: 0,
    episodes_per_worker: 16,
    terminated_workers: 0,
    memory_budget_bytes: Math.floor(defaultEpisodeMemoryBudget() / 65_536) * 65_536,
    memory_used_bytes: 0,
    memory_refused_episodes: 0,
    memory_refused_growths: 0,
  });
  for (const language of SANDBOX_LANGUAGES) {
    await backends[language][Symbol.asyncDispose]();
    await t.rejects(backends[language].create(), { code: 'SANDBOX_UNAVAILABLE' }, `${language}: a closed backend starts nothing`);
  }
});

t.test('a backend that cannot start fails the whole table with its own error', async (t) => {
  t.ok(PYTHON_BACKEND_NAMES.includes('process'));
  await t.rejects(
    createLanguageBackends(['javascript', 'python'], { python: { backend: 'process', pythonPath: '/nonexistent/python3', requireIsolation: true } }),
    { code: 'ISOLATION_UNAVAILABLE' },
  );
});
