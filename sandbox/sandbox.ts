/** Exit code of a step that finished normally. */
export const EXIT_OK = 0;
/** Exit code of an uncaught exception or a syntax error. */
export const EXIT_ERROR = 1;
/** Exit code of a step interrupted at its deadline; the sandbox and its state are kept. */
export const EXIT_TIMEOUT = 124;
/** Exit code of a step whose sandbox had to be destroyed (hard timeout, crash, kill); state lost. */
export const EXIT_KILLED = 137;

/** Cap of each of stdout and stderr per step, when a backend is given none. @default 1 MiB */
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;

/** What one step of code produced. Guest failures are results, never thrown errors. */
export interface ExecResult {
  /** What the code printed to stdout (capped; partial lines included). */
  stdout: string;
  /** What went to stderr: warnings, tracebacks, notes of the sandbox itself. */
  stderr: string;
  /** 0 ok, 1 error, n for `sys.exit(n)`, 124 timeout (state kept), 137 killed (state lost). */
  exitCode: number;
  /** `repr` of a trailing expression (REPL style), or null. */
  result: string | null;
  /** Wall time of the step in milliseconds, as the host saw it. */
  durationMs: number;
  /** Whether stdout or stderr was cut at the output cap. */
  truncated: boolean;
  /** Whether the sandbox was destroyed: its variables are gone and the next step needs a fresh one. */
  stateLost: boolean;
}

/** Options of one {@link Sandbox.run}. */
export interface RunOptions {
  /** Interrupt the step after this many milliseconds (exit 124), kill it after a short grace (137). */
  timeoutMs: number;
  /** Aborting kills the sandbox (exit 137). */
  signal?: AbortSignal;
  /**
   * Python: run this step with the builtins as they were before any step ran (a fresh copy), so
   * names an earlier step rebound in `builtins` (`len`, `abs`, `isinstance`...) mean what they
   * should; the judge's test steps use it. Other languages ignore it.
   */
  pristineBuiltins?: boolean;
}

/** An isolated interpreter holding one episode's state. */
export interface Sandbox {
  /** Run one step of code in the sandbox's persistent state. Never throws for guest failures. */
  run(code: string, options: RunOptions): Promise<ExecResult>;
  /** False once the sandbox died or was closed; a dead sandbox answers every run with 137. */
  readonly alive: boolean;
  /** Kill the sandbox and free what it holds. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts sandboxes of one backend, all with the same limits. */
export interface SandboxFactory {
  /** Backend name, e.g. `process`. */
  readonly backend: string;
  /**
   * Which isolation the sandboxes get: `namespaces` (bubblewrap) or `process` (rlimits and uid
   * only) for a process per episode; `wasm` for a WebAssembly instance per episode in a worker thread.
   */
  readonly isolation: Isolation | 'wasm';
  /** Start one sandbox, ready to run code. */
  create(options?: { signal?: AbortSignal }): Promise<Sandbox>;
  /** How many sandboxes a pool may usefully start at once (a pool's default when it names none). */
  readonly startConcurrency?: number;
}

/** The episode memory budget of a backend and its use. */
export interface EpisodeMemoryReport {
  /** What its episodes may hold together. */
  readonly budgetBytes: number;
  /** What they are charged now. */
  readonly usedBytes: number;
  /** New episodes refused because the budget could not give them their minimum. */
  readonly refusedEpisodes: number;
  /** Steps of which a memory growth was refused (an out-of-memory error inside the guest). */
  readonly refusedGrowths: number;
}

/** Facts a backend reports about itself for a server's health report: JSON values by snake_case name. */
export type BackendHealth = Readonly<Record<string, string | number | boolean | null>>;

/**
 * A started backend: a {@link SandboxFactory} that reports its health and owns what it started.
 * Closing it refuses further starts (`SandboxUnavailableError`, 503 `SANDBOX_UNAVAILABLE`) and
 * closes the sandboxes it started that are still alive; idempotent.
 */
export interface SandboxBackend extends SandboxFactory {
  /** What `/health` shows of this backend, e.g. `{ isolation: 'namespaces', python_backend: 'process' }`. */
  health(): BackendHealth;
  /**
   * The memory budget of a backend whose episodes live in the server's own process (JavaScript),
   * for `/metrics`; absent where each episode is a process the kernel can kill on its own.
   */
  readonly memoryBudget?: EpisodeMemoryReport;
  /** Refuse further starts and close every live sandbox of this backend. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The isolation a sandbox gets: its own namespaces (bubblewrap), or a plain process. */
export type Isolation = 'namespaces' | 'process';
