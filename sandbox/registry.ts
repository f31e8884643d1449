import { createPyodideBackend } from './pyodide/pyodide-backend.js';
import { createProcessBackend, type PythonBackend, type PythonBackendOptions } from './process/process-backend.js';
import { createQuickJsBackend, type JavaScriptBackendOptions } from './quickjs/quickjs-backend.js';
import type { SandboxBackend } from './sandbox.js';

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

/** Options of the Python language: which backend, and its options. */
export interface PythonLanguageOptions extends PythonBackendOptions {
  /** @default {@link DEFAULT_PYTHON_BACKEND} */
  backend?: PythonBackendName;
}

/**
 * The languages sandboxes run code in, in the order a server reports them (the first one's health
 * facts sit at the top of coding_env's `/health`, where they were before there was a second).
 */
export const SANDBOX_LANGUAGES = ['python', 'javascript'] as const;

/** A language some sandbox backend runs. */
export type SandboxLanguage = (typeof SANDBOX_LANGUAGES)[number];

/** Each language's backend options, by language. */
export interface LanguageBackendOptions {
  python?: PythonLanguageOptions;
  javascript?: JavaScriptBackendOptions;
}

/**
 * How each language's backend starts: the one table to extend with a new language (its backend, its
 * options in {@link LanguageBackendOptions}, its name in {@link SANDBOX_LANGUAGES}).
 */
export const LANGUAGE_BACKENDS: { readonly [L in SandboxLanguage]: (options: NonNullable<LanguageBackendOptions[L]>) => Promise<SandboxBackend> } = {
  python: ({ backend = DEFAULT_PYTHON_BACKEND, ...options }) => createPythonBackend(backend, options),
  javascript: createQuickJsBackend,
};

/**
 * Start the backends of `languages`, one at a time in that order, each with its options; when one
 * fails to start, those already started are closed (in reverse order) before its error is thrown.
 * @throws whatever the failing backend threw (e.g. `IsolationUnavailableError`)
 */
export async function createLanguageBackends<L extends SandboxLanguage>(
  languages: readonly L[],
  options: LanguageBackendOptions = {},
): Promise<Record<L, SandboxBackend>> {
  const started: [L, SandboxBackend][] = [];
  try {
    for (const language of languages) {
      const start = LANGUAGE_BACKENDS[language] as (options: NonNullable<LanguageBackendOptions[L]>) => Promise<SandboxBackend>;
      started.push([language, await start(options[language] ?? {})]);
    }
  } catch (error) {
    for (const [, backend] of started.reverse()) await backend.close().catch(() => undefined);
    throw error;
  }
  return Object.fromEntries(started) as Record<L, SandboxBackend>;
}
