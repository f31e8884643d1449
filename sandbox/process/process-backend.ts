import { fileURLToPath } from 'node:url';
import { DEFAULT_LIMITS, type SandboxLimits } from '../limits.js';
import { LiveSandboxes } from '../live-sandboxes.js';
import { DEFAULT_MAX_OUTPUT_BYTES, type BackendHealth, type Isolation, type SandboxBackend } from '../sandbox.js';
import { RUNNER_IN_SANDBOX } from './command.js';
import { IsolationUnavailableError, probeIsolation } from './isolation-probe.js';
import { startMemoryGuard, type MemoryGuard } from './memory-guard.js';
import { DEFAULT_INTERRUPT_GRACE_MS, ProcessSandbox, SANDBOX_START_TIMEOUT_MS, type ProcessSandboxOptions } from './process-sandbox.js';
import { SandboxTemplate, type TemplateOptions } from './template.js';
import { SANDBOX_UID_BASE, UidPool } from './uid-pool.js';

export { IsolationUnavailableError };

/** The interpreter sandboxes run: the system's, by absolute path (no shims, no PATH lookups). */
export const DEFAULT_PYTHON_PATH = '/usr/bin/python3';
/** The shared Python step runner, beside the compiled modules. */
export const RUNNER_PATH = fileURLToPath(new URL('../python/runner.py', import.meta.url));

export { RUNNER_IN_SANDBOX };

/** Options of the Python sandbox backends. */
export interface PythonBackendOptions {
  pythonPath?: string;
  limits?: Partial<SandboxLimits>;
  /** Per step and stream. @default 1 MiB */
  maxOutputBytes?: number;
  /**
   * How long an interrupted step may take to stop before the sandbox is killed, in the guest's own
   * time (its waits for a CPU on a loaded machine do not count; at most `INTERRUPT_GRACE_CEILING_MS`
   * of wall time). @default 500 ms (Pyodide: 1000 ms)
   */
  interruptGraceMs?: number;
  /** Let guest code start processes; honoured only where namespaces contain them. @default false */
  allowSubprocess?: boolean;
  /** Refuse to start without namespaces. @default false */
  requireIsolation?: boolean;
  /**
   * How sandboxes start under namespaces: forked from a template CPython (`template`, see
   * template.ts) or each a bubblewrap and a CPython of its own (`cold`). Without namespaces they
   * always start cold. @default 'template'
   */
  spawn?: SpawnMode;
}

/** Sandboxes a pool may fork from a template at once. @default 8 */
export const TEMPLATE_START_CONCURRENCY = 8;

/** How a process backend starts its sandboxes. */
export type SpawnMode = 'template' | 'cold';

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
  /** The template sandboxes are forked from, if they are. */
  readonly template?: SandboxTemplate | undefined;
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
  const { template, reason: spawnReason } = await startTemplate(isolation, options.spawn ?? 'template', sandboxOptions, {
    pythonPath,
    runnerPath: RUNNER_PATH,
    runnerConfig,
    procMount: probe.procMount,
    tmpBytes: limits.tmpBytes,
  });
  return processSandboxBackend({ backend: 'process', isolation, isolationReason: probe.reason, allowSubprocess }, sandboxOptions, {
    // Guests write files only under namespaces, to tmpfs mounts the OOM killer cannot attribute.
    memoryGuard: isolation === 'namespaces',
    template,
    spawnReason,
  });
}

/**
 * The template sandboxes fork from, when namespaces and `spawn` allow one and a first sandbox
 * forked from it runs; otherwise none, and why (sandboxes then start cold).
 */
async function startTemplate(
  isolation: Isolation,
  spawn: SpawnMode,
  sandboxOptions: ProcessSandboxOptions,
  templateOptions: TemplateOptions,
): Promise<{ template: SandboxTemplate | undefined; reason: string }> {
  if (spawn === 'cold') return { template: undefined, reason: 'asked for (spawn: cold)' };
  if (isolation !== 'namespaces') return { template: undefined, reason: 'without namespaces every sandbox is a process of its own' };
  let template: SandboxTemplate | undefined;
  try {
    template = await SandboxTemplate.start(templateOptions);
    // The probe: one sandbox forked, built and stepped, exactly as every episode's will be.
    const probe = await ProcessSandbox.fork(template, sandboxOptions);
    try {
      const result = await probe.run('1', { timeoutMs: SANDBOX_START_TIMEOUT_MS });
      if (result.exitCode !== 0 || result.result !== '1') throw new Error(`its probe step answered ${result.exitCode}: ${result.stderr.trim()}`);
    } finally {
      await probe.close();
    }
    return { template, reason: 'forked from a template CPython' };
  } catch (error) {
    await template?.close();
    return { template: undefined, reason: `the template could not fork a working sandbox here (${(error as Error).message}); each sandbox starts cold` };
  }
}

/**
 * A Python backend whose sandboxes are processes started with `sandboxOptions`: it keeps the live
 * ones, so that its close() closes them, and reports `facts` as its health.
 */
export function processSandboxBackend<Facts extends Pick<PythonBackend, 'backend' | 'isolation' | 'isolationReason' | 'allowSubprocess'>>(
  facts: Facts,
  sandboxOptions: ProcessSandboxOptions,
  {
    memoryGuard = false,
    template,
    spawnReason,
  }: {
    /** Watch the appliance's memory and kill the episode holding the most in its tmpfs when it runs low (memory-guard.ts). */
    memoryGuard?: boolean;
    /** Fork sandboxes from this template instead of starting each cold. */
    template?: SandboxTemplate | undefined;
    /** Why sandboxes start as they do, for `/health`. */
    spawnReason?: string | undefined;
  } = {},
): Facts & PythonBackend {
  const live = new LiveSandboxes<ProcessSandbox>(sandboxOptions.label ?? 'sandbox');
  const guard: MemoryGuard | undefined = memoryGuard ? startMemoryGuard({ sandboxes: () => live.values() }) : undefined;
  const close = async (): Promise<void> => {
    guard?.stop();
    await live.close();
    await template?.close();
  };
  return {
    ...facts,
    template,
    // A fork waits mostly on the kernel and the template, not on this process's CPU: more at once keep both cores busy.
    ...(template === undefined ? {} : { startConcurrency: TEMPLATE_START_CONCURRENCY }),
    create: ({ signal } = {}) =>
      live.start(() => (template === undefined ? ProcessSandbox.start(sandboxOptions, signal) : ProcessSandbox.fork(template, sandboxOptions, signal))),
    health: (): BackendHealth => ({
      isolation: facts.isolation,
      python_backend: facts.backend,
      allow_subprocess: facts.allowSubprocess,
      ...(guard === undefined ? {} : { memory_guard_kills: guard.kills }),
      ...(spawnReason === undefined
        ? {}
        : {
            spawn: template === undefined ? 'cold' : 'template',
            spawn_reason: spawnReason,
            ...(template === undefined
              ? {}
              : {
                  template_pid: template.pid,
                  template_forks: template.stats.forks,
                  template_fork_failures: template.stats.failures,
                  template_restarts: template.stats.restarts,
                }),
          }),
    }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
