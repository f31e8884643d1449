import type { SandboxLimits } from './limits.js';
import { createLanguageBackends, type LanguageBackendOptions, type PythonBackendChoice, type SandboxLanguage } from './registry.js';
import type { ExecResult, RunOptions, Sandbox, SandboxBackend } from './sandbox.js';

/** A step's deadline when `run` is given none. @default 30 s */
export const DEFAULT_RUN_TIMEOUT_MS = 30_000;

/** Options of {@link createSandboxBackend} and {@link createSandbox}: a language and its limits. */
export interface CreateSandboxOptions {
  language: SandboxLanguage;
  /**
   * Python: the process limits of each sandbox ({@link SandboxLimits}: memory, files, processes,
   * CPU seconds, tmpfs size). JavaScript: `memoryLimitBytes` caps each episode's heap.
   */
  limits?: Partial<SandboxLimits> & { memoryLimitBytes?: number };
  /** Python's backend: `auto` (CPython in namespaces where it can, else Pyodide), `process` or `pyodide`. @default 'auto' */
  pythonBackend?: PythonBackendChoice;
  /** Refuse to start Python sandboxes without namespaces. @default false */
  requireIsolation?: boolean;
  /** Each step's deadline when `run` names none. @default {@link DEFAULT_RUN_TIMEOUT_MS} */
  timeoutMs?: number;
}

/** A sandbox of its own backend, for an environment's code: `run` takes an optional deadline, `close` stops both. */
export interface StandaloneSandbox extends Sandbox {
  /** Run code in the sandbox's persistent state; the deadline defaults to the sandbox's `timeoutMs`. */
  run(code: string, options?: Partial<RunOptions>): Promise<ExecResult>;
  /** The backend that started it (its `health()` says which isolation it got). */
  readonly backend: SandboxBackend;
}

/**
 * Start the sandbox backend of one language: a factory of sandboxes that share its start-up (the
 * Python template, the QuickJS workers). An environment that runs untrusted code makes one per
 * definition, puts a `WarmPool` in front of it, takes a sandbox per episode and closes the backend
 * in its definition's `close`.
 * @example
 * const backend = await createSandboxBackend({ language: 'python', limits: { addressSpaceBytes: 256 * 1024 * 1024 } });
 * const pool = new WarmPool(backend, { size: 4 });
 * const sandbox = await pool.acquire();
 * @throws {IsolationUnavailableError} when `requireIsolation` and there are no namespaces
 */
export async function createSandboxBackend(options: CreateSandboxOptions): Promise<SandboxBackend> {
  const { memoryLimitBytes, ...limits } = options.limits ?? {};
  const backends: LanguageBackendOptions =
    options.language === 'python'
      ? { python: { limits, ...(options.pythonBackend === undefined ? {} : { backend: options.pythonBackend }), ...(options.requireIsolation === undefined ? {} : { requireIsolation: options.requireIsolation }) } }
      : { javascript: memoryLimitBytes === undefined ? {} : { memoryLimitBytes } };
  const started = await createLanguageBackends([options.language], backends);
  return started[options.language];
}

/**
 * One sandbox of `language`, with its own backend: for a script or a test, or an environment with
 * few sessions. (Many sessions: {@link createSandboxBackend} and a `WarmPool`.) Python runs in a
 * CPython process in its own namespaces (or Pyodide), JavaScript in a QuickJS context; guest
 * failures are results (exit codes 1, 124, 137), never thrown.
 * @example
 * await using sandbox = await createSandbox({ language: 'python', limits: { cpuSeconds: 10 } });
 * const { stdout, exitCode } = await sandbox.run('print(6 * 7)'); // '42\n', 0
 */
export async function createSandbox(options: CreateSandboxOptions): Promise<StandaloneSandbox> {
  const backend = await createSandboxBackend(options);
  let sandbox: Sandbox;
  try {
    sandbox = await backend.create();
  } catch (error) {
    await backend.close();
    throw error;
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS;
  const close = async (): Promise<void> => {
    await sandbox.close();
    await backend.close();
  };
  return {
    backend,
    get alive() {
      return sandbox.alive;
    },
    run: (code, runOptions = {}) => sandbox.run(code, { ...runOptions, timeoutMs: runOptions.timeoutMs ?? timeoutMs }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
