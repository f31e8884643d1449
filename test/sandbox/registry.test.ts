import t from 'tap';
import {
  createLanguageBackends,
  createPythonBackend,
  DEFAULT_PYTHON_BACKEND,
  DEFAULT_PYTHON_PATH,
  defaultEpisodeMemoryBudget,
  FORCED_BACKEND_REASON,
  LANGUAGE_BACKENDS,
  PYTHON_BACKEND_CHOICES,
  PYTHON_BACKEND_NAMES,
  probePython,
  RUNNER_PATH,
  SANDBOX_LANGUAGES,
  type PythonBackend,
  type PythonBackendName,
  type PythonBackendOptions,
} from '../../sandbox/index.js';

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
  // How sandboxes start: forked from a template (with its counts), or cold.
  const spawn = ['spawn', 'spawn_reason', ...(backends.python.health().spawn === 'template' ? ['template_pid', 'template_forks', 'template_fork_failures', 'template_restarts'] : [])];
  t.same(Object.keys(backends.python.health()), ['isolation', 'python_backend', 'python_backend_requested', 'python_backend_reason', 'allow_subprocess', ...guard, ...spawn]);
  if (backends.python.isolation === 'namespaces') t.equal(backends.python.health().spawn, 'template', 'under namespaces, sandboxes fork from a template');
  t.match(backends.python.health(), {
    isolation: /^(namespaces|process)$/,
    python_backend: 'process',
    python_backend_requested: 'process',
    python_backend_reason: FORCED_BACKEND_REASON,
    allow_subprocess: false,
  });
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

t.test('the Python backend is auto by default, or one forced by name', async (t) => {
  t.equal(DEFAULT_PYTHON_BACKEND, 'auto');
  t.same(PYTHON_BACKEND_CHOICES, ['auto', 'pyodide', 'process']);
  t.same(PYTHON_BACKEND_NAMES, ['pyodide', 'process']);
  t.equal(FORCED_BACKEND_REASON, 'forced by --python-backend (or ENVBOX_PYTHON_BACKEND)');
});

t.test('auto (the default) picks the process backend here: /usr/bin/python3 serves and sandboxes get namespaces', async (t) => {
  const python = await probePython(DEFAULT_PYTHON_PATH, RUNNER_PATH);
  if (!python.usable) t.comment(`LOUD: ${DEFAULT_PYTHON_PATH} cannot serve on this host (${python.reason}); auto falls back to pyodide`);
  // No backend named: the language table's default, as `envbox serve --env coding_env` starts it.
  const { python: backend } = await createLanguageBackends(['python']);
  t.teardown(() => backend.close());
  const health = backend.health();
  if (!python.usable || backend.isolation !== 'namespaces') {
    t.equal(health.python_backend, 'pyodide');
    t.equal(health.python_backend_requested, 'auto');
    t.comment(`LOUD: auto chose pyodide on this host: ${String(health.python_backend_reason)}`);
    return;
  }
  t.same(health, {
    isolation: 'namespaces',
    python_backend: 'process',
    python_backend_requested: 'auto',
    python_backend_reason: `/usr/bin/python3 is Python ${python.version} and its sandboxes get namespaces`,
    allow_subprocess: false,
    memory_guard_kills: 0,
    spawn: 'template',
    spawn_reason: 'forked from a template CPython',
    template_pid: health.template_pid,
    template_forks: 1,
    template_fork_failures: 0,
    template_restarts: 0,
  });
  t.type(health.template_pid, 'number');
  await using sandbox = await backend.create();
  t.match(await sandbox.run('import sys; print(sys.platform)', { timeoutMs: 10_000 }), { stdout: 'linux\n', exitCode: 0 });
});

t.test('--python-backend pyodide forces Pyodide, whatever the host has', async (t) => {
  const backend = await createPythonBackend('pyodide');
  t.teardown(() => backend.close());
  t.equal(backend.backend, 'pyodide');
  t.equal(backend.requestedBackend, 'pyodide');
  t.equal(backend.choiceReason, FORCED_BACKEND_REASON);
  t.match(backend.health(), { python_backend: 'pyodide', python_backend_requested: 'pyodide', python_backend_reason: FORCED_BACKEND_REASON });
});

t.test('auto falls back to Pyodide, saying why, when the python path cannot serve', async (t) => {
  const backend = await createPythonBackend('auto', { pythonPath: '/nonexistent/python3' });
  t.teardown(() => backend.close());
  const reason = '/nonexistent/python3 cannot run the step runner (spawn /nonexistent/python3 ENOENT); install Python 3.8 or newer there for the faster process backend';
  t.equal(backend.backend, 'pyodide');
  t.equal(backend.choiceReason, reason);
  t.match(backend.health(), { python_backend: 'pyodide', python_backend_requested: 'auto', python_backend_reason: reason });
  await using sandbox = await backend.create();
  t.match(await sandbox.run('import sys; print(sys.platform)', { timeoutMs: 30_000 }), { stdout: 'emscripten\n', exitCode: 0 }, 'and Pyodide runs the episodes');
});

/** Backends that only record that they were started and closed, with the isolation `process` reports. */
function fakeBackends(processIsolation: 'namespaces' | 'process') {
  const events: string[] = [];
  const fake = (backend: PythonBackendName) => async (options: PythonBackendOptions): Promise<PythonBackend> => {
    events.push(`start ${backend} ${options.pythonPath ?? ''}`.trimEnd());
    const isolation = backend === 'process' ? processIsolation : 'namespaces';
    const close = async () => void events.push(`close ${backend}`);
    return {
      backend,
      isolation,
      isolationReason: isolation === 'process' ? 'bubblewrap cannot create namespaces here: no bwrap' : undefined,
      allowSubprocess: false,
      create: () => Promise.reject(new Error('a fake starts no sandbox')),
      health: () => ({ isolation, python_backend: backend, allow_subprocess: false }),
      close,
      [Symbol.asyncDispose]: close,
    };
  };
  return { events, backends: { pyodide: fake('pyodide'), process: fake('process') } };
}

t.test('auto keeps CPython only where its sandboxes get namespaces: without them, Pyodide', async (t) => {
  const { events, backends } = fakeBackends('process');
  const python = await probePython(DEFAULT_PYTHON_PATH, RUNNER_PATH);
  t.ok(python.usable, `${DEFAULT_PYTHON_PATH} serves on this host`);
  const chosen = await createPythonBackend('auto', {}, backends);
  t.same(events, ['start process', 'close process', 'start pyodide'], 'the process backend probed, found no namespaces and was closed');
  t.equal(chosen.backend, 'pyodide');
  t.equal(
    chosen.choiceReason,
    `/usr/bin/python3 is Python ${python.usable ? python.version : '?'}, but sandboxes get no namespaces here (bubblewrap cannot create namespaces here: no bwrap), ` +
      'and without them only Pyodide keeps the guest from host files; install bubblewrap and allow user namespaces for the process backend, ' +
      'or force it with --python-backend process',
  );
  t.same(Object.keys(chosen.health()), ['isolation', 'python_backend', 'python_backend_requested', 'python_backend_reason', 'allow_subprocess']);

  const forced = fakeBackends('process');
  t.equal((await createPythonBackend('process', {}, forced.backends)).backend, 'process', 'forcing process keeps CPython without namespaces');
  t.same(forced.events, ['start process']);

  const unusable = fakeBackends('namespaces');
  await createPythonBackend('auto', { pythonPath: '/nonexistent/python3' }, unusable.backends);
  t.same(unusable.events, ['start pyodide /nonexistent/python3'], 'an unusable interpreter is never handed to the process backend');
});
