import { EXIT_KILLED, type ExecResult, type RunOptions, type Sandbox } from '../sandbox.js';
import { lostReport } from './lost-report.js';
import type { QuickJsWorker } from './quickjs-worker.js';

/**
 * One JavaScript episode: a QuickJS context living in a worker thread shared with a few other
 * episodes. Closing it frees the context; the worker stays for its other episodes.
 */
export class QuickJsSandbox implements Sandbox {
  readonly #worker: QuickJsWorker;
  readonly #episode: number;
  readonly #onClose: () => void;
  #closed = false;
  /** Set once a step reported the context destroyed. */
  #lost = false;

  /** @param onClose called once the episode is closed (the backend may stop an emptied worker) */
  constructor(worker: QuickJsWorker, episode: number, onClose: () => void) {
    this.#worker = worker;
    this.#episode = episode;
    this.#onClose = onClose;
  }

  /** False once closed, once its context was destroyed, or once its worker is gone. */
  get alive(): boolean {
    return !this.#closed && !this.#lost && this.#worker.alive;
  }

  async run(code: string, options: RunOptions): Promise<ExecResult> {
    const started = performance.now();
    if (this.#closed) return toResult(lostReport('the sandbox was closed'), started);
    if (options.signal?.aborted) {
      await this.close();
      return toResult(lostReport('the step was cancelled'), started);
    }
    const running = this.#worker.run(this.#episode, code, options.timeoutMs);
    let report;
    if (options.signal === undefined) {
      report = await running;
    } else {
      // Cancelling cannot stop QuickJS mid-step without taking the worker's other episodes along:
      // the episode is closed now and its step ends at its own deadline, unseen.
      const signal = options.signal;
      let onAbort: (() => void) | undefined;
      const aborted = new Promise<'aborted'>((resolve) => {
        onAbort = () => resolve('aborted');
        signal.addEventListener('abort', onAbort, { once: true });
      });
      const settled = await Promise.race([running, aborted]);
      signal.removeEventListener('abort', onAbort!);
      if (settled === 'aborted') {
        await this.close();
        return toResult(lostReport('the step was cancelled'), started);
      }
      report = settled;
    }
    if (report.stateLost) this.#lost = true;
    return toResult(report, started);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#worker.close(this.#episode);
    this.#onClose();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function toResult(report: { stdout: string; stderr: string; exitCode: number; result: string | null; truncated: boolean; stateLost: boolean }, started: number): ExecResult {
  return {
    stdout: report.stdout,
    stderr: report.stderr,
    exitCode: report.stateLost ? EXIT_KILLED : report.exitCode,
    result: report.result,
    durationMs: performance.now() - started,
    truncated: report.truncated,
    stateLost: report.stateLost,
  };
}
