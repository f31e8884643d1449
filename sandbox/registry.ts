import { createPyodideBackend } from './pyodide/pyodide-backend.js';
import { createProcessBackend, type PythonBackend, type PythonBackendOptions } from './process/process-backend.js';

/** Python sandbox backends by name, as `--python-backend` accepts them. */
export const PYTHON_BACKEND_NAMES = ['pyodide', 'process'] as const;
/** Pyodide needs nothing outside npm, so it is the default; `process` (CPython) is one flag away. */
export const DEFAULT_PYTHON_BACKEND = 'pyodide';

/** A Python backend name, as `--python-backend` accepts it. */
export type PythonBackendName = (typeof PYTHON_BACKEND_NAMES)[number];

/** Python sandbox backends by name; every name the configuration accepts has one. */
export const PYTHON_BACKENDS: Readonly<Record<PythonBackendName, (options: PythonBackendOptions) => Promise<PythonBackend>>> = {
  pyodide: createPyodideBackend,
  process: createProcessBackend,
};

/** Start the Python backend called `name`. */
export function createPythonBackend(name: PythonBackendName, options: PythonBackendOptions = {}): Promise<PythonBackend> {
  return PYTHON_BACKENDS[name](options);
}
