import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LIMITS, type SandboxLimits } from '../limits.js';
import type { GuestProgram } from '../process/command.js';
import { probeIsolation } from '../process/isolation-probe.js';
import { processSandboxBackend, RUNNER_IN_SANDBOX, RUNNER_PATH, type PythonBackend, type PythonBackendOptions } from '../process/process-backend.js';
import { DEFAULT_INTERRUPT_GRACE_MS, type ProcessSandboxOptions } from '../process/process-sandbox.js';

/**
 * How long an interrupted Pyodide step may take to stop before its process is killed: twice the
 * CPython grace, since the interrupt goes signal → the guest's main thread → a shared buffer the
 * wasm interpreter polls. Like every grace it counts the guest's own time, not its waits for a CPU
 * (either thread can be starved for seconds on a loaded host: a CI run beside two image builds
 * missed 500 ms of wall time, a loaded `make test` 1000 ms). @default 1000 ms
 */
export const PYODIDE_INTERRUPT_GRACE_MS = 2 * DEFAULT_INTERRUPT_GRACE_MS;
import { SANDBOX_UID_BASE, UidPool } from '../process/uid-pool.js';
import { DEFAULT_MAX_OUTPUT_BYTES } from '../sandbox.js';
import { buildSnapshot, type SnapshotOutcome } from './snapshot.js';

/** The Pyodide package (its `pyodide.mjs`, wasm and standard library). */
export const PYODIDE_DIR = dirname(createRequire(import.meta.url).resolve('pyodide/package.json'));
/** The guest program each Pyodide sandbox runs, beside the compiled modules. */
export const GUEST_PATH = fileURLToPath(new URL('./guest.mjs', import.meta.url));
/** The Pyodide version bundled (from its package.json). */
export const PYODIDE_VERSION = (createRequire(import.meta.url)('pyodide/package.json') as { version: string }).version;
/** Old-generation limit of the JavaScript heap of the worker hosting Python. @default 256 MiB */
export const WORKER_HEAP_MB = 256;
/**
 * Memory a guest may hold beyond its WebAssembly heap (Node, V8 heaps, compiled code), enforced
 * with RLIMIT_DATA: it bounds what code that escaped to JavaScript can allocate. @default 1 GiB
 */
export const GUEST_OVERHEAD_BYTES = 1024 * 1024 * 1024;
/**
 * CPU seconds a Pyodide guest may spend starting (loading the memory snapshot, or booting Python
 * without one, ~1.5 s and ~4 s of CPU here), on top of the episode's `cpuSeconds`: once it is ready
 * the server lowers its RLIMIT_CPU to what it used plus `cpuSeconds` (Node cannot set its own), so
 * the budget is the episode's alone whatever the machine's speed. Only envbox's own code runs within
 * the allowance (no step is sent before the limit is lowered); it bounds a start-up gone wrong, as
 * the start timeout does. @default 60 s
 */
export const PYODIDE_START_CPU_ALLOWANCE_S = 60;
/** The WebAssembly heap cap when `addressSpaceBytes` is unset. @default 2 GiB (wasm32's own limit is 4 GiB) */
const UNCAPPED_HEAP_BYTES = 2 * 1024 * 1024 * 1024;

const NODE_IN_SANDBOX = '/envbox/node';
const PYODIDE_IN_SANDBOX = '/envbox/pyodide';
const GUEST_IN_SANDBOX = '/envbox/guest.mjs';

/** A Pyodide backend: the factory, plus how its sandboxes start. */
export interface PyodideBackend extends PythonBackend {
  /** Whether sandboxes start from a memory snapshot (~0.3 s) or load Pyodide afresh (~2.5 s). */
  readonly snapshot: SnapshotOutcome;
}

/**
 * The `pyodide` backend: CPython compiled to WebAssembly, one Node process per episode. Pyodide is
 * not a boundary (Python reaches the JavaScript realm of its host), so each guest Node runs under the
 * permission model, prlimit, its own uid and, where the host allows, its own namespaces: code that
 * escapes to JavaScript still cannot read host files, start programs or reach the network.
 * Builds a memory snapshot once at start; sandboxes load it instead of booting Python.
 * @throws {IsolationUnavailableError} when `requireIsolation` and there are no namespaces
 */
