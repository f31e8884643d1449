/// <reference path="./webassembly.d.ts" />
/**
 * The messages between the server's thread and a QuickJS worker thread. Plain data only: no
 * QuickJS handle, no host object ever crosses (structured clone).
 */

/** What a worker needs to host episodes, given once as `workerData`. */
export interface WorkerConfig {
  /** The QuickJS release-sync wasm, compiled once by the server and shared by every worker. */
  wasmModule: WebAssembly.Module;
  /** The guest prelude (console, process, timers, plain formatting), evaluated in every new context. */
  preludeSource: string;
  /** Node's formatter (guest-inspect.js), evaluated in a context of its own on an episode's first use. */
  formatterSource: string;
  /** The build's memory layout: each episode's memory starts at `initialPages`; the heap at `heapBase`. */
  layout: { initialPages: number; heapBase: number };
  /** The episode memory budget's shared cells (see memory-budget.ts). */
  budgetCells: Int32Array;
  /** Cap of each episode's WebAssembly.Memory (its `maximum`), in bytes. */
  memoryLimitBytes: number;
  /** QuickJS's own heap accounting, a second cap below the memory's. */
  runtimeMemoryLimitBytes: number;
  /** QuickJS's stack guard, in bytes. */
  maxStackSizeBytes: number;
  /** Cap of each of stdout and stderr per step, in UTF-8 bytes. */
  maxOutputBytes: number;
}

/** Server → worker. */
export type HostMessage =
  | { type: 'open'; request: number; episode: number }
  | { type: 'run'; request: number; episode: number; code: string; timeoutMs: number }
  | { type: 'close'; episode: number };

/** What one step produced, as the worker reports it (the host adds the wall time). */
export interface StepReport {
  stdout: string;
  stderr: string;
  exitCode: number;
  result: string | null;
  truncated: boolean;
  /** The episode's context was destroyed (out of memory, a trap): the worker has already dropped it. */
  stateLost: boolean;
}

/** Worker → server: `ready` once loaded, one reply per `open` and per `run`, and `image-failed` if its image stops fitting. */
export type WorkerMessage =
  | {
      type: 'ready';
      /** The image the worker's episodes start from, or why it could not be made (they are then set up from scratch). */
      image: { byteLength: number; reseeds: boolean } | { failure: string };
    }
  | { type: 'image-failed'; /** Why the worker dropped its image: its episodes are set up from scratch from now on. */ failure: string }
  | { type: 'opened'; request: number }
  | { type: 'open-failed'; request: number; message: string; /** The episode memory budget refused it: retry later. */ budget: boolean }
  | { type: 'ran'; request: number; report: StepReport };
