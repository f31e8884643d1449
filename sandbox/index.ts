export { DEFAULT_LIMITS } from './limits.js';
export type { SandboxLimits } from './limits.js';
export { DEFAULT_POOL_CONCURRENCY, POOL_RETRY_MAX_MS, POOL_RETRY_MIN_MS, WarmPool } from './pool.js';
export type { WarmPoolOptions } from './pool.js';
export {
  createProcessBackend,
  DEFAULT_PYTHON_PATH,
  IsolationUnavailableError,
  RUNNER_PATH,
} from './process/process-backend.js';
export type { PythonBackend, PythonBackendOptions } from './process/process-backend.js';
export { DEFAULT_INTERRUPT_GRACE_MS, ProcessSandbox } from './process/process-sandbox.js';
export { INTERRUPT_GRACE_CEILING_MS } from './process/interrupt-grace.js';
export { probeIsolation } from './process/isolation-probe.js';
export { MIN_PYTHON_VERSION, probePython, PYTHON_PROBE_TIMEOUT_MS } from './process/python-probe.js';
export type { PythonProbe } from './process/python-probe.js';
export { SANDBOX_UID_BASE, SANDBOX_UID_COUNT, UidPool } from './process/uid-pool.js';
export type { UidPoolOptions } from './process/uid-pool.js';
export type { IsolationProbe } from './process/isolation-probe.js';
export {
  createLanguageBackends,
  createPythonBackend,
  DEFAULT_PYTHON_BACKEND,
  FORCED_BACKEND_REASON,
  LANGUAGE_BACKENDS,
  PYTHON_BACKEND_CHOICES,
  PYTHON_BACKEND_NAMES,
  PYTHON_BACKENDS,
  SANDBOX_LANGUAGES,
} from './registry.js';
export type { ChosenPythonBackend, LanguageBackendOptions, PythonBackendChoice, PythonBackendName, PythonLanguageOptions, SandboxLanguage } from './registry.js';
export { DEFAULT_MAX_OUTPUT_BYTES, EXIT_ERROR, EXIT_KILLED, EXIT_OK, EXIT_TIMEOUT } from './sandbox.js';
export type { BackendHealth, EpisodeMemoryReport, ExecResult, Isolation, RunOptions, Sandbox, SandboxBackend, SandboxFactory } from './sandbox.js';
export { createPyodideBackend, PYODIDE_VERSION } from './pyodide/pyodide-backend.js';
export type { PyodideBackend } from './pyodide/pyodide-backend.js';
export {
  createQuickJsBackend,
  DEFAULT_JS_EPISODES_PER_WORKER,
  DEFAULT_JS_GRACE_MS,
  DEFAULT_JS_MAX_STACK_SIZE_BYTES,
  DEFAULT_JS_MEMORY_LIMIT_BYTES,
  DEFAULT_JS_WORKER_STACK_MB,
  EPISODE_MINIMUM_BYTES,
  MEMORY_BUDGET_RETRY_AFTER_S,
  MIN_EPISODE_MEMORY_BUDGET_BYTES,
} from './quickjs/quickjs-backend.js';
export { defaultEpisodeMemoryBudget, memoryLimit, SERVER_RESERVE_MIN_BYTES, SERVER_RESERVE_SHARE } from './quickjs/memory-budget.js';
export type { MemoryLimitSource } from './quickjs/memory-budget.js';
export type { JavaScriptBackend, JavaScriptBackendOptions } from './quickjs/quickjs-backend.js';
export { createSandbox, createSandboxBackend, DEFAULT_RUN_TIMEOUT_MS } from './create-sandbox.js';
export type { CreateSandboxOptions, StandaloneSandbox } from './create-sandbox.js';