export async function createPyodideBackend(options: PythonBackendOptions = {}): Promise<PyodideBackend> {
  const root = process.getuid?.() === 0;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const probe = await probeIsolation({ argv: (at) => [at(process.execPath), '-e', ''], readOnly: mounts() }, root ? SANDBOX_UID_BASE : undefined, options.requireIsolation);
  const uids = root ? new UidPool() : undefined;
  const common = {
    isolation: probe.isolation,
    procMount: probe.procMount,
    tmpBytes: limits.tmpBytes,
    maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    interruptGraceMs: options.interruptGraceMs ?? PYODIDE_INTERRUPT_GRACE_MS,
    uids,
    label: 'Pyodide sandbox',
  } satisfies Partial<ProcessSandboxOptions>;
  const snapshot = await buildSnapshot({ ...common, guest: pyodideGuest(limits, 'snapshot', false) });
  const sandboxOptions: ProcessSandboxOptions = {
    ...common,
    guest: pyodideGuest(limits, 'serve', snapshot.bytes !== undefined),
    preamble: snapshot.bytes,
    cpuBudget: limits.cpuSeconds === null ? undefined : { budgetS: limits.cpuSeconds, startLimitS: startCpuLimitS(limits.cpuSeconds, 'serve') },
  };
  return processSandboxBackend(
    {
      backend: 'pyodide',
      isolation: probe.isolation,
      isolationReason: probe.reason,
      // There are no processes in WebAssembly to allow.
      allowSubprocess: false,
      snapshot,
    },
    sandboxOptions,
  );
}

/** What a Pyodide guest reads from the host, and where it sees it. */
function mounts(script = GUEST_PATH): GuestProgram['readOnly'] {
  return [
    { host: process.execPath, sandbox: NODE_IN_SANDBOX },
    { host: PYODIDE_DIR, sandbox: PYODIDE_IN_SANDBOX },
    { host: script, sandbox: GUEST_IN_SANDBOX },
    { host: RUNNER_PATH, sandbox: RUNNER_IN_SANDBOX },
  ];
}

/** The permission-model flag of this Node: `--permission` (22.13+) or `--experimental-permission` (20). */
function permissionFlag(): string {
  return process.allowedNodeEnvironmentFlags.has('--permission') ? '--permission' : '--experimental-permission';
}

/**
 * RLIMIT_CPU a guest starts with: the start-up allowance, plus the episode's budget when it serves
 * steps (lowered to what start-up used plus the budget once it is ready).
 */
function startCpuLimitS(cpuSeconds: number, mode: 'serve' | 'snapshot'): number {
  return PYODIDE_START_CPU_ALLOWANCE_S + (mode === 'serve' ? cpuSeconds : 0);
}

/**
 * The guest Node's command line: permission model, no code from strings, rlimits by prlimit (a
 * serving guest's RLIMIT_CPU includes {@link PYODIDE_START_CPU_ALLOWANCE_S}: its sandbox must be
 * started with `cpuBudget` to lower it once ready).
 * @param script the guest program; tests put hostile JavaScript here to check the walls hold when
 *   code gets out of Python
 */
export function pyodideGuest(limits: SandboxLimits, mode: 'serve' | 'snapshot', snapshot: boolean, script = GUEST_PATH): GuestProgram {
  const heapBytes = limits.addressSpaceBytes ?? UNCAPPED_HEAP_BYTES;
  const rlimits = [
    // Not RLIMIT_AS: V8 reserves ~20 GB of address space for a wasm heap's guard regions. RLIMIT_DATA
    // counts only memory that is actually writable.
    `--data=${heapBytes + GUEST_OVERHEAD_BYTES}`,
    ...(limits.fileSizeBytes === null ? [] : [`--fsize=${limits.fileSizeBytes}`]),
    ...(limits.openFiles === null ? [] : [`--nofile=${limits.openFiles}`]),
    // Node's threads count here too (about a dozen).
    ...(limits.processes === null ? [] : [`--nproc=${limits.processes}`]),
    ...(limits.cpuSeconds === null ? [] : [`--cpu=${startCpuLimitS(limits.cpuSeconds, mode)}`]),
  ];
  return {
    readOnly: mounts(script),
    rlimits,
    argv: (at) => [
      at(process.execPath),
      permissionFlag(),
      `--allow-fs-read=${at(PYODIDE_DIR)}/`,
      `--allow-fs-read=${at(script)}`,
      `--allow-fs-read=${at(RUNNER_PATH)}`,
      '--allow-worker',
      '--disallow-code-generation-from-strings',
      '--max-old-space-size=64',
      '--no-warnings',
      at(script),
      JSON.stringify({
        mode,
        pyodideDir: at(PYODIDE_DIR),
        runnerPath: at(RUNNER_PATH),
        snapshot,
        heapBytes,
        workerHeapMb: WORKER_HEAP_MB,
        runner: { wasm: true, allow_subprocess: false },
      }),
    ],
  };
}
