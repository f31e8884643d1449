import t from 'tap';
import { EXIT_ERROR } from '../../sandbox/index.js';
import { createPyodideBackend } from '../../sandbox/pyodide/pyodide-backend.js';
import { testNoSandboxOutlivesClose, trackSpawnedProcesses } from '../fixtures/sandbox-processes.js';
import { run, sandboxOf, sandboxSuite, value } from './sandbox-suite.js';

// The shared suite covers what Pyodide must do like CPython, through its own machinery: memory bombs
// (a refused WebAssembly.Memory.grow), deadlines (the interrupt buffer, the sliced time.sleep),
// swallowed interrupts and os._exit (137), partial lines, bytes that are not UTF-8, recursion.
// This file adds what only Pyodide has.

/**
 * A hang guard: every sandbox start loads a 30 MB memory snapshot into a fresh Node (about half a
 * second on two busy cores, several under load) and the suite starts some 150 of them: the file took
 * 570 s of the 600 s of .taprc in a CI run beside other work, so a machine half as fast needs more.
 */
const FILE_TIMEOUT_MS = 1_800_000;
t.setTimeout(FILE_TIMEOUT_MS);

/** Every child process this file starts; the last test checks no sandbox process outlived its close(). */
const spawned = trackSpawnedProcesses();

const backend = await createPyodideBackend();

t.test('the backend is Pyodide, started from a memory snapshot', async (t) => {
  t.equal(backend.backend, 'pyodide');
  t.equal(backend.allowSubprocess, false, 'there are no processes in WebAssembly to allow');
  t.equal(backend.snapshot.reason, undefined, 'no reason: the snapshot was built');
  t.ok(backend.snapshot.bytes !== undefined && backend.snapshot.bytes.length > 0, `a snapshot of ${backend.snapshot.bytes?.length} bytes`);
  t.ok(backend.snapshot.buildMs > 0, 'its build time is reported');
  const open = await createPyodideBackend({ allowSubprocess: true });
  t.equal(open.allowSubprocess, false, 'even when asked for');
  t.equal(open.snapshot, backend.snapshot, 'one snapshot per process, shared by its backends');
});

sandboxSuite(t, { backend, create: createPyodideBackend });

t.test('the interpreter is CPython on Emscripten', async (t) => {
  const sandbox = await sandboxOf(t, backend);
  t.equal(await value(t, sandbox, 'import sys; sys.platform'), "'emscripten'");
  t.equal(await value(t, sandbox, 'sys.version_info[:2] >= (3, 14)'), 'True');
});

t.test('the environment is only HOME, as under the process backend', async (t) => {
  const sandbox = await sandboxOf(t, backend);
  t.equal(await value(t, sandbox, "import os; dict(os.environ) == {'HOME': '/workspace'}"), 'True');
});

t.test("Pyodide's JavaScript bridges cannot be imported", async (t) => {
  const sandbox = await sandboxOf(t, backend);
  for (const name of ['js', 'pyodide_js', 'pyodide', '_pyodide', 'micropip']) {
    const result = await run(sandbox, `import ${name}`);
    t.equal(result.exitCode, EXIT_ERROR, `import ${name} fails`);
    t.match(result.stderr, new RegExp(`\\nModuleNotFoundError: No module named '${name}'\\n$`), `as if there were no ${name}`);
    t.notMatch(result.stderr, /process backend/, 'with no note about packages');
  }
  const nested = await run(sandbox, 'import pyodide.ffi');
  t.match(nested.stderr, /\nModuleNotFoundError: No module named 'pyodide[.\w]*'\n$/, 'nor any module inside them');
  t.equal(await value(t, sandbox, "import sys; [m for m in sys.modules if m.split('.')[0] in ('js', 'pyodide_js', 'pyodide', '_pyodide')]"), '[]', 'none is loaded');
});

t.test('a third-party package fails with a note that points to the process backend', async (t) => {
  const sandbox = await sandboxOf(t, backend);
  await value(t, sandbox, 'kept = 1');
  const numpy = await run(sandbox, 'import numpy');
  t.equal(numpy.exitCode, EXIT_ERROR);
  t.equal(
    numpy.stderr,
    'Traceback (most recent call last):\n' +
      '  File "<step 2>", line 1, in <module>\n' +
      '    import numpy\n' +
      "ModuleNotFoundError: No module named 'numpy'\n" +
      'envbox: the pyodide backend has the Python standard library only; third-party packages need the process backend (envbox serve --python-backend process).\n',
  );
  t.equal(await value(t, sandbox, 'kept'), '1', 'the state is kept');
});

t.test('a standard-library module Emscripten lacks is not called a third-party package', async (t) => {
  const sandbox = await sandboxOf(t, backend);
  const resource = await run(sandbox, 'import resource');
  t.equal(resource.exitCode, EXIT_ERROR);
  t.match(resource.stderr, /\nModuleNotFoundError: No module named 'resource'\n/);
  t.notMatch(resource.stderr, /third-party packages need the process backend/, 'the note is about packages, and resource is not one');
  t.match(resource.stderr, /envbox: resource is part of CPython's standard library but not of Pyodide's; the process backend has it/);
});

testNoSandboxOutlivesClose(t, spawned);
