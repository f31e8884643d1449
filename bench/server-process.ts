import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { BenchError } from './bench-error.js';
import { Deadline } from './deadline.js';

/** How long the server may take to print its URL. @default 15 s */
export const DEFAULT_SERVER_START_TIMEOUT_MS = 15_000;
/** How long `close()` waits after SIGTERM before sending SIGKILL. @default 8 s (the server's own grace is 5 s) */
export const SERVER_STOP_GRACE_MS = 8_000;
/** How much of the server's stderr is kept to explain a failed start. @default 4 KiB */
const STDERR_KEPT_BYTES = 4096;

/** The line `envbox serve` prints once it listens: `envbox 0.1.0: serving echo_env on http://127.0.0.1:41234 (...)`. */
const READY_LINE = /serving (\S+) on (https?:\/\/\S+)/;

/** Options of {@link ServerProcess.start}. */
export interface ServerProcessOptions {
  /** Path of the compiled CLI, `dist/cli.js`. */
  cliPath: string;
  /** Working directory of the child: the package root. */
  cwd: string;
  /** Environment to serve, e.g. `echo_env`. */
  env: string;
  /** `--max-sessions` of the server. */
  maxSessions: number;
  /** More arguments of `envbox serve`, e.g. `['--pool-size', '16']`. @default none */
  extraArgs?: readonly string[];
  /** `--log-level` of the server; its log lines (stderr) are forwarded to ours. */
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Give up waiting for the URL after this long. @default {@link DEFAULT_SERVER_START_TIMEOUT_MS} */
  startTimeoutMs?: number;
  /** Abort the start. */
  signal?: AbortSignal;
}

type Child = ChildProcessByStdio<null, Readable, Readable>;

/**
 * `envbox serve` in a child process, so the server and the clients measuring it do not share an
 * event loop. Always `close()` it (or `await using` it): SIGTERM, then SIGKILL after
 * {@link SERVER_STOP_GRACE_MS}.
 */
export class ServerProcess {
  /** Base URL the server listens on, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Process id of the child. */
  readonly pid: number;
  readonly #child: Child;
  #closing: Promise<void> | undefined;

  private constructor(child: Child, url: string) {
    this.#child = child;
    this.url = url;
    this.pid = child.pid ?? -1;
  }

  /**
   * Spawn `node <cliPath> serve --env <env> --port 0 ... <extraArgs>` and wait for the line with its URL.
   * @throws {BenchError} when the child exits, fails to spawn, or prints no URL in time (it is killed)
   */
  static async start(options: ServerProcessOptions): Promise<ServerProcess> {
    const timeoutMs = options.startTimeoutMs ?? DEFAULT_SERVER_START_TIMEOUT_MS;
    const args = [
      options.cliPath,
      'serve',
      '--env',
      options.env,
      '--port',
      '0',
      '--log-level',
      options.logLevel,
      '--max-sessions',
      String(options.maxSessions),
      ...(options.extraArgs ?? []),
    ];
    const child = spawn(process.execPath, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderrTail = '';
    // Whole lines, so the prefix never lands in the middle of one split across chunks.
    createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (line) => {
      stderrTail = `${stderrTail}${line}\n`.slice(-STDERR_KEPT_BYTES);
      process.stderr.write(`[server] ${line}\n`);
    });
    const describe = (): string => (stderrTail.trim() === '' ? '' : `; its stderr ends with:\n${stderrTail.trim()}`);

    const deadline = new Deadline(timeoutMs, options.signal);
    const { signal } = deadline;
    const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const onAbort = (): void => {
          const timedOut = deadline.timedOut;
          reject(
            new BenchError(
              timedOut
                ? `The server (${options.cliPath}) printed no "serving ... on <url>" line within ${timeoutMs} ms${describe()}`
                : 'Starting the server was aborted.',
            ),
          );
        };
        signal.addEventListener('abort', onAbort, { once: true });
        lines.on('line', (line) => {
          const match = READY_LINE.exec(line);
          if (match !== null) resolve(match[2]!);
        });
        child.once('error', (error) => reject(new BenchError(`Cannot spawn the server (${process.execPath} ${options.cliPath}): ${error.message}`, { cause: error })));
        child.once('exit', (code, exitSignal) =>
          reject(new BenchError(`The server exited before listening (code ${code ?? 'none'}, signal ${exitSignal ?? 'none'})${describe()}`)),
        );
      });
      // Keep draining stdout so a chatty server never blocks on a full pipe.
      child.stdout.resume();
      return new ServerProcess(child, url);
    } catch (error) {
      await stop(child);
      throw error;
    } finally {
      deadline.close();
      lines.close();
    }
  }

  /** Whether the child is still running. */
  get alive(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Stop the server: SIGTERM, then SIGKILL after {@link SERVER_STOP_GRACE_MS}. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= stop(this.#child);
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

async function stop(child: Child): Promise<void> {
  // No pid: the spawn itself failed, so there is nothing to stop (and no 'exit' will come).
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const controller = new AbortController();
  const exited = once(child, 'exit', { signal: controller.signal }).catch(() => undefined);
  const killing = setTimeout(() => child.kill('SIGKILL'), SERVER_STOP_GRACE_MS);
  try {
    child.kill('SIGTERM');
    await exited;
  } finally {
    clearTimeout(killing);
    controller.abort();
  }
}
