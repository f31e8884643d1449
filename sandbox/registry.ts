import { createPyodideBackend } from './pyodide/pyodide-backend.js';
import { createProcessBackend, DEFAULT_PYTHON_PATH, RUNNER_PATH, type PythonBackend, type PythonBackendOptions } from './process/process-backend.js';
import { probePython } from './process/python-probe.js';
import { createQuickJsBackend, type JavaScriptBackendOptions } from './quickjs/quickjs-backend.js';
import type { BackendHealth, SandboxBackend } from './sandbox.js';

/** Python sandbox backends by name. */
export const PYTHON_BACKEND_NAMES = ['pyodide', 'process'] as const;

/** A Python backend name. */
export type PythonBackendName = (typeof PYTHON_BACKEND_NAMES)[number];

/** What `--python-backend` accepts: `auto` (chosen at start, see {@link createPythonBackend}) or a backend forced by name. */
export const PYTHON_BACKEND_CHOICES = ['auto', ...PYTHON_BACKEND_NAMES] as const;

/** A Python backend choice, as `--python-backend` accepts it. */
export type PythonBackendChoice = (typeof PYTHON_BACKEND_CHOICES)[number];

/**
 * `auto`: whoever runs `envbox serve --env coding_env` on an ordinary Linux machine gets the process
 * backend (native speed, ~11 MB and ~20 ms per episode) without knowing it exists, and Pyodide
 * (nothing outside npm) where the host's python3 cannot serve.
 */
export const DEFAULT_PYTHON_BACKEND: PythonBackendChoice = 'auto';

/** Why a backend forced by name was chosen, as `/health` says it. */
export const FORCED_BACKEND_REASON = 'forced by --python-backend (or ENVBOX_PYTHON_BACKEND)';

/** Python sandbox backends by name; every name the configuration accepts has one. */
export const PYTHON_BACKENDS: Readonly<Record<PythonBackendName, (options: PythonBackendOptions) => Promise<PythonBackend>>> = {
  pyodide: createPyodideBackend,
  process: createProcessBackend,
};

/**
 * A started Python backend and how it was chosen. Its `health()` adds, right after
 * `python_backend`, `python_backend_requested` (the choice) and `python_backend_reason`.
 */
export interface ChosenPythonBackend extends PythonBackend {
  /** What was asked for: `auto` or a backend by name. */
  readonly requestedBackend: PythonBackendChoice;
  /** Why this backend serves: the probe's findings for `auto`, {@link FORCED_BACKEND_REASON} otherwise. */
  readonly choiceReason: string;
}

/**
 * Start the Python backend `choice` names; for `auto` (the default), choose once, at start:
 * - `process` when the interpreter (`options.pythonPath`, `/usr/bin/python3` by default) can run
 *   the step runner (one start of it: Python 3.8+, the runner's modules, the runner compiles) and
 *   its sandboxes get namespaces;
 * - `pyodide` when the interpreter cannot (missing, broken, too old), or when there are no
 *   namespaces: without them a CPython guest reads whatever its uid can read on the host, while
 *   Node's permission model still keeps a Pyodide guest from host files. Forcing `process` keeps
 *   CPython there.
 * @param backends the starters by name (a test's fakes)
 * @throws {IsolationUnavailableError} when `requireIsolation` and there are no namespaces
 */
export async function createPythonBackend(
  choice: PythonBackendChoice,
  options: PythonBackendOptions = {},
  backends: Readonly<Record<PythonBackendName, (options: PythonBackendOptions) => Promise<PythonBackend>>> = PYTHON_BACKENDS,
): Promise<ChosenPythonBackend> {
  if (choice !== 'auto') return withChoice(await backends[choice](options), choice, FORCED_BACKEND_REASON);
  const pythonPath = options.pythonPath ?? DEFAULT_PYTHON_PATH;
  const python = await probePython(pythonPath, RUNNER_PATH);
  if (!python.usable) {
    const reason = `${pythonPath} cannot run the step runner (${python.reason}); install Python 3.8 or newer there for the faster process backend`;
    return withChoice(await backends.pyodide(options), 'auto', reason);
  }
  const processBackend = await backends.process(options);
  if (processBackend.isolation === 'namespaces') {
    return withChoice(processBackend, 'auto', `${pythonPath} is Python ${python.version} and its sandboxes get namespaces`);
  }
  await processBackend.close();
  const reason =
    `${pythonPath} is Python ${python.version}, but sandboxes get no namespaces here (${processBackend.isolationReason ?? 'no reason given'}), ` +
    'and without them only Pyodide keeps the guest from host files; install bubblewrap and allow user namespaces for the process backend, ' +
    'or force it with --python-backend process';
  return withChoice(await backends.pyodide(options), 'auto', reason);
}

/** `backend`, which this module just started and owns, with how it was chosen in its facts and health. */
function withChoice(backend: PythonBackend, requestedBackend: PythonBackendChoice, choiceReason: string): ChosenPythonBackend {
  const health = backend.health.bind(backend);
  return Object.assign(backend, {
    requestedBackend,
    choiceReason,
    health: (): BackendHealth => {
      const facts = Object.entries(health());
      // Beside python_backend, so that a reader of /health sees the choice and its reason together.
      const at = facts.findIndex(([key]) => key === 'python_backend') + 1;
      facts.splice(at === 0 ? facts.length : at, 0, ['python_backend_requested', requestedBackend], ['python_backend_reason', choiceReason]);
      return Object.fromEntries(facts);
    },
  });
}

/** Options of the Python language: which backend, and its options. */
export interface PythonLanguageOptions extends PythonBackendOptions {
  /** @default {@link DEFAULT_PYTHON_BACKEND} */
  backend?: PythonBackendChoice;
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
