import { fileURLToPath } from 'node:url';
import { DEFAULT_LIMITS, type SandboxLimits } from '../limits.js';
import { LiveSandboxes } from '../live-sandboxes.js';
import { DEFAULT_MAX_OUTPUT_BYTES, type BackendHealth, type Isolation, type SandboxBackend } from '../sandbox.js';
import { IsolationUnavailableError, probeIsolation } from './isolation-probe.js';
import { startMemoryGuard, type MemoryGuard } from './memory-guard.js';
import { DEFAULT_INTERRUPT_GRACE_MS, ProcessSandbox, type ProcessSandboxOptions } from './process-sandbox.js';
import { SANDBOX_UID_BASE, UidPool } from './uid-pool.js';

export { IsolationUnavailableError };

/** The interpreter sandboxes run: the system's, by absolute path (no shims, no PATH lookups). */
export const DEFAULT_PYTHON_PATH = '/usr/bin/python3';
/** The shared Python step runner, beside the compiled modules. */
export const RUNNER_PATH = fileURLToPath(new URL('../python/runner.py', import.meta.url));

/** Where the runner is mounted inside the namespaces. */
export const RUNNER_IN_SANDBOX = '/envbox/runner.py';

/** Options of the Python sandbox backends. */
export interface PythonBackendOptions {
  pythonPath?: string;
  limits?: Partial<SandboxLimits>;
  /** Per step and stream. @default 1 MiB */
  maxOutputBytes?: number;
  /** How long an interrupted step may take to stop before the sandbox is killed. @default 500 ms */
  interruptGraceMs?: number;
  /** Let guest code start processes; honoured only where namespaces contain them. @default false */
  allowSubprocess?: boolean;
  /** Refuse to start without namespaces. @default false */
  requireIsolation?: boolean;
}

/**
 * A Python {@link SandboxBackend} plus what the probe found, for `/health` and the logs. Its
 * `health()` is `{ isolation, python_backend, allow_subprocess }`.
 */
export interface PythonBackend extends SandboxBackend {
  /** A process per episode, with or without namespaces. */
  readonly isolation: Isolation;
  /** Why namespaces are unavailable, when they are. */
  readonly isolationReason: string | undefined;
  /** Whether guest code may start processes (asked for, and contained by namespaces). */
  readonly allowSubprocess: boolean;
}

/**
 * The `process` backend: a CPython child per episode. Probes once which isolation the host allows.
 * @throws {IsolationUnavailableError} when `requireIsolation` and there are no namespaces
 */
export async function createProcessBackend(options: PythonBackendOptions = {}): Promise<PythonBackend> {
  const pythonPath = options.pythonPath ?? DEFAULT_PYTHON_PATH;
  const root = process.getuid?.() === 0;
  const probe = await probeIsolation({ argv: () => [pythonPath, '-c', 'pass'], readOnly: [] }, root ? SANDBOX_UID_BASE : undefined, options.requireIsolation);
  const isolation: Isolation = probe.isolation;
  const allowSubprocess = options.allowSubprocess === true && isolation === 'namespaces';
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const runnerConfig = {
    limits: {
      address_space_bytes: limits.addressSpaceBytes,
      file_size_bytes: limits.fileSizeBytes,
      open_files: limits.openFiles,
      processes: limits.processes,
      cpu_seconds: limits.cpuSeconds,
    },
    allow_subprocess: allowSubprocess,
  };
  const sandboxOptions: ProcessSandboxOptions = {
    guest: {
      argv: (at) => [pythonPath, '-I', '-B', at(RUNNER_PATH), JSON.stringify(runnerConfig)],
      // Copied, not bound: a bind would show the server's install directory in /proc/self/mountinfo.
      readOnly: [{ host: RUNNER_PATH, sandbox: RUNNER_IN_SANDBOX, copy: true }],
    },
    isolation,
    procMount: probe.procMount,
    tmpBytes: limits.tmpBytes,
    maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    interruptGraceMs: options.interruptGraceMs ?? DEFAULT_INTERRUPT_GRACE_MS,
    uids: root ? new UidPool() : undefined,
    label: 'Python sandbox',
  };
  return processSandboxBackend({ backend: 'process', isolation, isolationReason: probe.reason, allowSubprocess }, sandboxOptions, {
    // Guests write files only under namespaces, to tmpfs mounts the OOM killer cannot attribute.
    memoryGuard: isolation === 'namespaces',
  });
}

/**
 * A Python backend whose sandboxes are processes started with `sandboxOptions`: it keeps the live
 * ones, so that its close() closes them, and reports `facts` as its health.
 */
export function processSandboxBackend<Facts extends Pick<PythonBackend, 'backend' | 'isolation' | 'isolationReason' | 'allowSubprocess'>>(
  facts: Facts,
  sandboxOptions: ProcessSandboxOptions,
  { memoryGuard = false }: { /** Watch the appliance's memory and kill the episode holding the most in its tmpfs when it runs low (memory-guard.ts). */ memoryGuard?: boolean } = {},
): Facts & PythonBackend {
  const live = new LiveSandboxes<ProcessSandbox>(sandboxOptions.label ?? 'sandbox');
  const guard: MemoryGuard | undefined = memoryGuard ? startMemoryGuard({ sandboxes: () => live.values() }) : undefined;
  const close = (): Promise<void> => {
    guard?.stop();
    return live.close();
  };
  return {
    ...facts,
    create: ({ signal } = {}) => live.start(() => ProcessSandbox.start(sandboxOptions, signal)),
    health: (): BackendHealth => ({
      isolation: facts.isolation,
      python_backend: facts.backend,
      allow_subprocess: facts.allowSubprocess,
      ...(guard === undefined ? {} : { memory_guard_kills: guard.kills }),
    }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
